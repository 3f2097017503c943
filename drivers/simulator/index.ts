/**
 * The in-process simulator hypervisor that backs the embedded demo zone. It behaves like a
 * real host where the engine can observe it (power states, capacity, snapshots, migration,
 * a serial console with a shell) and keeps its state in a SimulatorWorld.
 *
 * Host URL: simulator://NAME?cpus=8&mhz=2000&memory=16384 (memory in MiB). latency=MS makes the
 * host take that long over define, start, stop, reboot and destroy, as a real host does, so that
 * crash tests can catch a VM half-way through an operation.
 *
 * On the driver contract as the real drivers are: an endpoint per simulated host (reporting that
 * host), the domain name as the VM's ref, power events with their initiator on start, stop,
 * destroy and migration (both ends), two-phase migration, and a TLS-style certificate thumbprint
 * per host so trust on first use and a changed certificate (rekey) behave as on vSphere.
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Duplex, Readable } from 'node:stream';
import {
  DriverError,
  type ConnectionForm,
  type ConnectionInput,
  type ConsoleFacet,
  type DefineResult,
  type DriverCapabilities,
  type DriverDefaults,
  type Endpoint,
  type EndpointHost,
  type EventInitiator,
  type ExternalImportFacet,
  type ExternalImportSource,
  type GpuFacet,
  type HostConnectionSpec,
  type HostEvent,
  type HostInventory,
  type HostSession,
  type IsolationFencingFacet,
  type HypervisorDriver,
  type ImportFacet,
  type InstanceInfo,
  type MigrationFacet,
  type OperationOptions,
  type OperationResult,
  type PrimaryStorageFacet,
  type TaskOutcome,
  type PowerState,
  type SnapshotFacet,
  type StorageFacet,
  type TrustAnchor,
  type SnapshotInfo,
  type StopOptions,
  type StagedImageName,
  type StoredImage,
  type VmSpec,
  type VolumeFacet,
} from '../types.js';
import { hostKeptSnapshots } from '../common/host-kept-snapshots.js';
import { simulatorVolumes } from './volumes.js';
import { SimulatorWorld, type SimDomain, type SimForeign, type SimHost, type SimTask, type WorldChange } from './world.js';

const CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  storageMotion: true,
  crossClusterMigration: false,
  memorySnapshots: true,
  diskSnapshotsWhileRunning: true,
  quiesceSnapshots: true,
  migrateWithSnapshots: true,
  liveScaleCpu: true,
  liveScaleMemory: true,
  serialConsole: true,
  vnc: false,
  gpu: true,
  // CloudStack's default for its simulator.
  maxGuestsLimit: 50,
};

const CONNECTION_FORM: ConnectionForm = {
  urlExample: 'simulator://sim-1',
  urlRule: 'a simulated host is simulator://NAME[?cpus=N&mhz=MHZ&memory=MIB]',
  credentials: [[]],
  adds: 'host',
  trust: 'tls-certificate',
};

/** Where a simulated domain moves (the ticket's destination). */
interface MigrationTarget {
  session: HostSession;
}

function simulatorName(url: URL): string {
  return url.hostname || url.pathname.replace(/^\/+/, '');
}

/** The host operations a test can make fail (failNext). */
export type SimFaultOp = 'define' | 'start' | 'stop' | 'migrate' | 'scale' | 'snapshot' | 'destroy' | 'deleteDisks' | 'volume' | 'removeImage';

interface SimFault {
  op: SimFaultOp;
  host?: string;
  message: string;
  category: DriverError['category'];
  remaining: number;
  /** Fail after the operation was done on the host (its answer lost), not before. */
  after: boolean;
  /** 'migrate' with storage motion: fail after this many disks moved (KVM's pivots part-way), reporting them. */
  afterDisks?: number;
}

export class SimulatorDriver implements HypervisorDriver {
  readonly hypervisor = 'Simulator' as const;
  readonly capabilities = CAPABILITIES;
  readonly defaults: DriverDefaults = { diskFormat: 'qcow2', diskBus: 'virtio', nicAdapter: 'virtio' };
  readonly connectionForm = CONNECTION_FORM;
  /** Per host: how many times its certificate was replaced (rekey), which its thumbprint derives from. */
  private readonly certificates = new Map<string, number>();
  readonly world: SimulatorWorld;
  private readonly sessions = new Map<string, SimulatorSession>();
  private faults: SimFault[] = [];
  /** Test hook (hangList): per host name, what listing its VMs waits for, as on a host that hangs. */
  readonly listGates = new Map<string, Promise<void>>();
  /** Test hook: how long a snapshot takes (0: at once). */
  snapshotDelayMs = 0;
  /**
   * Test hook: with a value, sessions have the isolationFencing facet, and an armed host cut off
   * by setHostIsolated powers off its HA domains after this many ms, as KVM's watchdog does.
   */
  isolationFenceMs: number | undefined;
  /** Hosts whose isolation watchdog is armed (by the engine, through the facet). */
  readonly isolationArmed = new Set<string>();

  constructor(options: { stateFile?: string; world?: SimulatorWorld } = {}) {
    this.world = options.world ?? new SimulatorWorld(options.stateFile);
  }

  /**
   * Test hook (fault injection): the next TIMES (default 1) OP calls on HOST (any host when
   * omitted) fail with a DriverError, as a host that refuses would; the failure comes before the
   * operation changes anything on the host, or with `after` (stop, migrate, destroy), once it is done: the
   * host did it but the answer was lost. With `afterDisks` (migrate with storage motion), the
   * first that many disks move and stay moved, and the error carries them (details.moved).
   */
  failNext(op: SimFaultOp, options: { host?: string; message?: string; category?: DriverError['category']; times?: number; after?: boolean; afterDisks?: number } = {}): void {
    this.faults.push({ op, host: options.host, message: options.message ?? `injected ${op} failure`, category: options.category ?? 'failed', remaining: options.times ?? 1, after: options.after ?? false, afterDisks: options.afterDisks });
  }

  /**
   * Test hook: a VM made on HOSTNAME outside Kiln (for listUnmanagedInstances and import), with
   * what its guest tools report. Its disks exist on the shared storage from then on.
   */
  addUnmanagedVm(hostName: string, spec: VmSpec, options: SimForeign & { power?: PowerState } = {}): void {
    const host = this.world.find(hostName);
    if (!host) throw new DriverError(`no simulated host ${hostName}`, 'not-found');
    const { power = 'Stopped', ...foreign } = options;
    host.domains[spec.internalName] = { spec: structuredClone(spec), power, snapshots: [], boots: 0, foreign };
    for (const disk of spec.disks) this.world.disks[disk.name] ??= '';
    this.world.save();
  }

  /**
   * Test hook: a host Kiln does not manage, for listVmsForImport and importVm importsource=external
   * (reached as ssh://NAME, logging in with PASSWORD); put VMs on it with addUnmanagedVm.
   */
  addExternalHost(name: string, password: string): void {
    const host = this.world.host(name, { cpuNumber: 8, cpuSpeedMhz: 2000, memoryMiB: 16384, gpus: [] });
    host.externalPassword = password;
    this.world.save();
  }

  /** Hosts Kiln does not manage (addExternalHost): listed and copied from, never changed. */
  readonly externalImport: ExternalImportFacet = { open: (spec) => this.openExternal(spec) };

  private async openExternal(spec: HostConnectionSpec): Promise<ExternalImportSource> {
    let name: string;
    try {
      name = new URL(spec.url).hostname;
    } catch {
      throw new DriverError(`not a host URL: ${spec.url}`, 'invalid');
    }
    const host = this.world.find(name);
    if (host?.externalPassword === undefined) throw new DriverError(`connect ECONNREFUSED ${name}:22 (no simulated host Kiln does not manage is named ${name})`, 'unreachable');
    const trust = this.thumbprint(name);
    if (spec.pinnedTrust && spec.pinnedTrust.fingerprint !== trust.fingerprint) {
      throw new DriverError(`the host key of ${name} has changed: expected ${spec.pinnedTrust.fingerprint}, the host presented ${trust.fingerprint}`, 'host-key-changed', { presented: trust });
    }
    if (spec.password !== host.externalPassword) throw new DriverError(`${name}: All configured authentication methods failed`, 'unreachable');
    const session = new SimulatorSession(spec.hostId, host, this);
    return {
      trust,
      list: () => session.listInstances(),
      exportDisk: async (vm, diskId, copyName) => {
        const domain = host.domains[vm];
        if (!domain) throw new DriverError(`Domain not found: no domain with matching name '${vm}'`, 'not-found');
        if (domain.power !== 'Stopped') throw new DriverError(`VM ${vm} is ${domain.power}; shut it off so its disks do not change while they are copied`, 'invalid');
        if (!domain.spec.disks.some((d) => d.name === diskId)) throw new DriverError(`VM ${vm} has no disk ${diskId}`, 'not-found');
        // The copy's bytes stand for the disk's content: where it came from, so a test can tell copies apart.
        const bytes = Buffer.from(`${name}/${vm}/${diskId}\n${this.world.disks[diskId] ?? ''}`);
        return { name: copyName, format: 'qcow2', sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), open: () => Readable.from([bytes]), remove: async () => undefined };
      },
      close: async () => undefined,
    };
  }

  /** Drops every fault not yet triggered. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Throws the first pending fault for OP on HOST (at that point of the operation), consuming one use of it. */
  checkFault(op: SimFaultOp, host: string, after = false, moved?: { name: string; pool: string }[]): void {
    const fault = this.faults.find((f) => f.op === op && f.after === after && f.afterDisks === moved?.length && (f.host === undefined || f.host === host));
    if (!fault) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    throw new DriverError(`${fault.message} (simulated host ${host})`, fault.category, moved ? { moved: [...moved] } : {});
  }

  validateConnection(input: ConnectionInput): { url: string; name: string } {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new DriverError(`url: "${input.url}" is not a URL (e.g. ${CONNECTION_FORM.urlExample})`, 'invalid', { param: 'url' });
    }
    if (url.protocol !== 'simulator:' || !simulatorName(url)) throw new DriverError(`url: ${CONNECTION_FORM.urlRule}`, 'invalid', { param: 'url' });
    return { url: url.toString(), name: simulatorName(url) };
  }

  /** The simulated host's certificate thumbprint (SHA-256, vCenter's AB:CD:… form). */
  thumbprint(hostName: string): TrustAnchor {
    const hex = createHash('sha256').update(`kiln-simulator ${hostName} ${this.certificates.get(hostName) ?? 0}`).digest('hex').toUpperCase();
    return { kind: 'tls-certificate', fingerprint: hex.match(/../g)!.join(':') };
  }

  /** Test hook: the host presents a new certificate (as after a reinstall); pinned connections are refused until accepted. */
  rekey(hostName: string): TrustAnchor {
    this.certificates.set(hostName, (this.certificates.get(hostName) ?? 0) + 1);
    return this.thumbprint(hostName);
  }

  async probeTrust(url: string): Promise<TrustAnchor> {
    return this.thumbprint(this.validateConnection({ url }).name);
  }

  async connect(spec: HostConnectionSpec): Promise<SimulatorEndpoint> {
    const url = new URL(spec.url);
    if (url.protocol !== 'simulator:') throw new DriverError(`not a simulator URL: ${spec.url}`, 'invalid');
    const name = simulatorName(url);
    const trust = this.thumbprint(name);
    if (spec.pinnedTrust && (spec.pinnedTrust.kind !== trust.kind || spec.pinnedTrust.fingerprint !== trust.fingerprint)) {
      throw new DriverError(
        `The TLS certificate of ${name} has changed: expected SHA-256 thumbprint ${spec.pinnedTrust.fingerprint}, the host presented ${trust.fingerprint}. Connections are refused until an administrator accepts the new certificate.`,
        'host-key-changed',
        { presented: trust },
      );
    }
    const num = (key: string, fallback: number) => {
      const value = Number(url.searchParams.get(key) ?? fallback);
      return Number.isFinite(value) && value > 0 ? value : fallback;
    };
    const host = this.world.host(name, {
      cpuNumber: num('cpus', 8),
      cpuSpeedMhz: num('mhz', 2000),
      memoryMiB: num('memory', 16384),
      gpus: parseGpus(url.searchParams.get('gpus')),
    });
    if (!host.up) throw new DriverError(`simulated host ${name} is down`, 'unreachable');
    const session = new SimulatorSession(spec.hostId, host, this, num('latency', 0), trust, url.searchParams.get('tasks') === '1');
    session.localPools = (url.searchParams.get('localpools') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    this.sessions.set(name, session);
    return new SimulatorEndpoint(session);
  }

  /** Operations of this process running as tasks, by ref: a reattach in the same process waits for them. */
  readonly activeTasks = new Map<string, Promise<unknown>>();

  /**
   * Finishes a platform task by ref (Endpoint.reattachTask). One this process still runs is
   * waited for; one whose process died is finished by the "platform", as vCenter finishes a task
   * whatever happened to the client that asked for it.
   */
  async reattachTask(ref: string): Promise<TaskOutcome> {
    const task = this.world.tasks[ref];
    if (!task) throw new DriverError(`no task ${ref}`, 'not-found');
    const active = this.activeTasks.get(ref);
    if (active) await active.catch(() => undefined);
    else if (task.state === 'running') {
      const domain = this.world.find(task.host)?.domains[task.domain];
      if (!domain) Object.assign(task, { state: 'error', error: `domain ${task.domain} is gone` });
      else {
        domain.power = task.op === 'start' ? 'Running' : 'Stopped';
        if (task.op === 'start') domain.boots += 1;
        task.state = 'success';
        this.emitPower(task.host, task.domain, domain.power, task.op === 'start' ? 'started' : 'shutdown', 'user');
      }
      this.world.save();
    }
    return task.state === 'success' ? { state: 'success', result: task.domain } : { state: 'error', error: task.error ?? 'failed' };
  }

  /** The power events a host reports for a change it made (the session of that host, if connected). */
  emitPower(hostName: string, domain: string, state: PowerState, reason: string, initiator: EventInitiator): void {
    this.sessions.get(hostName)?.emit({ kind: 'power', vmRef: domain, name: domain, hostRef: hostName, state, reason, initiator });
  }

  /** Test hook: listing HOST's VMs hangs (connected, but no answer) until the returned function is called. */
  hangList(hostName: string): () => void {
    let release!: () => void;
    this.listGates.set(hostName, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.listGates.delete(hostName);
      release();
    };
  }

  /** Test hooks: the things that happen to real hosts without the engine asking. */
  crash(hostName: string, domain: string): void {
    this.setPower(hostName, domain, 'Stopped', 'crashed');
  }

  guestShutdown(hostName: string, domain: string): void {
    this.setPower(hostName, domain, 'Stopped', 'shutdown');
  }

  /**
   * Test hook: the platform itself moves a running domain (as vMotion by DRS or xapi HA would),
   * reported as vCenter's and xapi's drivers report one: a 'migrated' power event by the platform
   * on the new host, and no Stopped from the old one (nothing for Kiln's HA to answer).
   */
  platformMigrate(domain: string, fromHost: string, toHost: string): void {
    const from = this.world.find(fromHost);
    const to = this.world.find(toHost);
    const dom = from?.domains[domain];
    if (!from || !to || !dom) throw new DriverError(`no domain ${domain} on ${fromHost}, or no host ${toHost}`, 'not-found');
    to.domains[domain] = dom;
    delete from.domains[domain];
    this.world.save();
    this.emitPower(toHost, domain, dom.power, 'migrated', 'platform');
  }

  setHostUp(hostName: string, up: boolean): void {
    const host = this.world.find(hostName);
    if (!host) throw new DriverError(`no simulated host ${hostName}`, 'not-found');
    host.up = up;
    if (!up) for (const domain of Object.values(host.domains)) domain.power = 'Stopped';
    this.world.save();
    this.sessions.get(hostName)?.emit({ kind: 'connection', state: up ? 'up' : 'down' });
  }

  /**
   * Test hook: cut the host off its network (or give it back). Unlike setHostUp(false) (a power
   * loss) its domains keep running; an armed host fences its HA domains after isolationFenceMs.
   */
  setHostIsolated(hostName: string, isolated: boolean): void {
    const host = this.world.find(hostName);
    if (!host) throw new DriverError(`no simulated host ${hostName}`, 'not-found');
    host.up = !isolated;
    this.world.save();
    this.sessions.get(hostName)?.emit({ kind: 'connection', state: isolated ? 'down' : 'up' });
    const after = this.isolationFenceMs;
    if (!isolated || after === undefined || !this.isolationArmed.has(hostName)) return;
    setTimeout(() => {
      if (host.up) return;
      // Cut off, it tells no one: no power event reaches Kiln.
      for (const domain of Object.values(host.domains)) if (domain.spec.highAvailability && domain.power === 'Running') domain.power = 'Stopped';
      this.world.save();
    }, after).unref();
  }

  private setPower(hostName: string, domain: string, power: PowerState, reason: string): void {
    const dom = this.world.find(hostName)?.domains[domain];
    if (!dom) throw new DriverError(`no domain ${domain} on ${hostName}`, 'not-found');
    dom.power = power;
    this.world.save();
    this.emitPower(hostName, domain, power, reason, 'guest');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseGpus(value: string | null): SimHost['gpus'] {
  // gpus=GROUP:TYPE:CAPACITY;GROUP:TYPE:CAPACITY
  if (!value) return [];
  return value.split(';').filter(Boolean).map((entry) => {
    const [group = '', vgpuType = 'passthrough', capacity = '1'] = entry.split(':');
    return { group, vgpuType, maxCapacity: Number(capacity) || 1 };
  });
}

/** A simulated host's endpoint: the one host, and its event stream. */
export class SimulatorEndpoint implements Endpoint {
  constructor(readonly session: SimulatorSession) {}

  get trust(): TrustAnchor {
    return this.session.trust;
  }

  async hosts(): Promise<EndpointHost[]> {
    return [{ ref: this.session.ref, name: this.session.ref, connected: this.session.connected }];
  }

  host(ref: string): SimulatorSession {
    if (ref !== this.session.ref) throw new DriverError(`host ${ref} is not behind the simulator endpoint ${this.session.ref}`, 'not-found');
    return this.session;
  }

  onEvent(listener: (event: HostEvent) => void): () => void {
    return this.session.onEvent(listener);
  }

  reattachTask(ref: string): Promise<TaskOutcome> {
    return this.session.driver.reattachTask(ref);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

export class SimulatorSession implements HostSession {
  readonly capabilities = CAPABILITIES;
  /** This host's own pools beside the shared sim-primary (host URL localpools=A,B), for storage-tag tests. */
  localPools: string[] = [];
  private readonly events = new EventEmitter();
  /** Open serial consoles per domain: a reboot prints the guest's boot output on them, as a real guest does. */
  private readonly consoles = new Map<string, Set<Duplex>>();

  constructor(
    readonly hostId: string,
    private readonly host: SimHost,
    readonly driver: SimulatorDriver,
    /** How long the host takes over a lifecycle operation (host URL latency=MS). */
    private readonly latencyMs = 0,
    readonly trust: TrustAnchor = driver.thumbprint(host.name),
    /** Run start and stop as platform tasks (host URL tasks=1), as vSphere and xapi do. */
    private readonly tasks = false,
  ) {}

  /** Runs OP as a task when this host has tasks: registered (and reported by onTask) before any work, so a crash leaves it to reattach. */
  private async asTask(op: SimTask['op'], domain: string, options: OperationOptions | undefined, work: () => Promise<void>): Promise<OperationResult> {
    if (!this.tasks) return work();
    const ref = `task-${randomUUID()}`;
    const world = this.driver.world;
    world.tasks[ref] = { op, host: this.host.name, domain, state: 'running' };
    this.save(domain, [], ref);
    options?.onTask?.(ref);
    const run = work().then(
      () => {
        world.tasks[ref]!.state = 'success';
      },
      (error: unknown) => {
        Object.assign(world.tasks[ref]!, { state: 'error', error: error instanceof Error ? error.message : String(error) });
        throw error;
      },
    );
    this.driver.activeTasks.set(ref, run);
    try {
      await run;
    } finally {
      this.driver.activeTasks.delete(ref);
      this.save(domain, [], ref);
    }
    return { taskRef: ref };
  }

  get ref(): string {
    return this.host.name;
  }

  get connected(): boolean {
    return this.host.up;
  }

  /** Present when the test set SimulatorDriver.isolationFenceMs. */
  get isolationFencing(): IsolationFencingFacet | undefined {
    const timeoutMs = this.driver.isolationFenceMs;
    if (timeoutMs === undefined) return undefined;
    return {
      timeoutMs,
      arm: async () => {
        if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
        this.driver.isolationArmed.add(this.host.name);
      },
      disarm: async () => void this.driver.isolationArmed.delete(this.host.name),
    };
  }

  readonly storage: StorageFacet = { stageImage: (image) => this.stageImage(image), removeImage: (image) => this.removeImage(image) };

  get volumes(): VolumeFacet {
    return (this.volumeFacet ??= simulatorVolumes({ domain: (name) => this.domain(name), world: this.driver.world, fault: () => this.driver.checkFault('volume', this.host.name) }));
  }
  private volumeFacet: VolumeFacet | undefined;

  /** Like libvirt, the simulator keeps snapshot records with the host, so they must follow the VM (carry). */
  readonly snapshots: SnapshotFacet = hostKeptSnapshots(this);

  readonly console: ConsoleFacet = { serial: { open: (vm) => this.openConsole(vm) } };

  readonly gpu: GpuFacet = { list: async () => (await this.inventory()).gpus };

  readonly migration: MigrationFacet = {
    prepare: async () => {
      if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
      return { hostRef: this.ref, data: {}, destination: this };
    },
    perform: (request, ticket) => this.migrate(request.vm, { session: ticket.destination }, request.volumePools),
  };

  private power(name: string, state: PowerState, reason: string, initiator: EventInitiator = 'user'): void {
    this.emit({ kind: 'power', vmRef: name, name, hostRef: this.ref, state, reason, initiator });
  }

  private async busy(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
  }

  emit(event: HostEvent): void {
    this.events.emit('event', event);
  }

  private get up(): SimHost {
    if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
    return this.host;
  }

  private domain(name: string): SimDomain {
    const domain = this.up.domains[name];
    if (!domain) throw new DriverError(`Domain not found: no domain with matching name '${name}'`, 'not-found');
    return domain;
  }

  /**
   * Records a change: to domain NAME on this host and its disks (plus DISKS, e.g. those of a domain
   * just removed) and to the task REF, so the journal of a large world can record it; without a
   * name, the whole world is rewritten.
   */
  private save(name?: string, disks: string[] = [], task?: string): void {
    const world = this.driver.world;
    if (name === undefined) return world.save();
    const own = this.host.domains[name]?.spec.disks.map((d) => d.name) ?? [];
    world.save(['domain', this.host.name, name], ...[...own, ...disks].map((d): WorldChange => ['disk', d]), ...(task ? [['task', task] as WorldChange] : []));
  }

  async inventory(): Promise<HostInventory> {
    const host = this.up;
    const running = Object.values(host.domains).filter((d) => d.power === 'Running');
    const usedMiB = running.reduce((sum, d) => sum + d.spec.memoryMiB, 0);
    const gpus = host.gpus.map((gpu) => {
      const used = running.filter((d) => d.spec.gpu?.group === gpu.group && d.spec.gpu.vgpuType === gpu.vgpuType).length;
      return { ...gpu, remainingCapacity: Math.max(0, gpu.maxCapacity - used) };
    });
    return {
      hostname: host.name,
      hypervisorVersion: 'Kiln simulator 1',
      cpuSockets: 1,
      cpuNumber: host.cpuNumber,
      cpuSpeedMhz: host.cpuSpeedMhz,
      memoryTotalMiB: host.memoryMiB,
      memoryFreeMiB: host.memoryMiB - usedMiB,
      storagePools: (await this.primaryStorage.pools()).map((p) => ({ ref: p.ref, name: p.name, capacityBytes: p.capacityBytes, availableBytes: p.capacityBytes - p.usedBytes, shared: p.scope === 'CLUSTER' })),
      networks: [{ name: 'sim-bridge', bridge: 'simbr0' }],
      pciDevices: [],
      gpus,
    };
  }

  /** sim-primary is every simulated host's shared storage (the default); localpools are this host's own. */
  readonly primaryStorage: PrimaryStorageFacet = {
    pools: async () => {
      void this.up;
      return [
        { ref: 'sim-primary', name: 'sim-primary', type: 'NetworkFilesystem', scope: 'CLUSTER' as const, capacityBytes: 2 ** 40, usedBytes: 2 ** 39, isDefault: true },
        ...this.localPools.map((name) => ({ ref: name, name, type: 'Filesystem', scope: 'HOST' as const, capacityBytes: 2 ** 38, usedBytes: 2 ** 36 })),
      ];
    },
  };

  readonly import: ImportFacet = {
    list: () => this.listInstances(),
    inspect: async (vm) => {
      const found = (await this.listInstances()).find((i) => i.ref === vm);
      if (!found) throw new DriverError(`Domain not found: no domain with matching name '${vm}'`, 'not-found');
      return found;
    },
    // The simulator addresses a disk by its name on the shared storage, as Kiln's own disks.
    adopt: async (vm) => {
      const domain = this.domain(vm);
      return { ref: vm, disks: domain.spec.disks.filter((d) => d.device === 'disk').map((d) => ({ id: d.name, name: d.name, pool: d.pool })) };
    },
  };

  async listInstances(): Promise<InstanceInfo[]> {
    await this.driver.listGates.get(this.host.name);
    return Object.entries(this.up.domains).map(([name, d]) => ({
      ref: name,
      name,
      uuid: d.spec.uuid,
      powerState: d.power,
      cpuNumber: d.spec.cpuNumber,
      cpuCoresPerSocket: 1,
      cpuSpeedMhz: d.spec.cpuSpeedMhz,
      memoryMiB: d.spec.memoryMiB,
      osDisplayName: d.spec.details?.['osDisplayName'] ?? 'Other Linux (64-bit)',
      cpuReservationMhz: d.foreign?.cpuReservationMhz,
      toolsRunning: d.foreign ? d.foreign.guestIps !== undefined : undefined,
      isTemplate: d.foreign?.isTemplate,
      disks: d.spec.disks
        .filter((disk) => disk.device === 'disk')
        .map((disk, position) => ({
          id: disk.name, label: disk.name, capacityBytes: disk.sizeBytes, controller: disk.bus ?? 'virtio', controllerUnit: position, position, imagePath: disk.name,
          datastore: d.foreign?.foreignStorage?.includes(disk.name) ? 'foreign-nfs' : disk.pool ?? 'sim-primary',
        })),
      nics: d.spec.nics.map((nic, index) => ({
        id: `nic${index}`, macAddress: nic.macAddress, networkName: nic.network, vlanId: nic.vlan, adapterType: nic.adapterType ?? 'virtio',
        pciSlot: `0x${(3 + index).toString(16).padStart(2, '0')}`, ipAddresses: d.foreign?.guestIps?.[index],
      })),
    }));
  }

  async powerState(name: string): Promise<PowerState | 'Missing'> {
    return this.up.domains[name]?.power ?? 'Missing';
  }

  async define(spec: VmSpec): Promise<DefineResult> {
    await this.busy();
    this.driver.checkFault('define', this.host.name);
    const existing = this.up.domains[spec.internalName];
    if (existing && existing.power === 'Running') throw new DriverError(`domain ${spec.internalName} is running; stop it before redefining`, 'invalid');
    // A name is one VM: another VM (another uuid) under it is refused, as libvirt refuses it.
    if (spec.keepDefinition) {
      // An imported VM keeps its own definition; only vCPUs and memory follow Kiln's record.
      if (!existing) throw new DriverError(`Domain not found: the imported VM ${spec.internalName} is not defined on ${this.host.name}`, 'not-found');
      Object.assign(existing.spec, { cpuNumber: spec.cpuNumber, memoryMiB: spec.memoryMiB });
      this.save(spec.internalName);
      return { ref: spec.internalName };
    }
    if (existing && existing.spec.uuid !== spec.uuid) throw new DriverError(`domain '${spec.internalName}' already exists with uuid ${existing.spec.uuid}`, 'invalid');
    this.up.domains[spec.internalName] = { spec: structuredClone(spec), power: 'Stopped', snapshots: existing?.snapshots ?? [], boots: existing?.boots ?? 0 };
    // Disks that do not exist yet are created empty (a fresh clone of their backing image).
    for (const disk of spec.disks) this.driver.world.disks[disk.name] ??= '';
    this.save(spec.internalName);
    return { ref: spec.internalName };
  }

  start(name: string, options?: OperationOptions): Promise<OperationResult> {
    return this.asTask('start', name, options, () => this.startNow(name));
  }

  private async startNow(name: string): Promise<void> {
    await this.busy();
    this.driver.checkFault('start', this.host.name);
    const domain = this.domain(name);
    if (domain.power === 'Running') throw new DriverError(`Requested operation is not valid: domain is already running`, 'invalid');
    const inventory = await this.inventory();
    if (inventory.memoryFreeMiB < domain.spec.memoryMiB) {
      throw new DriverError(`not enough free memory on ${this.host.name}: needs ${domain.spec.memoryMiB} MiB, ${inventory.memoryFreeMiB} MiB free`, 'insufficient-capacity');
    }
    domain.power = 'Running';
    domain.boots += 1;
    this.save(name);
    this.power(name, 'Running', 'started');
  }

  stop(name: string, options?: StopOptions): Promise<OperationResult> {
    return this.asTask('stop', name, options, () => this.stopNow(name, options));
  }

  private async stopNow(name: string, options?: StopOptions): Promise<void> {
    await this.busy();
    this.driver.checkFault('stop', this.host.name);
    const domain = this.domain(name);
    const wasUp = domain.power !== 'Stopped';
    domain.power = 'Stopped';
    this.save(name);
    // As libvirt reports it: "Stopped Shutdown" after ACPI, "Stopped Destroyed" after a power-off.
    if (wasUp) this.power(name, 'Stopped', options?.forced ? 'destroyed' : 'shutdown');
    this.driver.checkFault('stop', this.host.name, true);
  }

  async reboot(name: string): Promise<void> {
    await this.busy();
    const domain = this.domain(name);
    if (domain.power !== 'Running') throw new DriverError('Requested operation is not valid: domain is not running', 'invalid');
    for (const console of this.consoles.get(name) ?? []) console.push(bootBanner(name));
  }

  async reset(name: string): Promise<void> {
    await this.reboot(name);
  }

  async destroy(name: string, options: { removeDisks?: string[] | 'all' } = {}): Promise<void> {
    await this.busy();
    this.driver.checkFault('destroy', this.host.name);
    const domain = this.domain(name);
    const remove = options.removeDisks === 'all' ? domain.spec.disks.map((d) => d.name) : options.removeDisks ?? [];
    for (const disk of remove) delete this.driver.world.disks[disk];
    delete this.up.domains[name];
    this.save(name, remove);
    // libvirt reports "Stopped Destroyed" when a running domain is destroyed before it is undefined.
    if (domain.power !== 'Stopped') this.power(name, 'Stopped', 'destroyed');
    this.driver.checkFault('destroy', this.host.name, true);
  }

  async deleteDisks(disks: string[]): Promise<void> {
    this.driver.checkFault('deleteDisks', this.host.name);
    if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
    for (const disk of disks) delete this.driver.world.disks[disk];
    this.driver.world.save(...disks.map((d): WorldChange => ['disk', d]));
  }

  /** Reads the whole image as a host would copy it, and keeps it (by name) on the shared storage. */
  async stageImage(image: StoredImage): Promise<void> {
    const known = this.driver.world.images[image.name];
    if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
    if (known?.sha256 === image.sha256) return;
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of image.open()) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== image.sha256 || bytes !== image.sizeBytes) throw new DriverError(`image ${image.name} arrived damaged (${bytes} bytes, SHA-256 ${sha256})`, 'failed');
    this.driver.world.images[image.name] = { sha256, sizeBytes: bytes, format: image.format };
    this.driver.world.save(['image', image.name]);
  }

  /** Drops a staged image from the shared storage (the simulator's hosts share one). */
  async removeImage(image: StagedImageName): Promise<boolean> {
    this.driver.checkFault('removeImage', this.host.name);
    if (!this.host.up) throw new DriverError(`simulated host ${this.host.name} is down`, 'unreachable');
    if (!this.driver.world.images[image.name]) return false;
    delete this.driver.world.images[image.name];
    this.save();
    return true;
  }

  async attachIso(name: string, isoPath: string): Promise<void> {
    this.domain(name).spec.isoPath = isoPath;
    this.save(name);
  }

  async detachIso(name: string): Promise<void> {
    delete this.domain(name).spec.isoPath;
    this.save(name);
  }

  async scale(name: string, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean): Promise<void> {
    this.driver.checkFault('scale', this.host.name);
    const domain = this.domain(name);
    if (live && domain.power === 'Running') {
      // A running VM grows only up to the maximum it was started with (libvirt's <vcpu>/<memory>).
      const maxCpu = Math.max(domain.spec.cpuNumber, domain.spec.maxCpuNumber ?? domain.spec.cpuNumber);
      const maxMemory = Math.max(domain.spec.memoryMiB, domain.spec.maxMemoryMiB ?? domain.spec.memoryMiB);
      if ((resources.cpuNumber ?? 0) > maxCpu) throw new DriverError(`cannot give running domain ${name} ${resources.cpuNumber} vCPUs: its maximum is ${maxCpu}; stop the VM to raise it`, 'invalid');
      if ((resources.memoryMiB ?? 0) > maxMemory) throw new DriverError(`cannot give running domain ${name} ${resources.memoryMiB} MiB: its maximum is ${maxMemory} MiB; stop the VM to raise it`, 'invalid');
    }
    if (resources.memoryMiB !== undefined && domain.power === 'Running') {
      const inventory = await this.inventory();
      const extra = resources.memoryMiB - domain.spec.memoryMiB;
      if (extra > inventory.memoryFreeMiB) throw new DriverError(`not enough free memory to scale ${name}`, 'insufficient-capacity');
    }
    if (resources.cpuNumber !== undefined) domain.spec.cpuNumber = resources.cpuNumber;
    if (resources.memoryMiB !== undefined) domain.spec.memoryMiB = resources.memoryMiB;
    this.save();
  }

  async migrate(name: string, target: MigrationTarget, volumePools: Record<string, string> = {}): Promise<void> {
    this.driver.checkFault('migrate', this.host.name);
    const domain = this.domain(name);
    if (!(target.session instanceof SimulatorSession)) throw new DriverError('the simulator migrates only to simulated hosts', 'unsupported');
    const destination = target.session.up;
    // Storage motion: each named disk to a pool the destination has (on the same host, only that).
    const moves = Object.entries(volumePools);
    const poolNames = new Set((await target.session.primaryStorage.pools()).map((p) => p.ref));
    for (const [disk, pool] of moves) {
      if (!domain.spec.disks.some((d) => d.name === disk)) throw new DriverError(`domain ${name} has no disk ${disk}`, 'not-found');
      if (!poolNames.has(pool)) throw new DriverError(`host ${destination.name} has no storage pool ${pool}`, 'invalid');
    }
    const moved: { name: string; pool: string }[] = [];
    for (const [disk, pool] of moves) {
      if (destination === this.host) {
        try {
          this.driver.checkFault('migrate', this.host.name, false, moved);
        } catch (error) {
          this.save(); // the disks moved so far stay moved
          throw error;
        }
      }
      domain.spec.disks.find((d) => d.name === disk)!.pool = pool;
      moved.push({ name: disk, pool });
    }
    if (destination === this.host) {
      if (moves.length === 0) throw new DriverError(`domain ${name} is already on host ${this.host.name}`, 'invalid');
      this.save();
      return;
    }
    const inventory = await target.session.inventory();
    if (domain.power === 'Running' && inventory.memoryFreeMiB < domain.spec.memoryMiB) {
      throw new DriverError(`not enough free memory on ${destination.name} for ${name}`, 'insufficient-capacity');
    }
    destination.domains[name] = domain;
    delete this.up.domains[name];
    // Two hosts' maps change: a whole rewrite records both.
    this.driver.world.save();
    // As libvirt: "Stopped Migrated" on the source and "Started Migrated" on the destination.
    if (domain.power === 'Running') {
      this.power(name, 'Stopped', 'migrated');
      (target.session as SimulatorSession).power(name, 'Running', 'migrated');
    }
    this.driver.checkFault('migrate', this.host.name, true);
  }

  async createSnapshot(name: string, snapshot: { name: string; description?: string; withMemory: boolean; timeoutMs?: number }): Promise<void> {
    this.driver.checkFault('snapshot', this.host.name);
    const domain = this.domain(name);
    if (domain.snapshots.some((s) => s.name === snapshot.name)) throw new DriverError(`snapshot ${snapshot.name} already exists`, 'invalid');
    const delay = this.driver.snapshotDelayMs;
    if (delay > 0) {
      // A slow storage backend, for the vmsnapshot.create.wait tests; the snapshot is abandoned on timeout.
      if (snapshot.timeoutMs !== undefined && snapshot.timeoutMs < delay) {
        await sleep(snapshot.timeoutMs);
        throw new DriverError(`snapshot ${snapshot.name} of ${name} did not finish within ${snapshot.timeoutMs} ms`, 'timeout');
      }
      await sleep(delay);
    }
    const parent = domain.snapshots.find((s) => s.current);
    for (const s of domain.snapshots) s.current = false;
    const withMemory = snapshot.withMemory && domain.power === 'Running';
    domain.snapshots.push({
      ref: snapshot.name,
      name: snapshot.name,
      description: snapshot.description,
      parent: parent?.name,
      current: true,
      withMemory,
      createdAt: new Date().toISOString(),
      spec: structuredClone(domain.spec),
      power: withMemory ? 'Running' : 'Stopped',
      disks: Object.fromEntries(domain.spec.disks.map((d) => [d.name, this.driver.world.disks[d.name] ?? ''])),
    });
    this.save(name);
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    // The simulator's "qcow2 internal snapshot" is the whole entry; its metadata carries it.
    return this.domain(name).snapshots.map((entry) => {
      const { spec: _spec, power: _power, disks: _disks, ...info } = entry;
      return { ...info, metadata: JSON.stringify(entry) };
    });
  }

  async importSnapshots(name: string, snapshots: { name: string; metadata: string }[], current?: string): Promise<void> {
    const domain = this.domain(name);
    for (const snapshot of snapshots) {
      if (domain.snapshots.some((s) => s.name === snapshot.name)) continue;
      domain.snapshots.push(JSON.parse(snapshot.metadata) as SimDomain['snapshots'][number]);
    }
    if (current !== undefined) for (const s of domain.snapshots) s.current = s.name === current;
    this.save(name);
  }

  async revertSnapshot(name: string, snapshotName: string): Promise<void> {
    const domain = this.domain(name);
    const snapshot = domain.snapshots.find((s) => s.name === snapshotName);
    if (!snapshot) throw new DriverError(`snapshot ${snapshotName} not found`, 'not-found');
    domain.spec = structuredClone(snapshot.spec);
    domain.power = snapshot.power;
    for (const [disk, bytes] of Object.entries(snapshot.disks ?? {})) this.driver.world.disks[disk] = bytes;
    for (const s of domain.snapshots) s.current = s === snapshot;
    this.save(name, Object.keys(snapshot.disks ?? {}));
  }

  async deleteSnapshot(name: string, snapshotName: string): Promise<void> {
    const domain = this.domain(name);
    const snapshot = domain.snapshots.find((s) => s.name === snapshotName);
    if (!snapshot) throw new DriverError(`snapshot ${snapshotName} not found`, 'not-found');
    // As libvirt does: children move to the deleted snapshot's parent, which becomes current if it was.
    for (const s of domain.snapshots) if (s.parent === snapshotName) s.parent = snapshot.parent;
    if (snapshot.current) for (const s of domain.snapshots) if (s.name === snapshot.parent) s.current = true;
    domain.snapshots = domain.snapshots.filter((s) => s !== snapshot);
    this.save(name);
  }

  async openConsole(name: string): Promise<Duplex> {
    const domain = this.domain(name);
    if (domain.power !== 'Running') throw new DriverError(`domain ${name} is not running`, 'invalid');
    const rootDisk = domain.spec.disks.find((d) => d.device === 'disk')?.name;
    const console = simulatedShell(name, {
      read: () => (rootDisk ? this.driver.world.disks[rootDisk] ?? '' : ''),
      write: (text) => {
        if (rootDisk) this.driver.world.disks[rootDisk] = text;
        this.save(name);
      },
    });
    const open = this.consoles.get(name) ?? new Set<Duplex>();
    this.consoles.set(name, open.add(console));
    console.once('close', () => open.delete(console));
    return console;
  }

  onEvent(listener: (event: HostEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}

/**
 * A serial console that prints a banner, echoes what is typed, and runs `echo`, `hostname`,
 * `echo TEXT > /dev/vda` and `cat /dev/vda` (the root disk, so tests can tell a fresh disk).
 */
function simulatedShell(name: string, rootDisk: { read(): string; write(text: string): void }): Duplex {
  let line = '';
  const console: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          console.push('\r\n' + run(line.trim()) + '# ');
          line = '';
        } else if (ch === '\x7f') {
          line = line.slice(0, -1);
          console.push('\b \b');
        } else {
          line += ch;
          console.push(ch);
        }
      }
      callback();
    },
  });
  const run = (command: string): string => {
    if (command === '') return '';
    if (command === 'hostname') return `${name}\r\n`;
    const redirect = /^echo (.*) > \/dev\/vda$/.exec(command);
    if (redirect) {
      rootDisk.write(redirect[1] ?? '');
      return '';
    }
    if (command === 'cat /dev/vda') return `${rootDisk.read()}\r\n`;
    if (command.startsWith('echo ')) return `${command.slice(5)}\r\n`;
    return `sh: ${command.split(' ')[0]}: not found\r\n`;
  };
  setImmediate(() => console.push(bootBanner(name)));
  return console;
}

/** What the simulated guest prints when it (re)boots. */
function bootBanner(name: string): string {
  return `Kiln simulator guest ${name}\r\nKILN-GUEST-READY ${name}\r\n# `;
}

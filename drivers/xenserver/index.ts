/**
 * The XenServer (and XCP-ng) driver on the driver contract (drivers/types.ts), over Kiln's own
 * xapi client (xapi/). connect() opens (or shares) one XenPool per pool master and user: one
 * session, one inventory fed by one event.from feed, whatever number of Kiln hosts sit behind it.
 * A pool is added by its master, https://MASTER (addCluster, CloudStack's way), and its hosts are
 * the endpoint's hosts; VMs, disks, snapshots and hosts are addressed by OpaqueRef.
 */
import {
  DriverError,
  type ConnectionForm, type ConnectionInput, type ConsoleFacet, type DefineResult, type DriverCapabilities, type DriverDefaults, type Endpoint,
  type EndpointEvent, type EndpointHost, type EndpointSpec, type HostInventory, type HostSession, type HypervisorDriver, type InstanceInfo,
  type IsolationFencingFacet, type MigrationFacet, type MigrationRequest, type MigrationTicket, type OperationOptions, type OperationResult,
  type PowerState, type Ref, type SnapshotFacet, type GpuFacet, type StopOptions, type StorageFacet, type PrimaryStorageFacet, type TaskOutcome, type TrustAnchor, type VmSpec,
  type VolumeFacet, type NicFacet, type ImportFacet,
} from '../types.js';
import { SharedConnections } from '../common/shared-connections.js';
import { keepingFirstTask, withTaskRef } from '../common/task-ref.js';
import { normalizeThumbprint, probeCertificateTrust } from '../tls-trust.js';
import { openConsole } from './console.js';
import { hasGpus, hostGpus, refuseWithVgpu } from './gpu.js';
import { mapped, toDriverError } from './errors.js';
import { parsePoolUrl } from './names.js';
import { KILN_UUID_KEY, MiB, XenPool, isGuest, powerOf } from './pool.js';
import { removeImage, stageImage } from './images.js';
import { defaultSrResizesOnline } from './sr-features.js';
import { primaryPools, srsOfHost } from './sr-scope.js';
import { performHaltedMove, prepareHaltedMove, type HaltedMove } from './disk-move.js';
import { xenImport } from './vm-import.js';
import { setCdMedia, xenNics, xenVolumes } from './vm-devices.js';
import { destroyVdis, unusedVdisNamed } from './vm-disks.js';
import { defineVm, destroyVm, label, rebootVm, resetVm, startVm, stopVm } from './vm-lifecycle.js';
import { arrivedFromAnotherPool, performCrossPool, performMigration, prepareIncoming, prepareMigration, type CrossPoolPlan } from './vm-migration.js';
import { scaleVm } from './vm-scaling.js';
import { createSnapshot, removeSnapshot, revertSnapshot, snapshotsOf } from './vm-snapshots.js';
import { isXapiError } from './xapi/errors.js';

export const XENSERVER_CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  storageMotion: true,
  // Across pools: host.migrate_receive on the destination pool, VM.migrate_send on the source (vm-migration.ts).
  crossClusterMigration: true,
  // migrate_send copies every VDI onto the destination pool's default SR, or the SR migrateto names.
  crossClusterCarriesDisks: true,
  memorySnapshots: true,
  diskSnapshotsWhileRunning: true,
  quiesceSnapshots: false,
  // Snapshots are records of the pool, not of a host: they stay with the VM wherever it runs.
  migrateWithSnapshots: true,
  liveScaleCpu: true,
  liveScaleMemory: true,
  liveScaleNeedsGuestTools: true,
  serialConsole: false,
  vnc: true,
  // A pool may have GPUs (GRID K1/K2, pass-through); each host session says whether its host has any.
  gpu: true,
  // CloudStack's hypervisor_capabilities for XenServer 7.x/8.x.
  maxGuestsLimit: 500,
};

// Xen's paravirtual block and network devices (blkfront/netfront); DiskBus has no "xen", and the paravirtual class is what virtio names elsewhere.
export const XENSERVER_DEFAULTS: DriverDefaults = { diskFormat: 'vhd', diskBus: 'virtio', nicAdapter: 'netfront' };

const DEFAULT_STOP_TIMEOUT_MS = 180_000;
/** xapi HA's default host-failure timeout (ha-config:timeout): an isolated host has fenced itself by then. */
const POOL_HA_TIMEOUT_MS = 60_000;

export class XenServerDriver implements HypervisorDriver {
  readonly hypervisor = 'XenServer' as const;
  readonly capabilities = XENSERVER_CAPABILITIES;
  readonly defaults = XENSERVER_DEFAULTS;
  readonly connectionForm: ConnectionForm = {
    urlExample: 'https://xenserver-master.example.com',
    urlRule: 'a XenServer pool is added by its master as https://MASTER[:port]; its hosts come with it',
    credentials: [['username', 'password']],
    adds: 'cluster',
    trust: 'tls-certificate',
  };
  /** One XenPool per master, user and pin, shared by the pool's Kiln hosts. */
  private readonly pools = new SharedConnections<XenPool>((pool) => pool.close());

  /** lostAnswerWaitMs: how long a cross-pool move whose answer was lost waits for its outcome (tests; default 60 s). */
  constructor(private readonly tuning: { eventTimeoutSeconds?: number; stopTimeoutMs?: number; haTimeoutMs?: number; lostAnswerWaitMs?: number } = {}) {}

  validateConnection(input: ConnectionInput, _scope: 'host' | 'cluster'): { url: string; name: string } {
    let loc;
    try {
      loc = parsePoolUrl(input.url);
    } catch (e) {
      throw new DriverError(`url: ${(e as Error).message}`, 'invalid', { param: 'url' });
    }
    if (!input.username) throw new DriverError('username: a XenServer user (root or a pool admin) is required', 'invalid', { param: 'username' });
    if (!input.password) throw new DriverError('password: the user\'s password is required', 'invalid', { param: 'password' });
    return { url: loc.port === 443 ? `https://${loc.host.includes(':') ? `[${loc.host}]` : loc.host}` : loc.url, name: loc.host };
  }

  async probeTrust(url: string): Promise<TrustAnchor> {
    const loc = parsePoolUrl(url);
    return probeCertificateTrust(loc.host, loc.port);
  }

  async connect(spec: EndpointSpec): Promise<Endpoint> {
    const loc = parsePoolUrl(spec.url);
    if (!spec.username || !spec.password) throw new DriverError('a XenServer pool needs a username and password', 'invalid', { param: spec.username ? 'password' : 'username' });
    const pinned = spec.pinnedTrust;
    if (pinned && pinned.kind !== 'tls-certificate') throw new DriverError(`a XenServer pool is trusted by its TLS certificate, not by ${pinned.kind}`, 'invalid');
    const thumbprint = pinned ? normalizeThumbprint(pinned.fingerprint) : undefined;
    const { username, password } = spec;
    const shared = await this.pools.acquire(`${loc.url}\n${username}\n${thumbprint ?? ''}`, () => XenPool.open({ url: loc.url, username, password, thumbprint, eventTimeoutSeconds: this.tuning.eventTimeoutSeconds }));
    return new XenEndpoint(shared.value, spec.hostId, { stopTimeoutMs: this.tuning.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, haTimeoutMs: this.tuning.haTimeoutMs ?? POOL_HA_TIMEOUT_MS, lostAnswerWaitMs: this.tuning.lostAnswerWaitMs }, shared.release);
  }
}

class XenEndpoint implements Endpoint {
  constructor(
    readonly pool: XenPool,
    readonly hostId: string,
    readonly tuning: { stopTimeoutMs: number; haTimeoutMs: number; lostAnswerWaitMs?: number },
    private readonly release: () => Promise<void>,
  ) {}

  get trust(): TrustAnchor | undefined {
    const t = this.pool.thumbprint;
    return t ? { kind: 'tls-certificate', fingerprint: t } : undefined;
  }

  async hosts(): Promise<EndpointHost[]> {
    this.pool.assertReachable('listing the hosts');
    return this.pool.hosts();
  }

  host(ref: Ref): HostSession {
    if (!this.pool.host(ref)) throw new DriverError(`host ${ref} is not in this pool`, 'not-found');
    return new XenHostSession(this, ref);
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    return this.pool.onEvent(listener);
  }

  async reattachTask(taskRef: Ref, options: OperationOptions = {}): Promise<TaskOutcome> {
    this.pool.assertReachable(`reattaching task ${taskRef}`);
    try {
      const result = await this.pool.client.waitForTask(taskRef, { signal: options.signal, onProgress: options.onProgress });
      await this.pool.client.call('task.destroy', taskRef).catch(() => undefined);
      return { state: 'success', result: typeof result === 'string' && result.startsWith('OpaqueRef:') ? result : undefined };
    } catch (e) {
      if (isXapiError(e, 'TASK_CANCELLED')) return { state: 'cancelled', error: e.message };
      if (isXapiError(e, 'HANDLE_INVALID')) return { state: 'error', error: `task ${taskRef} is gone (xapi keeps finished tasks only until they are destroyed or the master restarts)` };
      if (isXapiError(e)) return { state: 'error', error: e.message };
      throw toDriverError(e, `reattaching task ${taskRef}`);
    }
  }

  close(): Promise<void> {
    return this.release();
  }

  abort(): void {
    this.pool.abort();
  }
}

class XenHostSession implements HostSession {
  readonly snapshots: SnapshotFacet;
  readonly migration: MigrationFacet;
  readonly console: ConsoleFacet;
  readonly volumes: VolumeFacet;
  readonly nics: NicFacet;
  /** VMs Kiln did not make, listed and taken over as they are; an XVA imported first (vm-import.ts). */
  readonly import: ImportFacet;
  /**
   * The pool's shared SRs as the cluster's primary storage (a XenServer pool is a Kiln cluster),
   * and this host's local SRs (one PBD, on this host) as its own (scope HOST); the pool's default
   * SR the default (sr-scope.ts).
   */
  readonly primaryStorage: PrimaryStorageFacet = {
    pools: async () => {
      this.assertLive('reading the storage repositories');
      return primaryPools(this.pool, this.ref);
    },
  };

  /** Images from Kiln's store become VDIs of the pool, once per pool (images.ts). */
  readonly storage: StorageFacet = {
    stageImage: async (image, options) => void (await stageImage(this.pool, image, options)),
    removeImage: (image) => removeImage(this.pool, image),
  };

  constructor(
    private readonly endpoint: XenEndpoint,
    readonly ref: Ref,
  ) {
    this.snapshots = this.snapshotFacet();
    this.migration = this.migrationFacet();
    this.console = { graphical: { protocol: 'vnc', open: (vm) => openConsole(this.pool, this.vm(vm)) } };
    this.volumes = xenVolumes(this.pool, (vm) => this.vm(vm));
    this.nics = xenNics(this.pool, (vm) => this.vm(vm));
    this.import = xenImport(this.pool, ref);
  }

  get hostId(): string {
    return this.endpoint.hostId;
  }

  /** The driver's, with gpu only where this host has PGPUs, and a running VM's disk resized live only where the pool's default SR can (sr-features.ts). */
  get capabilities(): DriverCapabilities {
    return { ...XENSERVER_CAPABILITIES, gpu: hasGpus(this.pool, this.ref), liveVolumeResize: defaultSrResizesOnline(this.pool) };
  }

  get gpu(): GpuFacet | undefined {
    return hasGpus(this.pool, this.ref) ? { list: () => mapped('reading the host\'s GPUs', () => hostGpus(this.pool, this.ref)) } : undefined;
  }

  get trust(): TrustAnchor | undefined {
    return this.endpoint.trust;
  }

  private get pool(): XenPool {
    return this.endpoint.pool;
  }

  /**
   * Pool HA is xapi's isolation response: a host cut off from the pool's heartbeat fences itself,
   * and the pool restarts its protected VMs. Present only while the pool has HA on; Kiln then waits
   * the HA timeout before acting on a lost host, and follows xapi's restarts (initiator 'platform').
   */
  get isolationFencing(): IsolationFencingFacet | undefined {
    if (!this.pool.haEnabled) return undefined;
    return { timeoutMs: this.endpoint.tuning.haTimeoutMs, arm: async () => undefined, disarm: async () => undefined };
  }

  /** A VM living on this host (running here, or halted with this host as its home); else not-found. */
  private vm(ref: Ref): Ref {
    const v = this.pool.vm(ref);
    if (!isGuest(v) || this.pool.homeOf(v) !== this.ref) throw new DriverError(`VM ${ref} is not on host ${this.pool.host(this.ref)?.name_label ?? this.ref}`, 'not-found');
    return ref;
  }

  /** A pool member that is not live cannot be asked anything about its VMs. */
  private assertLive(doing: string): void {
    this.pool.assertReachable(doing);
    if (!this.pool.hostLive(this.ref)) throw new DriverError(`${doing}: host ${this.pool.host(this.ref)?.name_label ?? this.ref} is not live in its pool`, 'unreachable');
  }

  async inventory(): Promise<HostInventory> {
    this.assertLive('reading the host inventory');
    const h = this.pool.host(this.ref);
    if (!h) throw new DriverError(`host ${this.ref} is no longer in the pool`, 'not-found');
    const metrics = this.pool.inventory.get('host_metrics', h.metrics);
    const cpus = Number(h.cpu_info?.['cpu_count'] ?? 0);
    // The SRs this host reaches: the shared ones and its own local ones, not another host's.
    const storagePools = srsOfHost(this.pool, this.ref)
      .map(({ ref, sr: s }) => ({ ref, name: s.name_label, capacityBytes: Number(s.physical_size ?? 0), availableBytes: Math.max(0, Number(s.physical_size ?? 0) - Number(s.physical_utilisation ?? 0)), shared: s.shared === true }));
    const networks = this.pool.inventory.all('network').map(([ref, n]) => ({ ref, name: n.name_label, bridge: n.bridge || undefined }));
    const pciDevices = (h.PCIs ?? []).flatMap((p) => {
      const r = this.pool.inventory.get('PCI', p);
      return r ? [{ address: r.pci_id, vendor: r.vendor_name, product: r.device_name, className: r.class_name }] : [];
    });
    const sv = h.software_version ?? {};
    return {
      hostname: h.hostname || h.name_label,
      hypervisorVersion: [sv['product_brand'] ?? 'XenServer', sv['product_version'] ?? sv['platform_version'] ?? ''].filter(Boolean).join(' '),
      cpuSockets: Number(h.cpu_info?.['socket_count'] ?? 1) || 1,
      cpuNumber: cpus,
      cpuSpeedMhz: Math.round(Number(h.cpu_info?.['speed'] ?? 0)),
      memoryTotalMiB: Math.floor(Number(metrics?.memory_total ?? 0) / MiB),
      memoryFreeMiB: Math.floor(Number(metrics?.memory_free ?? 0) / MiB),
      storagePools, networks, pciDevices,
      gpus: hasGpus(this.pool, this.ref) ? await mapped('reading the host\'s GPUs', () => hostGpus(this.pool, this.ref)) : [],
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    this.assertLive('listing the VMs');
    return this.pool.vmsOn(this.ref).map(([ref, v]) => this.instance(ref, v));
  }

  private instance(ref: Ref, v: NonNullable<ReturnType<XenPool['vm']>>): InstanceInfo {
    return {
      ref, name: v.name_label, uuid: v.other_config?.[KILN_UUID_KEY] ?? v.uuid, powerState: powerOf(v.power_state),
      cpuNumber: Number(v.VCPUs_at_startup), memoryMiB: Math.round(Number(v.memory_dynamic_max) / MiB),
      isTemplate: false,
      // Disks are read per VM when an operation needs them, not on every listing (ImportFacet.inspect would).
      disks: [],
      nics: [],
    };
  }

  async powerState(vm: Ref): Promise<PowerState | 'Missing'> {
    this.assertLive(`reading the power state of ${vm}`);
    const v = this.pool.vm(vm);
    return isGuest(v) && this.pool.homeOf(v) === this.ref ? powerOf(v.power_state) : 'Missing';
  }

  async define(spec: VmSpec, options: OperationOptions = {}): Promise<DefineResult> {
    this.assertLive(`defining ${spec.internalName}`);
    const task = keepingFirstTask(options);
    const defined = await defineVm(this.pool, this.ref, spec, task.options);
    return { ...defined, taskRef: task.first() };
  }

  async start(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    this.assertLive(`starting ${label(this.pool, ref)}`);
    return withTaskRef(options, (o) => startVm(this.pool, this.ref, ref, this.pool.vm(ref)!, o));
  }

  async stop(vm: Ref, options: StopOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    return withTaskRef(options, (o) => stopVm(this.pool, ref, { ...o, forced: options.forced, timeoutMs: options.timeoutMs ?? this.endpoint.tuning.stopTimeoutMs }));
  }

  async reboot(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    return withTaskRef(options, (o) => rebootVm(this.pool, ref, o));
  }

  async reset(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    return withTaskRef(options, (o) => resetVm(this.pool, ref, o));
  }

  async destroy(vm: Ref, options: { removeDisks?: string[] | 'all' } & OperationOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    return withTaskRef(options, (o) => destroyVm(this.pool, ref, options.removeDisks, o));
  }

  /** Disks (by Kiln's volume name) that no VM uses any more. */
  async deleteDisks(disks: string[]): Promise<void> {
    this.pool.assertReachable('deleting disks');
    await mapped('deleting disks', async () => {
      for (const name of new Set(disks)) await destroyVdis(this.pool, await unusedVdisNamed(this.pool, name));
    });
  }

  /** The ISO (staged into the pool under its image name) into the VM's CD drive, live while it runs. */
  async attachIso(vm: Ref, isoPath: string): Promise<void> {
    const ref = this.vm(vm);
    this.pool.assertReachable(`attaching ISO ${isoPath} to ${label(this.pool, ref)}`);
    await mapped(`attaching ISO ${isoPath} to ${label(this.pool, ref)}`, () => setCdMedia(this.pool, ref, [isoPath]));
  }

  /** Ejects the VM's CD media (the drive stays, empty). */
  async detachIso(vm: Ref): Promise<void> {
    const ref = this.vm(vm);
    this.pool.assertReachable(`detaching the ISO of ${label(this.pool, ref)}`);
    await mapped(`detaching the ISO of ${label(this.pool, ref)}`, () => setCdMedia(this.pool, ref, []));
  }

  async scale(vm: Ref, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean, options: OperationOptions = {}): Promise<OperationResult> {
    const ref = this.vm(vm);
    return withTaskRef(options, (o) => scaleVm(this.pool, ref, resources, live, o));
  }

  private snapshotFacet(): SnapshotFacet {
    return {
      create: async (vm, s, options = {}) => {
        const ref = this.vm(vm);
        const task = keepingFirstTask(options);
        const snap = await createSnapshot(this.pool, ref, s, task.options);
        return { ref: snap, taskRef: task.first() };
      },
      list: async (vm) => snapshotsOf(this.pool, this.vm(vm)),
      revert: async (vm, snapshot, options = {}) => {
        const ref = this.vm(vm);
        return withTaskRef(options, (o) => revertSnapshot(this.pool, ref, snapshot, o));
      },
      remove: async (vm, snapshot, options = {}) => {
        const ref = this.vm(vm);
        return withTaskRef(options, (o) => removeSnapshot(this.pool, ref, snapshot, o));
      },
    };
  }

  private migrationFacet(): MigrationFacet {
    return {
      // On the destination: checked against the inventory; nothing is sent. A VM this pool does
      // not hold comes from another pool: host.migrate_receive gives the map its source needs.
      prepare: async (req: MigrationRequest): Promise<MigrationTicket> => {
        const diskRefs = Object.fromEntries(req.spec.disks.map((d) => [d.name, d.ref]));
        if (!this.pool.vm(req.vm)) {
          const plan = await prepareIncoming(this.pool, this.ref, req.spec.disks.map((d) => d.name), req.volumePools ?? {});
          return { hostRef: this.ref, destination: this, data: { crossPool: JSON.stringify(plan) } };
        }
        if (!req.live && this.pool.vm(req.vm)?.power_state === 'Halted') {
          // A halted VM of this pool is the pool's already: only its disks move (migrateVolume), and its home becomes this host.
          const plan = await prepareHaltedMove(this.pool, req.vm, this.ref, req.volumePools ?? {}, diskRefs);
          return { hostRef: this.ref, destination: this, data: { halted: JSON.stringify(plan) } };
        }
        if (req.live) refuseWithVgpu(this.pool, req.vm, 'live migration', 'stop it and start it on the other host (a cold migration)');
        const plan = await prepareMigration(this.pool, req.vm, this.ref, req.volumePools ?? {}, diskRefs);
        return { hostRef: this.ref, destination: this, data: { host: plan.host, vdis: JSON.stringify(plan.vdis) } };
      },
      // On the source: the task.
      perform: async (req, ticket, options = {}) => {
        const ref = this.vm(req.vm);
        const crossPool = ticket.data['crossPool'];
        if (crossPool !== undefined) {
          // A vGPU VM has no vgpu_map across pools here, live or halted.
          refuseWithVgpu(this.pool, ref, req.live ? 'live migration to another pool' : 'a move to another pool', req.live ? 'stop it first; a GPU VM moves cold' : 'Kiln moves GPU VMs within their pool only');
          if (!(ticket.destination instanceof XenHostSession)) throw new DriverError('the destination of a cross-pool migration is not a XenServer pool', 'invalid');
          const to = ticket.destination.xenPool;
          const diskRefs = Object.fromEntries(req.spec.disks.map((d) => [d.name, d.ref]));
          let moved: Awaited<ReturnType<typeof performCrossPool>> | undefined;
          const result = await withTaskRef(options, async (o) => (moved = await performCrossPool(this.pool, to, ref, diskRefs, JSON.parse(crossPool) as CrossPoolPlan, { ...o, live: req.live, lostAnswerWaitMs: this.endpoint.tuning.lostAnswerWaitMs })));
          return { ...(result ?? {}), ...moved };
        }
        const halted = ticket.data['halted'];
        if (halted !== undefined) {
          const diskRefs = Object.fromEntries(req.spec.disks.map((d) => [d.name, d.ref]));
          let disks: Awaited<ReturnType<typeof performHaltedMove>> = [];
          const result = await withTaskRef(options, async (o) => {
            disks = await performHaltedMove(this.pool, ref, JSON.parse(halted) as HaltedMove, diskRefs, o);
            if (this.pool.vm(ref)?.affinity !== ticket.hostRef) await mapped(`moving ${label(this.pool, ref)} home`, () => this.pool.client.call('VM.set_affinity', ref, ticket.hostRef));
          });
          return { ...(result ?? {}), disks };
        }
        const plan = { host: ticket.data['host']!, vdis: JSON.parse(ticket.data['vdis'] ?? '{}') as Record<string, string> };
        return withTaskRef(options, (o) => performMigration(this.pool, ref, plan, o));
      },
      // On the destination: a VM a cross-pool move brought here after its answer was lost.
      arrived: async (vm, spec) => arrivedFromAnotherPool(this.pool, vm, spec),
    };
  }

  /** The pool behind this host (a cross-pool migration's source reads the destination's). */
  get xenPool(): XenPool {
    return this.endpoint.pool;
  }
}

export { XenPool } from './pool.js';

/**
 * The driver conformance suite (issue 11, "One conformance suite"): one set of behaviours of the
 * driver contract, run against every driver through a DriverUnderTest. Each behaviour is asserted
 * from what the host reports, through the driver and, where the driver allows, from an
 * independent view of the host (virsh on a KVM host, the simulator's world file, vcsim over SOAP),
 * so a driver cannot pass by agreeing with itself.
 *
 * What a driver can do is read from its capabilities, never from its name: a capability it
 * announces must work, one it does not must be refused with DriverError 'unsupported'.
 *
 * The behaviours share one VM (and a second host for migration), as booting a real guest takes
 * seconds; each test first brings the VM into the state it needs (ensureRunning/ensureStopped),
 * so one failure does not cascade through the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { DriverError, type DriverCapabilities, type Endpoint, type HostEvent, type HostSession, type HypervisorDriver, type MigrationRequest, type PowerState, type Ref, type SnapshotRequest, type VmSpec } from '../../drivers/types.js';

/** A VM as the host itself reports it, read without the driver under test. */
export interface ObservedVm {
  power: PowerState;
  uuid?: string;
  cpuNumber: number;
  memoryMiB: number;
  /** Its disks as the host names them (a path, a volume or datastore file name), for diskExists. */
  disks: string[];
}

/** A snapshot as the host reports it; parent by name. */
export interface ObservedSnapshot {
  name: string;
  parent?: string;
  current: boolean;
}

/** The VM as the suite knows it: its name, and its ref once define() gave one. */
export interface VmHandle {
  name: string;
  ref?: Ref;
}

/**
 * The host's own view (virsh on the host, the simulator's world file, vcsim's inventory over
 * SOAP). Hosts are named by their ref on the endpoint (EndpointHost.ref).
 */
export interface HostObserver {
  /** The VM on that host, or undefined when the host has none. */
  vm(hostRef: Ref, vm: VmHandle): Promise<ObservedVm | undefined>;
  /** Whether the host's storage still holds a disk (as ObservedVm.disks names it). */
  diskExists(hostRef: Ref, disk: string): Promise<boolean>;
  snapshots(hostRef: Ref, vm: VmHandle): Promise<ObservedSnapshot[]>;
}

/** A connected driver, ready for the suite. */
export interface ConformanceTarget {
  driver: HypervisorDriver;
  /** The endpoints connected; the suite uses the connected hosts they report (migration needs two). */
  endpoints: Endpoint[];
  /** A VM that boots on this driver: 1 vCPU, 128 MiB, room to scale live to 2 vCPUs and 256 MiB. */
  guest(name: string): VmSpec;
  observe: HostObserver;
  /** A ref no VM has (default: a fresh unique name). */
  unknownRef?(): Ref;
  /**
   * Where the guest's readiness is not on a serial console: makes or waits until the host reports
   * the started guest up (vcsim has no guest OS; its VMware Tools status is set as a booted guest's would be).
   */
  guestUp?(hostRef: Ref, vm: VmHandle): Promise<void>;
  /**
   * Makes the platform itself move the running VM to another host, outside the driver (vMotion by
   * DRS, xapi HA); absent where the platform has no such automation (KVM); the simulator's is its platformMigrate hook.
   */
  platformMove?(vm: VmHandle, toHostRef: Ref): Promise<void>;
  /** Removes what is left of VM NAME on every host (definition, disks, logs); best effort. */
  cleanup(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface DriverUnderTest {
  label: string;
  /** Why the suite cannot run here (no hosts, no driver yet): it is then skipped with this reason, never passed. */
  skipReason(): string | undefined;
  connect(): Promise<ConformanceTarget>;
  /** What the guest prints on its serial console once it is up. */
  readyMarker: RegExp;
  /** A unique VM name for this run (the hosts may be shared with other runs). */
  uniqueName(tag: string): string;
  /** Upper bounds for this driver (a TCG guest boots in seconds, the simulator at once). */
  timeouts: { bootMs: number; stopMs: number; eventMs: number };
}

type PowerEvent = Extract<HostEvent, { kind: 'power' }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the DriverError FN rejects with; fails the test when it resolves or throws something else. */
export async function driverError(fn: () => Promise<unknown>, what = 'the call'): Promise<DriverError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    expect(error, `${what}: expected a DriverError, got ${String(error)}`).toBeInstanceOf(DriverError);
    return error as DriverError;
  }
  throw new Error(`${what}: expected a DriverError, but it succeeded (${JSON.stringify(result)})`);
}

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last saw ${JSON.stringify(value)}`);
    await sleep(150);
  }
}

/** A serial console read into text (\r and the guest shell's cursor queries dropped). */
class Console {
  text = '';
  ended = false;
  constructor(readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      // eslint-disable-next-line no-control-regex
      this.text += chunk.toString('utf8').replace(/\x1b\[6n/g, '').replace(/\r/g, '');
    });
    const end = () => (this.ended = true);
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(from));
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`console: ${pattern} not seen within ${timeoutMs} ms; got:\n${this.text.slice(-1500)}`);
      await sleep(100);
    }
  }
  close(): void {
    this.stream.destroy();
  }
}

export function conformanceSuite(dut: DriverUnderTest): void {
  const skip = dut.skipReason();
  if (skip) {
    console.warn(`${dut.label} conformance suite skipped: ${skip}`);
    describe.skip(`${dut.label} driver conformance (skipped: ${skip})`, () => {
      it('runs the contract', () => undefined);
    });
    return;
  }

  describe(`${dut.label} driver conformance`, () => {
    let t: ConformanceTarget;
    /** The connected hosts the endpoints report, with the endpoint each is behind. */
    const hosts: { session: HostSession; endpoint: number }[] = [];
    const made = new Set<string>();
    const events: { at: number; host: Ref | undefined; event: HostEvent }[] = [];
    const unsubscribe: (() => void)[] = [];
    /** The shared VM: its name, spec, ref, and the host (index into hosts) it is on now. */
    let vm: { name: string; ref?: Ref; spec: VmSpec; host: number; defined: boolean };
    let tty: Console | undefined;

    const session = (host = vm.host) => hosts[host]!.session;
    const ref = () => vm.ref ?? vm.name;
    const hostRef = (host = vm.host) => hosts[host]!.session.ref;
    /** What this host may do: the session's refined capabilities (never more than the driver's). */
    const caps = (host = vm.host): DriverCapabilities => session(host).capabilities;
    const observed = (host = vm.host) => t.observe.vm(hostRef(host), { name: vm.name, ref: vm.ref });
    const observedSnapshots = () => t.observe.snapshots(hostRef(), { name: vm.name, ref: vm.ref });
    const powerEvents = (since: number) =>
      events.filter((e): e is { at: number; host: Ref | undefined; event: PowerEvent } =>
        e.at >= since && e.event.kind === 'power' && (e.event.vmRef === ref() || e.event.name === vm.name));
    /** The first power event since SINCE from HOST with STATE and REASON (other events may come first: libvirt starts a domain paused, then resumes it). */
    const waitForEvent = (since: number, host: number, state: PowerState, reasons: string | string[]) =>
      waitFor(`a power event ${state} (${String(reasons)}) for ${vm.name} from host ${hostRef(host)}`, async () => powerEvents(since).filter((e) => e.host === hostRef(host) && e.event.state === state && [reasons].flat().includes(e.event.reason ?? '')).map((e) => e.event), (found) => found.length > 0, dut.timeouts.eventMs)
        .then((found) => found[0]!, (error: unknown) => {
          throw new Error(`${(error as Error).message}; all power events for it: ${JSON.stringify(powerEvents(since).map((e) => ({ host: e.host, ...e.event })))}`);
        });
    const observedPower = (state: PowerState, host = vm.host) =>
      waitFor(`${vm.name} ${state} on host ${hostRef(host)}`, () => observed(host), (o) => o?.power === state, dut.timeouts.stopMs);
    const snapshots = () => {
      const facet = session().snapshots;
      if (!facet) throw new Error('no snapshot facet');
      return facet;
    };
    /** Snapshots as the driver lists them, by name with the parent's name (SnapshotInfo.parent is a ref). */
    const listedTree = async () => {
      const list = await snapshots().list(ref());
      const nameOf = new Map(list.map((s) => [s.ref, s.name]));
      return Object.fromEntries(list.map((s) => [s.name, { parent: s.parent === undefined ? undefined : nameOf.get(s.parent) ?? `?${s.parent}`, current: s.current }]));
    };
    const observedTree = async () => Object.fromEntries((await observedSnapshots()).map((s) => [s.name, { parent: s.parent, current: s.current }]));
    const snapshotRef = async (name: string) => {
      const found = (await snapshots().list(ref())).find((s) => s.name === name);
      if (!found) throw new Error(`snapshot ${name} not listed`);
      return found.ref;
    };
    /** Removes the snapshots an earlier failed test left, so one failure does not fail the next test too. */
    const clearSnapshots = async () => {
      for (const left of await snapshots().list(ref())) await snapshots().remove(ref(), left.ref);
    };
    const migrate = async (to: number, extra: Partial<MigrationRequest> = {}) => {
      const request: MigrationRequest = { vm: ref(), spec: vm.spec, live: true, ...extra };
      const facet = session().migration;
      if (!facet) throw new DriverError('no migration facet', 'unsupported');
      const ticket = await (session(to).migration ?? facet).prepare(request);
      return facet.perform(request, ticket);
    };

    async function openConsole(): Promise<Console> {
      if (!tty || tty.ended) {
        const serial = session().console?.serial;
        if (!serial) throw new Error('no serial console facet');
        tty = new Console(await serial.open(ref()));
      }
      return tty;
    }

    async function define(): Promise<void> {
      const result = await session().define(vm.ref ? { ...vm.spec, ref: vm.ref } : vm.spec);
      expect(typeof result.ref).toBe('string');
      vm.ref = result.ref;
      vm.defined = true;
    }

    async function waitForGuest(): Promise<void> {
      if (caps().serialConsole) {
        tty?.close();
        tty = undefined;
        await (await openConsole()).waitFor(dut.readyMarker, dut.timeouts.bootMs);
      }
      await t.guestUp?.(hostRef(), { name: vm.name, ref: vm.ref });
    }

    /** Running, and by default with the guest up (its ready marker on the console, where there is one). */
    async function ensureRunning(options: { guestUp?: boolean } = {}): Promise<void> {
      if (!vm.defined) await define();
      if ((await session().powerState(ref())) === 'Running') return;
      await session().start(ref());
      if (options.guestUp !== false) await waitForGuest();
    }

    async function ensureStopped(): Promise<void> {
      if (!vm.defined) await define();
      if ((await session().powerState(ref())) !== 'Stopped') await session().stop(ref(), { forced: true });
    }

    beforeAll(async () => {
      t = await dut.connect();
      for (const [index, endpoint] of t.endpoints.entries()) {
        unsubscribe.push(endpoint.onEvent((event) => {
          // An event names its host (hostRef); an endpoint with one host may leave it out.
          const host = event.kind === 'power' ? event.hostRef ?? hosts.find((h) => h.endpoint === index)?.session.ref : undefined;
          events.push({ at: Date.now(), host, event });
        }));
        for (const h of await endpoint.hosts()) if (h.connected) hosts.push({ session: endpoint.host(h.ref), endpoint: index });
      }
      const name = dut.uniqueName('conf');
      made.add(name);
      vm = { name, spec: t.guest(name), host: 0, defined: false };
    });

    afterAll(async () => {
      tty?.close();
      for (const off of unsubscribe) off();
      if (!t) return;
      for (const name of made) await t.cleanup(name);
      await t.close();
    });

    it('endpoints report their hosts; each host session announces no more than the driver, and a facet for what it announces', async () => {
      expect(hosts.length).toBeGreaterThan(0);
      for (const [index, endpoint] of t.endpoints.entries()) {
        const reported = await endpoint.hosts();
        for (const h of reported) expect(h).toMatchObject({ ref: expect.any(String), name: expect.any(String), connected: expect.any(Boolean) });
        expect((() => { try { endpoint.host(`${t.unknownRef?.() ?? dut.uniqueName('nohost')}`); return undefined; } catch (e) { return e; } })()).toBeInstanceOf(DriverError);
        expect(hosts.filter((h) => h.endpoint === index).map((h) => h.session.ref)).toEqual(reported.filter((h) => h.connected).map((h) => h.ref));
      }
      const most = t.driver.capabilities;
      for (const { session: s } of hosts) {
        const c = s.capabilities;
        for (const key of Object.keys(most) as (keyof DriverCapabilities)[]) {
          if (typeof most[key] === 'boolean' && key !== 'liveScaleNeedsGuestTools') expect({ key, refined: c[key] === true && most[key] !== true }).toEqual({ key, refined: false });
        }
        expect({ serialConsole: c.serialConsole, facet: !!s.console?.serial }).toEqual({ serialConsole: c.serialConsole, facet: c.serialConsole });
        if (c.liveMigration) expect(s.migration).toBeDefined();
        if (c.memorySnapshots || c.diskSnapshotsWhileRunning) expect(s.snapshots).toBeDefined();
        if (c.vnc) expect(s.console?.graphical?.protocol).toBe('vnc');
        expect({ gpu: c.gpu, facet: !!s.gpu }).toEqual({ gpu: c.gpu, facet: c.gpu });
      }
    });

    it('define: the host lists the VM, stopped, with its vCPUs, memory and disks', async () => {
      await define();
      const listed = (await session().listInstances()).find((i) => i.ref === vm.ref);
      expect(listed).toMatchObject({ name: vm.name, powerState: 'Stopped', uuid: vm.spec.uuid, cpuNumber: vm.spec.cpuNumber, memoryMiB: vm.spec.memoryMiB });
      expect(await session().powerState(ref())).toBe('Stopped');
      const seen = await observed();
      expect(seen).toMatchObject({ power: 'Stopped', uuid: vm.spec.uuid, cpuNumber: vm.spec.cpuNumber, memoryMiB: vm.spec.memoryMiB });
      expect(seen!.disks).toHaveLength(vm.spec.disks.filter((d) => d.device === 'disk').length);
      for (const disk of seen!.disks) expect({ disk, exists: await t.observe.diskExists(hostRef(), disk) }).toEqual({ disk, exists: true });
    });

    it('define: the same VM again (by its ref) redefines it; another VM under the same name is refused and the first is kept', async () => {
      await define();
      const first = vm.ref;
      await define();
      expect(vm.ref).toBe(first);
      const twin = t.guest(vm.name);
      expect(twin.uuid).not.toBe(vm.spec.uuid);
      const error = await driverError(() => session().define(twin));
      expect(error.category).toBe('invalid');
      expect(await observed()).toMatchObject({ uuid: vm.spec.uuid, power: 'Stopped' });
      expect((await session().listInstances()).filter((i) => i.name === vm.name).map((i) => i.uuid)).toEqual([vm.spec.uuid]);
    });

    it('start: Running on the host and a power event', async () => {
      await ensureStopped();
      const since = Date.now();
      await session().start(ref());
      expect(await session().powerState(ref())).toBe('Running');
      expect((await observed())?.power).toBe('Running');
      const event = await waitForEvent(since, vm.host, 'Running', 'started');
      expect(event).toMatchObject({ kind: 'power', vmRef: ref(), name: vm.name, state: 'Running', reason: 'started', initiator: expect.stringMatching(/^(user|guest|platform)$/) });
      // The guest boots: its serial console shows its ready marker.
      await waitForGuest();
    });

    it('console: the serial console carries the guest output and input, as the capability says', async () => {
      await ensureRunning();
      if (!caps().serialConsole) {
        expect(session().console?.serial).toBeUndefined();
        return;
      }
      const console = await openConsole();
      const token = `kiln-conf-${Math.random().toString(36).slice(2, 8)}`;
      // The guest's shell answers the typed line with a line of its own (not only the echo of what was typed).
      const from = console.text.length;
      const deadline = Date.now() + dut.timeouts.bootMs;
      for (;;) {
        console.stream.write(`echo ${token}\r`);
        try {
          await console.waitFor(new RegExp(`^${token}$`, 'm'), 3_000, from);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
      }
    });

    it('graphical console: where the session offers one, it opens for the running VM (a VNC display answers with its RFB greeting)', async (ctx) => {
      const graphical = session().console?.graphical;
      if (!graphical) {
        expect(caps().vnc).toBe(false);
        ctx.skip('no graphical console on this host');
      }
      await ensureRunning({ guestUp: false });
      const display = await graphical!.open(ref());
      try {
        expect(display.protocol).toBe(graphical!.protocol);
        expect(display.port !== undefined || display.url !== undefined).toBe(true);
        if (display.protocol === 'vnc') {
          expect(display.port).toBeGreaterThan(0);
          const greeting = await new Promise<string>((resolve, reject) => {
            const socket = netConnect(display.port!, '127.0.0.1');
            const timer = setTimeout(() => reject(new Error('no RFB greeting within 10 s')), 10_000);
            socket.once('data', (d) => {
              clearTimeout(timer);
              resolve(d.toString('latin1'));
              socket.destroy();
            });
            socket.once('error', reject);
          });
          expect(greeting).toMatch(/^RFB \d{3}\.\d{3}\n/);
        }
      } finally {
        await display.close();
      }
    });

    it('live scale: up within the maximum is applied to the running VM; past the maximum it is refused', async () => {
      await ensureRunning();
      const maxCpu = vm.spec.maxCpuNumber ?? vm.spec.cpuNumber;
      if (caps().liveScaleCpu) {
        await session().scale(ref(), { cpuNumber: maxCpu }, true);
        expect((await observed())?.cpuNumber).toBe(maxCpu);
        const error = await driverError(() => session().scale(ref(), { cpuNumber: maxCpu + 1 }, true));
        expect(['invalid', 'unsupported', 'insufficient-capacity']).toContain(error.category);
        expect((await observed())?.cpuNumber).toBe(maxCpu);
      } else {
        expect((await driverError(() => session().scale(ref(), { cpuNumber: maxCpu }, true))).category).toBe('unsupported');
      }
      const memory = Math.min(vm.spec.maxMemoryMiB ?? vm.spec.memoryMiB, vm.spec.memoryMiB + 64);
      if (caps().liveScaleMemory) {
        await session().scale(ref(), { memoryMiB: memory }, true);
        expect((await observed())?.memoryMiB).toBe(memory);
        const max = vm.spec.maxMemoryMiB ?? vm.spec.memoryMiB;
        const error = await driverError(() => session().scale(ref(), { memoryMiB: max + 128 }, true));
        expect(['invalid', 'unsupported', 'insufficient-capacity']).toContain(error.category);
        expect((await observed())?.memoryMiB).toBe(memory);
      } else {
        expect((await driverError(() => session().scale(ref(), { memoryMiB: memory }, true))).category).toBe('unsupported');
      }
      expect((await observed())?.power).toBe('Running');
    });

    it('reboot: the guest restarts, keeps its definition, and no stop is reported', async () => {
      await ensureRunning();
      const before = await observed();
      const console = caps().serialConsole ? await openConsole() : undefined;
      const from = console?.text.length ?? 0;
      const since = Date.now();
      await session().reboot(ref());
      if (console) await console.waitFor(dut.readyMarker, dut.timeouts.bootMs, from);
      const after = await observedPower('Running');
      expect(after).toEqual(before);
      expect(powerEvents(since).filter((e) => e.event.state !== 'Running' && e.event.state !== 'Paused')).toEqual([]);
    });

    it('live migration to the second host: afterwards the VM runs on exactly one host', async (ctx) => {
      if (hosts.length < 2) ctx.skip('migration needs two hosts');
      await ensureRunning();
      const from = vm.host;
      const to = (from + 1) % hosts.length;
      if (!caps(from).liveMigration || !caps(to).liveMigration) {
        expect((await driverError(() => migrate(to))).category).toBe('unsupported');
        return;
      }
      const before = await observed();
      const since = Date.now();
      await migrate(to);
      vm.host = to;
      tty = undefined;
      expect(await observed(from)).toBeUndefined();
      expect(await observed(to)).toEqual(before);
      expect((await session(from).listInstances()).map((i) => i.name)).not.toContain(vm.name);
      expect((await session(to).listInstances()).find((i) => i.name === vm.name)?.powerState).toBe('Running');
      expect(await session(to).powerState(ref())).toBe('Running');
      // A migration is not a stop: an HA monitor must not restart the VM elsewhere.
      await sleep(500);
      expect(powerEvents(since).filter((e) => e.event.state === 'Stopped' && e.event.reason !== 'migrated')).toEqual([]);
    });

    it('platform-driven move: reported as migrated, by the platform, on the new host, and the VM is found there', async (ctx) => {
      if (!t.platformMove) ctx.skip('the platform has no automation that moves VMs by itself');
      if (hosts.length < 2) ctx.skip('one host');
      await ensureRunning({ guestUp: false });
      const from = vm.host;
      const to = (from + 1) % hosts.length;
      const since = Date.now();
      await t.platformMove!({ name: vm.name, ref: vm.ref }, hostRef(to));
      const moved = await waitFor(`a platform 'migrated' event for ${vm.name}`, async () => powerEvents(since).map((e) => e.event).filter((e) => e.initiator === 'platform' && e.reason === 'migrated'), (found) => found.length > 0, dut.timeouts.eventMs)
        .catch((error: unknown) => {
          throw new Error(`${(error as Error).message}; all its power events: ${JSON.stringify(powerEvents(since).map((e) => e.event))}; on the host now: ${hosts.map((h) => h.session.ref).join(', ')}`);
        });
      expect(moved[0]).toMatchObject({ vmRef: ref(), hostRef: hostRef(to), state: 'Running' });
      // Nothing says it stopped: Kiln's HA monitor must follow the move, not restart the VM.
      expect(powerEvents(since).filter((e) => e.event.state === 'Stopped')).toEqual([]);
      vm.host = to;
      tty = undefined;
      expect(await observed(from)).toBeUndefined();
      expect((await observed(to))?.power).toBe('Running');
      expect(await session(to).powerState(ref())).toBe('Running');
      expect((await session(to).listInstances()).map((i) => i.ref)).toContain(ref());
      expect((await session(from).listInstances()).map((i) => i.ref)).not.toContain(ref());
    });

    it('storage motion: as the capability says, moving the disks with the VM works or is refused', async (ctx) => {
      if (hosts.length < 2) ctx.skip('migration needs two hosts');
      await ensureRunning();
      const from = vm.host;
      const to = (from + 1) % hosts.length;
      // A shared pool: a disk on the destination's local storage would keep the VM there, and the later cases move it on.
      const pools = (await session(to).inventory()).storagePools;
      const target = pools.find((p) => p.shared) ?? pools[0]!;
      const pool = target.ref ?? target.name;
      const volumePools = Object.fromEntries(vm.spec.disks.filter((d) => d.device === 'disk').map((d) => [d.name, pool]));
      // liveStorageMotion false: disks move only while the VM is stopped, so a running VM's move is refused (KVM moves them live since its block copy / copy-storage migration).
      if (!caps(from).storageMotion || !caps(to).storageMotion || caps(from).liveStorageMotion === false) {
        expect((await driverError(() => migrate(to, { volumePools }))).category).toBe('unsupported');
        // Settled: still running where it was.
        expect((await observed(from))?.power).toBe('Running');
        expect(await observed(to)).toBeUndefined();
        return;
      }
      await migrate(to, { volumePools });
      vm.host = to;
      tty = undefined;
      expect(await observed(from)).toBeUndefined();
      expect((await observed(to))?.power).toBe('Running');
    });

    it('graceful stop: Stopped on the host and a power event (shutdown)', async () => {
      await ensureRunning();
      const since = Date.now();
      await session().stop(ref(), { timeoutMs: dut.timeouts.stopMs });
      expect(await session().powerState(ref())).toBe('Stopped');
      expect((await observed())?.power).toBe('Stopped');
      // libvirt says 'shutdown'; a platform that cannot tell the guest's part may say 'stopped'. Never a crash.
      const event = await waitForEvent(since, vm.host, 'Stopped', ['shutdown', 'stopped']);
      expect(event).toMatchObject({ kind: 'power', vmRef: ref(), name: vm.name, state: 'Stopped', initiator: expect.stringMatching(/^(user|guest)$/) });
      // Stopping a stopped VM changes nothing.
      await session().stop(ref());
      expect((await observed())?.power).toBe('Stopped');
    });

    it('forced stop: Stopped at once and a power event (destroyed)', async () => {
      await ensureRunning({ guestUp: false });
      const since = Date.now();
      await session().stop(ref(), { forced: true });
      expect((await observed())?.power).toBe('Stopped');
      const event = await waitForEvent(since, vm.host, 'Stopped', ['destroyed', 'stopped']);
      expect(event).toMatchObject({ kind: 'power', vmRef: ref(), name: vm.name, state: 'Stopped', initiator: 'user' });
    });

    it('snapshots: a tree with parent and current, revert to an earlier one, delete', async (ctx) => {
      if (!session().snapshots) ctx.skip('no snapshot facet');
      await ensureStopped();
      await clearSnapshots();
      const cpuAtA = (await observed())!.cpuNumber;
      const other = cpuAtA === 1 ? 2 : 1;
      const take = (name: string, extra: Partial<SnapshotRequest> = {}) => snapshots().create(ref(), { name, withMemory: false, ...extra });

      await take('conf-a', { description: 'first' });
      await session().scale(ref(), { cpuNumber: other }, false);
      expect((await observed())?.cpuNumber).toBe(other);
      await take('conf-b');
      expect(await observedTree()).toEqual({ 'conf-a': { parent: undefined, current: false }, 'conf-b': { parent: 'conf-a', current: true } });
      const a = (await snapshots().list(ref())).find((s) => s.name === 'conf-a');
      expect(a).toMatchObject({ description: 'first', withMemory: false, current: false });

      // Revert: the definition of the time (its vCPUs) comes back, and conf-a is current.
      await snapshots().revert(ref(), await snapshotRef('conf-a'));
      expect(await observed()).toMatchObject({ power: 'Stopped', cpuNumber: cpuAtA });
      // A snapshot taken now branches off conf-a.
      await take('conf-c');
      const tree = { 'conf-a': { parent: undefined, current: false }, 'conf-b': { parent: 'conf-a', current: false }, 'conf-c': { parent: 'conf-a', current: true } };
      expect(await observedTree()).toEqual(tree);
      expect(await listedTree()).toEqual(tree);

      // Deleting conf-a moves its children up; the current one stays current.
      const gone = await snapshotRef('conf-a');
      await snapshots().remove(ref(), gone);
      const after = { 'conf-b': { parent: undefined, current: false }, 'conf-c': { parent: undefined, current: true } };
      expect(await observedTree()).toEqual(after);
      expect(await listedTree()).toEqual(after);
      expect((await driverError(() => snapshots().revert(ref(), gone))).category).toBe('not-found');
      expect((await driverError(() => snapshots().remove(ref(), gone))).category).toBe('not-found');
      await snapshots().remove(ref(), await snapshotRef('conf-c'));
      await snapshots().remove(ref(), await snapshotRef('conf-b'));
      expect(await observedTree()).toEqual({});
    });

    it('live migration of a VM with snapshots: they are on the destination after it, tree and current kept, as migrateWithSnapshots says', async (ctx) => {
      if (hosts.length < 2 || !session().snapshots || !caps().liveMigration) ctx.skip('needs two hosts, snapshots and live migration');
      await ensureStopped();
      await clearSnapshots();
      await snapshots().create(ref(), { name: 'conf-m1', withMemory: false });
      await snapshots().create(ref(), { name: 'conf-m2', withMemory: false });
      await ensureRunning({ guestUp: false });
      const from = vm.host;
      const to = (from + 1) % hosts.length;
      const tree = { 'conf-m1': { parent: undefined, current: false }, 'conf-m2': { parent: 'conf-m1', current: true } };
      if (!caps(from).migrateWithSnapshots || !caps(to).migrateWithSnapshots) {
        expect((await driverError(() => migrate(to), 'live migration with snapshots')).category).toBe('unsupported');
        expect((await observed(from))?.power).toBe('Running');
      } else {
        await migrate(to);
        vm.host = to;
        tty = undefined;
        expect(await observed(from)).toBeUndefined();
        expect((await observed(to))?.power).toBe('Running');
        expect(await observedTree()).toEqual(tree);
        expect(await listedTree()).toEqual(tree);
      }
      await snapshots().remove(ref(), await snapshotRef('conf-m2'));
      await snapshots().remove(ref(), await snapshotRef('conf-m1'));
      expect(await observedTree()).toEqual({});
    });

    it('snapshots of a running VM: memory, disk-only and quiesced, each as the capabilities say', async (ctx) => {
      if (!session().snapshots) {
        expect(caps().memorySnapshots || caps().diskSnapshotsWhileRunning || caps().quiesceSnapshots).toBe(false);
        ctx.skip('no snapshot facet');
      }
      await ensureRunning({ guestUp: false });
      await clearSnapshots();
      const take = (name: string, options: { withMemory: boolean; quiesce?: boolean }) => snapshots().create(ref(), { name, ...options });
      if (caps().memorySnapshots) {
        await take('conf-mem', { withMemory: true });
        expect((await snapshots().list(ref())).find((s) => s.name === 'conf-mem')).toMatchObject({ withMemory: true, current: true });
        // Reverting to a memory snapshot brings the VM back running, wherever it was since.
        await session().stop(ref(), { forced: true });
        await snapshots().revert(ref(), await snapshotRef('conf-mem'));
        expect((await observedPower('Running'))?.power).toBe('Running');
        await snapshots().remove(ref(), await snapshotRef('conf-mem'));
      } else {
        expect((await driverError(() => take('conf-mem', { withMemory: true }))).category).toBe('unsupported');
      }
      if (caps().diskSnapshotsWhileRunning) {
        await take('conf-disk', { withMemory: false });
        expect((await snapshots().list(ref())).find((s) => s.name === 'conf-disk')).toMatchObject({ withMemory: false });
        await snapshots().remove(ref(), await snapshotRef('conf-disk'));
      } else {
        expect((await driverError(() => take('conf-disk', { withMemory: false }))).category).toBe('unsupported');
      }
      const quiescedWith = { withMemory: !caps().diskSnapshotsWhileRunning, quiesce: true };
      if (caps().quiesceSnapshots) {
        await take('conf-quiet', quiescedWith);
        await snapshots().remove(ref(), await snapshotRef('conf-quiet'));
      } else {
        expect((await driverError(() => take('conf-quiet', quiescedWith))).category).toBe('unsupported');
      }
      expect(await observedTree()).toEqual({});
      expect((await observed())?.power).toBe('Running');
    });

    it('volumes: where the session offers the facet, a data disk attached to the running VM is in its definition; detached it leaves it and stays in storage; deleteDisks removes it', async (ctx) => {
      const facet = session().volumes;
      if (!facet) return ctx.skip('this host offers no volume facet');
      await ensureRunning();
      const disk = { name: `${randomUUID()}.${t.driver.defaults.diskFormat}`, sizeBytes: 64 * 1024 * 1024 };
      const before = (await observed())!.disks;
      await facet.attach(ref(), disk, { live: true, create: true });
      const added = (await observed())!.disks.filter((d) => !before.includes(d));
      expect(added).toHaveLength(1);
      expect(added[0]).toContain(disk.name);
      expect(await t.observe.diskExists(hostRef(), added[0]!)).toBe(true);
      // The same disk twice is refused, and the VM keeps one copy.
      expect((await driverError(() => facet.attach(ref(), disk, { live: true, create: false }))).category).toBe('invalid');
      expect((await observed())!.disks.filter((d) => d === added[0])).toHaveLength(1);
      await facet.detach(ref(), disk, { live: true });
      expect((await observed())!.disks).toEqual(before);
      expect(await t.observe.diskExists(hostRef(), added[0]!)).toBe(true);
      await session().deleteDisks([disk.name]);
      expect(await t.observe.diskExists(hostRef(), added[0]!)).toBe(false);
      expect((await observed())?.power).toBe('Running');
    });

    it('errors: operations on an unknown VM are DriverError not-found, and nothing appears on the host', async () => {
      const ghost = t.unknownRef?.() ?? dut.uniqueName('ghost');
      const s = session(0);
      expect(await s.powerState(ghost)).toBe('Missing');
      const calls: [string, () => Promise<unknown>][] = [
        ['start', () => s.start(ghost)],
        ['stop', () => s.stop(ghost)],
        ['forced stop', () => s.stop(ghost, { forced: true })],
        ['reboot', () => s.reboot(ghost)],
        ['destroy', () => s.destroy(ghost, { removeDisks: 'all' })],
        ['scale', () => s.scale(ghost, { cpuNumber: 2 }, true)],
      ];
      if (s.snapshots) {
        const facet = s.snapshots;
        calls.push(['snapshots.list', () => facet.list(ghost)], ['snapshots.create', () => facet.create(ghost, { name: 'x', withMemory: false })]);
      }
      const serial = s.console?.serial;
      if (serial) calls.push(['console.serial.open', () => serial.open(ghost)]);
      if (hosts.length > 1 && s.migration) {
        const facet = s.migration;
        const request: MigrationRequest = { vm: ghost, spec: t.guest(ghost), live: true };
        calls.push(['migration', async () => facet.perform(request, await (session(1).migration ?? facet).prepare(request))]);
      }
      for (const [what, call] of calls) {
        const error = await driverError(call, `${what} of an unknown VM`);
        expect({ what, category: error.category }).toEqual({ what, category: 'not-found' });
      }
      for (const { session: h } of hosts) expect(await t.observe.vm(h.ref, { name: ghost, ref: ghost })).toBeUndefined();
    });

    it('errors: what the VM\'s state does not allow is refused as invalid, and the VM is left as it was', async () => {
      await ensureStopped();
      expect((await driverError(() => session().reboot(ref()), 'reboot of a stopped VM')).category).toBe('invalid');
      expect((await observed())?.power).toBe('Stopped');
      await ensureRunning({ guestUp: false });
      expect((await driverError(() => session().start(ref()), 'start of a running VM')).category).toBe('invalid');
      expect((await driverError(() => session().define({ ...vm.spec, ref: vm.ref }), 'redefine of a running VM')).category).toBe('invalid');
      if (caps().liveMigration) expect((await driverError(() => migrate(vm.host), 'migration to the host it is on')).category).toBe('invalid');
      expect(await observed()).toMatchObject({ power: 'Running', uuid: vm.spec.uuid });
    });

    it('destroy: a running VM is powered off, undefined and its disks deleted', async () => {
      await ensureRunning({ guestUp: false });
      tty?.close();
      tty = undefined;
      const disks = (await observed())?.disks ?? [];
      await session().destroy(ref(), { removeDisks: 'all' });
      vm.defined = false;
      expect(await session().powerState(ref())).toBe('Missing');
      expect((await session().listInstances()).map((i) => i.name)).not.toContain(vm.name);
      for (let host = 0; host < hosts.length; host++) expect(await observed(host)).toBeUndefined();
      expect(disks.length).toBeGreaterThan(0);
      for (const disk of disks) expect({ disk, exists: await t.observe.diskExists(hostRef(), disk) }).toEqual({ disk, exists: false });
    });
  });
}

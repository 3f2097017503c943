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
import type { Duplex } from 'node:stream';
import { DriverError, type DriverCapabilities, type HostEvent, type HostSession, type HypervisorDriver, type PowerState, type VmSpec } from '../../drivers/types.js';

/** A VM as the host itself reports it, read without the driver under test. */
export interface ObservedVm {
  power: PowerState;
  uuid?: string;
  cpuNumber: number;
  memoryMiB: number;
  /** The names (or paths ending in the names) of its disks. */
  disks: string[];
}

export interface ObservedSnapshot {
  name: string;
  parent?: string;
  current: boolean;
}

/** The host's own view (virsh on the host, the simulator's world file, vcsim's inventory over SOAP). */
export interface HostObserver {
  /** The VM on host HOST (an index into ConformanceTarget.sessions), or undefined when it has none. */
  vm(host: number, name: string): Promise<ObservedVm | undefined>;
  /** Whether the host's storage still holds the disk a VmSpec named. */
  diskExists(host: number, disk: string): Promise<boolean>;
  snapshots(host: number, name: string): Promise<ObservedSnapshot[]>;
}

/** A connected driver, ready for the suite. */
export interface ConformanceTarget {
  driver: HypervisorDriver;
  /** One session per host; migration needs two. */
  sessions: HostSession[];
  /** A VM that boots on this driver: 1 vCPU, 128 MiB, room to scale live to 2 vCPUs and 256 MiB. */
  guest(name: string): VmSpec;
  observe: HostObserver;
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
export async function driverError(fn: () => Promise<unknown>): Promise<DriverError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    expect(error, `expected a DriverError, got ${String(error)}`).toBeInstanceOf(DriverError);
    return error as DriverError;
  }
  throw new Error(`expected a DriverError, but the call succeeded (${JSON.stringify(result)})`);
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
    let caps: DriverCapabilities;
    const made = new Set<string>();
    const events: { at: number; host: number; event: HostEvent }[] = [];
    const unsubscribe: (() => void)[] = [];
    /** The shared VM: its name, spec, and the host it is on now. */
    let vm: { name: string; spec: VmSpec; host: number; defined: boolean };
    let tty: Console | undefined;

    const session = () => t.sessions[vm.host]!;
    const observed = (host = vm.host) => t.observe.vm(host, vm.name);
    const powerEvents = (since: number, name = vm.name) =>
      events.filter((e): e is { at: number; host: number; event: PowerEvent } => e.at >= since && e.event.kind === 'power' && e.event.name === name);
    const waitForEvent = (since: number, host: number, state: PowerState) =>
      waitFor(`a power event ${state} for ${vm.name} from host #${host}`, async () => powerEvents(since).filter((e) => e.host === host && e.event.state === state), (found) => found.length > 0, dut.timeouts.eventMs).then((found) => found[0]!.event);
    const observedPower = (state: PowerState, host = vm.host) =>
      waitFor(`${vm.name} ${state} on host #${host}`, () => observed(host), (o) => o?.power === state, dut.timeouts.stopMs);

    async function openConsole(): Promise<Console> {
      if (!tty || tty.ended) tty = new Console(await session().openConsole(vm.name));
      return tty;
    }

    async function define(): Promise<void> {
      await session().define(vm.spec);
      vm.defined = true;
    }

    /** Running, with the guest up (its ready marker on the console, where there is one). */
    async function ensureRunning(): Promise<void> {
      if (!vm.defined) await define();
      if ((await session().powerState(vm.name)) === 'Running') return;
      await session().start(vm.name);
      if (caps.serialConsole) {
        tty?.close();
        tty = undefined;
        await (await openConsole()).waitFor(dut.readyMarker, dut.timeouts.bootMs);
      }
    }

    async function ensureStopped(): Promise<void> {
      if (!vm.defined) await define();
      if ((await session().powerState(vm.name)) !== 'Stopped') await session().stop(vm.name, { forced: true });
    }

    beforeAll(async () => {
      t = await dut.connect();
      caps = t.driver.capabilities;
      t.sessions.forEach((s, host) => unsubscribe.push(s.onEvent((event) => events.push({ at: Date.now(), host, event }))));
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

    it('announces its capabilities on the driver and on every session alike', () => {
      expect(t.sessions.length).toBeGreaterThan(0);
      for (const s of t.sessions) expect(s.capabilities).toEqual(caps);
    });

    it('define: the host lists the VM, stopped, with its vCPUs, memory and disks', async () => {
      await define();
      const listed = (await session().listInstances()).find((i) => i.name === vm.name);
      expect(listed).toMatchObject({ powerState: 'Stopped', uuid: vm.spec.uuid, cpuNumber: vm.spec.cpuNumber, memoryMiB: vm.spec.memoryMiB });
      expect(await session().powerState(vm.name)).toBe('Stopped');
      const seen = await observed();
      expect(seen).toMatchObject({ power: 'Stopped', uuid: vm.spec.uuid, cpuNumber: vm.spec.cpuNumber, memoryMiB: vm.spec.memoryMiB });
      for (const disk of vm.spec.disks.filter((d) => d.device === 'disk')) {
        expect(seen!.disks.some((d) => d === disk.name || d.endsWith(`/${disk.name}`)), `${disk.name} in ${seen!.disks.join(', ')}`).toBe(true);
        expect(await t.observe.diskExists(vm.host, disk.name)).toBe(true);
      }
    });

    it('define: the same VM again redefines it; another VM under the same name is refused and the first is kept', async () => {
      await define();
      await session().define(vm.spec);
      const twin = t.guest(vm.name);
      expect(twin.uuid).not.toBe(vm.spec.uuid);
      const error = await driverError(() => session().define(twin));
      expect(error.category).toBe('invalid');
      expect(await observed()).toMatchObject({ uuid: vm.spec.uuid, power: 'Stopped' });
    });

    it('start: Running on the host and a power event', async () => {
      await ensureStopped();
      const since = Date.now();
      await session().start(vm.name);
      expect(await session().powerState(vm.name)).toBe('Running');
      expect((await observed())?.power).toBe('Running');
      const event = await waitForEvent(since, vm.host, 'Running');
      expect(event).toMatchObject({ kind: 'power', name: vm.name, state: 'Running', reason: 'started' });
      if (caps.serialConsole) {
        // The guest boots: its serial console shows its ready marker.
        tty?.close();
        tty = undefined;
        await (await openConsole()).waitFor(dut.readyMarker, dut.timeouts.bootMs);
      }
    });

    it('console: the serial console carries the guest output and input, as the capability says', async () => {
      await ensureRunning();
      if (!caps.serialConsole) {
        expect((await driverError(() => session().openConsole(vm.name))).category).toBe('unsupported');
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

    it('live scale: up within the maximum is applied to the running VM; past the maximum it is refused', async () => {
      await ensureRunning();
      const maxCpu = vm.spec.maxCpuNumber ?? vm.spec.cpuNumber;
      if (caps.liveScaleCpu) {
        await session().scale(vm.name, { cpuNumber: maxCpu }, true);
        expect((await observed())?.cpuNumber).toBe(maxCpu);
        const error = await driverError(() => session().scale(vm.name, { cpuNumber: maxCpu + 1 }, true));
        expect(['invalid', 'unsupported', 'insufficient-capacity']).toContain(error.category);
        expect((await observed())?.cpuNumber).toBe(maxCpu);
      } else {
        expect((await driverError(() => session().scale(vm.name, { cpuNumber: maxCpu }, true))).category).toBe('unsupported');
      }
      const memory = Math.min(vm.spec.maxMemoryMiB ?? vm.spec.memoryMiB, vm.spec.memoryMiB + 64);
      if (caps.liveScaleMemory) {
        await session().scale(vm.name, { memoryMiB: memory }, true);
        expect((await observed())?.memoryMiB).toBe(memory);
        const max = vm.spec.maxMemoryMiB ?? vm.spec.memoryMiB;
        const error = await driverError(() => session().scale(vm.name, { memoryMiB: max + 128 }, true));
        expect(['invalid', 'unsupported', 'insufficient-capacity']).toContain(error.category);
        expect((await observed())?.memoryMiB).toBe(memory);
      } else {
        expect((await driverError(() => session().scale(vm.name, { memoryMiB: memory }, true))).category).toBe('unsupported');
      }
      expect((await observed())?.power).toBe('Running');
    });

    it('reboot: the guest restarts, keeps its definition, and no stop is reported', async () => {
      await ensureRunning();
      const before = await observed();
      const console = caps.serialConsole ? await openConsole() : undefined;
      const from = console?.text.length ?? 0;
      const since = Date.now();
      await session().reboot(vm.name);
      if (console) await console.waitFor(dut.readyMarker, dut.timeouts.bootMs, from);
      const after = await observedPower('Running');
      expect(after).toEqual(before);
      expect(powerEvents(since).filter((e) => e.event.state !== 'Running' && e.event.state !== 'Paused')).toEqual([]);
    });

    it('live migration to the second host: afterwards the VM runs on exactly one host', async (ctx) => {
      if (t.sessions.length < 2) ctx.skip();
      await ensureRunning();
      const from = vm.host;
      const to = (from + 1) % t.sessions.length;
      if (!caps.liveMigration) {
        expect((await driverError(() => session().migrate(vm.name, { session: t.sessions[to]! }, { live: true }))).category).toBe('unsupported');
        return;
      }
      const before = await observed();
      const since = Date.now();
      await session().migrate(vm.name, { session: t.sessions[to]! }, { live: true });
      vm.host = to;
      tty = undefined;
      expect(await t.observe.vm(from, vm.name)).toBeUndefined();
      expect(await observed(to)).toEqual(before);
      expect((await t.sessions[from]!.listInstances()).map((i) => i.name)).not.toContain(vm.name);
      expect((await t.sessions[to]!.listInstances()).find((i) => i.name === vm.name)?.powerState).toBe('Running');
      // A migration is not a stop: an HA monitor must not restart the VM elsewhere.
      await sleep(500);
      expect(powerEvents(since).filter((e) => e.event.state === 'Stopped' && e.event.reason !== 'migrated')).toEqual([]);
    });

    it('storage motion: as the capability says, moving the disks with the VM works or is refused', async (ctx) => {
      if (t.sessions.length < 2) ctx.skip();
      await ensureRunning();
      const from = vm.host;
      const to = (from + 1) % t.sessions.length;
      const pool = (await t.sessions[to]!.inventory()).storagePools[0]!.name;
      const volumePools = Object.fromEntries(vm.spec.disks.filter((d) => d.device === 'disk').map((d) => [d.name, pool]));
      if (!caps.storageMotion) {
        expect((await driverError(() => session().migrate(vm.name, { session: t.sessions[to]!, volumePools }, { live: true }))).category).toBe('unsupported');
        // Settled: still running where it was.
        expect((await observed(from))?.power).toBe('Running');
        expect(await t.observe.vm(to, vm.name)).toBeUndefined();
        return;
      }
      await session().migrate(vm.name, { session: t.sessions[to]!, volumePools }, { live: true });
      vm.host = to;
      tty = undefined;
      expect(await t.observe.vm(from, vm.name)).toBeUndefined();
      expect((await observed(to))?.power).toBe('Running');
    });

    it('graceful stop: Stopped on the host and a power event (shutdown)', async () => {
      await ensureRunning();
      const since = Date.now();
      await session().stop(vm.name, { timeoutMs: dut.timeouts.stopMs });
      expect(await session().powerState(vm.name)).toBe('Stopped');
      expect((await observed())?.power).toBe('Stopped');
      const event = await waitForEvent(since, vm.host, 'Stopped');
      expect(event).toMatchObject({ kind: 'power', name: vm.name, state: 'Stopped', reason: 'shutdown' });
      // Stopping a stopped VM changes nothing.
      await session().stop(vm.name);
      expect((await observed())?.power).toBe('Stopped');
    });

    it('forced stop: Stopped at once and a power event (destroyed)', async () => {
      await ensureRunning();
      const since = Date.now();
      await session().stop(vm.name, { forced: true });
      expect((await observed())?.power).toBe('Stopped');
      const event = await waitForEvent(since, vm.host, 'Stopped');
      expect(event).toMatchObject({ kind: 'power', name: vm.name, state: 'Stopped', reason: 'destroyed' });
    });

    it('snapshots: a tree with parent and current, revert to an earlier one, delete', async () => {
      await ensureStopped();
      const cpuAtA = (await observed())!.cpuNumber;
      const other = cpuAtA === 1 ? 2 : 1;
      const byName = async () => Object.fromEntries((await t.observe.snapshots(vm.host, vm.name)).map((s) => [s.name, { parent: s.parent, current: s.current }]));
      const listed = async () => Object.fromEntries((await session().listSnapshots(vm.name)).map((s) => [s.name, { parent: s.parent, current: s.current }]));

      await session().createSnapshot(vm.name, { name: 'conf-a', description: 'first', withMemory: false });
      await session().scale(vm.name, { cpuNumber: other }, false);
      expect((await observed())?.cpuNumber).toBe(other);
      await session().createSnapshot(vm.name, { name: 'conf-b', withMemory: false });
      expect(await byName()).toEqual({ 'conf-a': { parent: undefined, current: false }, 'conf-b': { parent: 'conf-a', current: true } });
      const a = (await session().listSnapshots(vm.name)).find((s) => s.name === 'conf-a');
      expect(a).toMatchObject({ description: 'first', withMemory: false, current: false });

      // Revert: the definition of the time (its vCPUs) comes back, and conf-a is current.
      await session().revertSnapshot(vm.name, 'conf-a');
      expect(await observed()).toMatchObject({ power: 'Stopped', cpuNumber: cpuAtA });
      // A snapshot taken now branches off conf-a.
      await session().createSnapshot(vm.name, { name: 'conf-c', withMemory: false });
      const tree = { 'conf-a': { parent: undefined, current: false }, 'conf-b': { parent: 'conf-a', current: false }, 'conf-c': { parent: 'conf-a', current: true } };
      expect(await byName()).toEqual(tree);
      expect(await listed()).toEqual(tree);

      // Deleting conf-a moves its children up; the current one stays current.
      await session().deleteSnapshot(vm.name, 'conf-a');
      const after = { 'conf-b': { parent: undefined, current: false }, 'conf-c': { parent: undefined, current: true } };
      expect(await byName()).toEqual(after);
      expect(await listed()).toEqual(after);
      expect((await driverError(() => session().revertSnapshot(vm.name, 'conf-a'))).category).toBe('not-found');
      expect((await driverError(() => session().deleteSnapshot(vm.name, 'conf-a'))).category).toBe('not-found');
      await session().deleteSnapshot(vm.name, 'conf-c');
      await session().deleteSnapshot(vm.name, 'conf-b');
      expect(await byName()).toEqual({});
    });

    it('snapshots of a running VM: memory, disk-only and quiesced, each as the capabilities say', async () => {
      await ensureRunning();
      const take = (name: string, options: { withMemory: boolean; quiesce?: boolean }) => session().createSnapshot(vm.name, { name, ...options });
      if (caps.memorySnapshots) {
        await take('conf-mem', { withMemory: true });
        expect((await session().listSnapshots(vm.name)).find((s) => s.name === 'conf-mem')).toMatchObject({ withMemory: true, current: true });
        // Reverting to a memory snapshot brings the VM back running, wherever it was since.
        await session().stop(vm.name, { forced: true });
        await session().revertSnapshot(vm.name, 'conf-mem');
        expect((await observedPower('Running'))?.power).toBe('Running');
        await session().deleteSnapshot(vm.name, 'conf-mem');
      } else {
        expect((await driverError(() => take('conf-mem', { withMemory: true }))).category).toBe('unsupported');
      }
      if (caps.diskSnapshotsWhileRunning) {
        await take('conf-disk', { withMemory: false });
        expect((await session().listSnapshots(vm.name)).find((s) => s.name === 'conf-disk')).toMatchObject({ withMemory: false });
        await session().deleteSnapshot(vm.name, 'conf-disk');
      } else {
        expect((await driverError(() => take('conf-disk', { withMemory: false }))).category).toBe('unsupported');
      }
      const quiescedWith = { withMemory: !caps.diskSnapshotsWhileRunning, quiesce: true };
      if (caps.quiesceSnapshots) {
        await take('conf-quiet', quiescedWith);
        await session().deleteSnapshot(vm.name, 'conf-quiet');
      } else {
        expect((await driverError(() => take('conf-quiet', quiescedWith))).category).toBe('unsupported');
      }
      expect(await t.observe.snapshots(vm.host, vm.name)).toEqual([]);
      expect((await observed())?.power).toBe('Running');
    });

    it('errors: operations on an unknown VM are DriverError not-found, and nothing appears on the host', async () => {
      const ghost = dut.uniqueName('ghost');
      const s = t.sessions[0]!;
      expect(await s.powerState(ghost)).toBe('Missing');
      const calls: [string, () => Promise<unknown>][] = [
        ['start', () => s.start(ghost)],
        ['stop', () => s.stop(ghost)],
        ['forced stop', () => s.stop(ghost, { forced: true })],
        ['reboot', () => s.reboot(ghost)],
        ['destroy', () => s.destroy(ghost, { removeDisks: 'all' })],
        ['scale', () => s.scale(ghost, { cpuNumber: 2 }, true)],
        ['listSnapshots', () => s.listSnapshots(ghost)],
        ['createSnapshot', () => s.createSnapshot(ghost, { name: 'x', withMemory: false })],
      ];
      if (caps.serialConsole) calls.push(['openConsole', () => s.openConsole(ghost)]);
      if (t.sessions.length > 1) calls.push(['migrate', () => s.migrate(ghost, { session: t.sessions[1]! }, { live: true })]);
      for (const [what, call] of calls) {
        const error = await driverError(call);
        expect({ what, category: error.category }).toEqual({ what, category: 'not-found' });
      }
      for (let host = 0; host < t.sessions.length; host++) expect(await t.observe.vm(host, ghost)).toBeUndefined();
    });

    it('errors: what the VM\'s state does not allow is refused as invalid, and the VM is left as it was', async () => {
      await ensureStopped();
      expect((await driverError(() => session().reboot(vm.name))).category).toBe('invalid');
      expect((await observed())?.power).toBe('Stopped');
      await ensureRunning();
      expect((await driverError(() => session().start(vm.name))).category).toBe('invalid');
      expect((await driverError(() => session().define(vm.spec))).category).toBe('invalid');
      if (caps.liveMigration) {
        expect((await driverError(() => session().migrate(vm.name, { session: session() }, { live: true }))).category).toBe('invalid');
      }
      expect(await observed()).toMatchObject({ power: 'Running', uuid: vm.spec.uuid });
    });

    it('destroy: a running VM is powered off, undefined and its disks deleted', async () => {
      await ensureRunning();
      tty?.close();
      tty = undefined;
      await session().destroy(vm.name, { removeDisks: 'all' });
      vm.defined = false;
      expect(await session().powerState(vm.name)).toBe('Missing');
      expect((await session().listInstances()).map((i) => i.name)).not.toContain(vm.name);
      for (let host = 0; host < t.sessions.length; host++) expect(await t.observe.vm(host, vm.name)).toBeUndefined();
      for (const disk of vm.spec.disks.filter((d) => d.device === 'disk')) expect(await t.observe.diskExists(vm.host, disk.name)).toBe(false);
    });
  });
}

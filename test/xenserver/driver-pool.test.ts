/**
 * The XenServer driver against the xapi simulator, on what a pool does around the VMs: the
 * inventory comes from event.from alone (no get_all_records, no per-object reads); control
 * domains, templates and snapshots are not guests; an expired session is survived; a member's
 * URL reaches the master; a master that goes away marks every host disconnected and comes back;
 * a changed certificate is refused; pool HA's restart is reported as the platform's, with no stop
 * in between; and untrusted names reach xapi as the exact text, or are refused.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, type Endpoint, type EndpointEvent, type VmSpec } from '../../drivers/types.js';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = 'Kiln test template';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, ms = 8_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

const spec = (name: string, extra: Partial<VmSpec> = {}): VmSpec => ({
  internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 256,
  disks: [{ name: `${name}.vhd`, sizeBytes: 10 * 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [], ...extra,
});

describe('XenServer driver: the pool', () => {
  let sim: XapiSim;
  let admin: Session;
  let driver: XenServerDriver;
  let ep: Endpoint;
  const events: EndpointEvent[] = [];

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 3, vms: [{ name: TEMPLATE, template: true }, { name: 'outsider', power_state: 'Running', host: 0 }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    admin = await Session.login(sim.url, sim.username, sim.password);
    driver = new XenServerDriver({ eventTimeoutSeconds: 1, haTimeoutMs: 2_000 });
    await sim.calls(true);
    ep = await driver.connect({ hostId: 'pool-test', url: sim.url, username: sim.username, password: sim.password });
    ep.onEvent((e) => events.push(e));
  });
  afterAll(async () => {
    await ep?.close();
    await sim?.stop();
  });

  it('syncs the inventory through event.from only, and pins the certificate it saw first', async () => {
    const calls = await sim.calls();
    expect(calls.filter((c) => /get_all_records|get_record/.test(c))).toEqual([]);
    expect(calls).toContain('event.from');
    expect(ep.trust).toEqual({ kind: 'tls-certificate', fingerprint: sim.thumbprint });
    const hosts = await ep.hosts();
    expect(hosts.map((h) => h.connected)).toEqual([true, true, true]);
    expect(new Set(hosts.map((h) => h.cluster))).toEqual(new Set(['xapi-sim pool']));
  });

  it('lists guests only: no control domain, template or snapshot', async () => {
    const [h0] = await ep.hosts();
    const session = ep.host(h0!.ref);
    const outsider = (await session.listInstances()).find((i) => i.name === 'outsider');
    expect(outsider).toMatchObject({ powerState: 'Running' });
    await admin.callAsync('VM.snapshot', outsider!.ref, 'outsider-snap', []);
    await sleep(300);
    const names = (await session.listInstances()).map((i) => i.name);
    expect(names).toEqual(['outsider']);
  });

  it('survives an expired session: the next call logs in again once and succeeds', async () => {
    const [h0] = await ep.hosts();
    const session = ep.host(h0!.ref);
    const made = await session.define(spec('i-2-10-expiry'));
    await sim.expireSessions();
    admin = await Session.login(sim.url, sim.username, sim.password);
    await session.start(made.ref);
    expect(await session.powerState(made.ref)).toBe('Running');
    await session.destroy(made.ref, { removeDisks: 'all' }).catch(() => undefined);
  });

  it('a member\'s URL reaches the master (HOST_IS_SLAVE) and lists the same hosts', async () => {
    const member = new URL(sim.url);
    member.hostname = '127.0.0.2';
    const other = await new XenServerDriver({ eventTimeoutSeconds: 1 }).connect({ hostId: 'via-member', url: member.toString().replace(/\/$/, ''), username: sim.username, password: sim.password });
    try {
      expect((await other.hosts()).map((h) => h.name)).toEqual((await ep.hosts()).map((h) => h.name));
    } finally {
      await other.close();
    }
  });

  it('a certificate other than the pinned one is refused as host-key-changed, naming what was presented', async () => {
    const wrong = 'AA:'.repeat(31) + 'AA';
    const e = await new XenServerDriver().connect({ hostId: 'pinned', url: sim.url, username: sim.username, password: sim.password, pinnedTrust: { kind: 'tls-certificate', fingerprint: wrong } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ category: 'host-key-changed', details: { presented: { kind: 'tls-certificate', fingerprint: sim.thumbprint } } });
  });

  it('names go to xapi as the exact text; control characters are refused before anything is made', async () => {
    const [h0] = await ep.hosts();
    const session = ep.host(h0!.ref);
    const hostile = 'i-2-11-"]}<value>&amp;</value>\'; rm -rf /';
    const made = await session.define(spec(hostile, { displayName: '<b>x</b> & "y"' }));
    const rec = await admin.call<Record<string, unknown>>('VM.get_record', made.ref);
    expect(rec).toMatchObject({ name_label: hostile, name_description: '<b>x</b> & "y"' });
    const before = Object.keys(await admin.call<Record<string, unknown>>('VM.get_all_records')).length;
    const e = await session.define(spec('i-2-12-bad\u0007name')).catch((x: unknown) => x);
    expect(e).toMatchObject({ category: 'invalid' });
    expect(Object.keys(await admin.call<Record<string, unknown>>('VM.get_all_records')).length).toBe(before);
    await session.destroy(made.ref, { removeDisks: 'all' });
  });

  it('a migration xapi fails leaves the VM running where it was, and that host still its home once it halts', async () => {
    const [a, b] = sim.info.hosts.map((h) => ep.host(h.ref));
    const made = await a!.define(spec('i-2-14-nomove'));
    await a!.start(made.ref);
    await sim.control('vm-tools', { vm: made.ref, tools: true });
    await sim.fault('Async.VM.pool_migrate', { error: ['INTERNAL_ERROR', 'migration stream broke'], count: 1 });
    const request = { vm: made.ref, spec: spec('i-2-14-nomove'), live: true };
    const e = await a!.migration!.perform(request, await b!.migration!.prepare(request)).catch((x: unknown) => x);
    expect(e).toMatchObject({ category: 'failed', message: expect.stringContaining('INTERNAL_ERROR [migration stream broke]') });
    expect(await a!.powerState(made.ref)).toBe('Running');
    expect(await b!.powerState(made.ref)).toBe('Missing');
    await a!.stop(made.ref, { forced: true });
    expect(await a!.powerState(made.ref)).toBe('Stopped');
    expect(await b!.powerState(made.ref)).toBe('Missing');
    await a!.destroy(made.ref, { removeDisks: 'all' });
  });

  it('R8: a guest that does not shut down within the timeout, or refuses, is powered off; the clean shutdown task is cancelled', async () => {
    const [h0] = await ep.hosts();
    const session = ep.host(h0!.ref);
    const made = await session.define(spec('i-2-16-r8'));
    await session.start(made.ref);
    await sim.control('vm-tools', { vm: made.ref, tools: true });
    await sim.control('vm-behaviour', { vm: made.ref, cleanShutdown: 'hang' });
    await sim.calls(true);
    await session.stop(made.ref, { timeoutMs: 600 });
    expect(await session.powerState(made.ref)).toBe('Stopped');
    const calls = await sim.calls();
    expect(calls.filter((c) => /shutdown|task\.cancel/.test(c))).toEqual(['Async.VM.clean_shutdown', 'task.cancel', 'Async.VM.hard_shutdown']);
    await session.start(made.ref);
    await sim.control('vm-behaviour', { vm: made.ref, cleanShutdown: 'fail' });
    await session.stop(made.ref, { timeoutMs: 60_000 });
    expect(await session.powerState(made.ref)).toBe('Stopped');
    await session.destroy(made.ref, { removeDisks: 'all' });
  });

  it('reattachTask: a task started before a restart is followed to its end (success with its result, or its error)', async () => {
    const [h0] = await ep.hosts();
    const session = ep.host(h0!.ref);
    const made = await session.define(spec('i-2-15-task'));
    // Another process's task (Kiln before a restart): started, not waited for.
    await sim.control('options', { taskDelayMs: 300 });
    const task = await admin.call<string>('Async.VM.clone', made.ref, 'i-2-15-task-copy');
    const done = await ep.reattachTask!(task);
    expect(done).toMatchObject({ state: 'success', result: expect.stringMatching(/^OpaqueRef:/) });
    const failing = await admin.call<string>('Async.VM.clean_shutdown', made.ref);
    expect(await ep.reattachTask!(failing)).toMatchObject({ state: 'error', error: expect.stringContaining('VM_BAD_POWER_STATE') });
    await sim.control('options', { taskDelayMs: 5 });
    await admin.call('VM.destroy', done.result);
    await session.destroy(made.ref, { removeDisks: 'all' });
  });

  it('pool HA: when a host fails, xapi\'s restart elsewhere is the platform\'s, with no stop reported; the dead host answers unreachable', async () => {
    await admin.call('pool.enable_ha', [], {});
    const victim = sim.info.hosts[1]!.ref;
    const session = ep.host(victim);
    // Kiln waits the HA timeout on a lost host of an HA pool (xapi fences and restarts by itself).
    await until('the driver to see pool HA on', () => session.isolationFencing?.timeoutMs, (v) => v === 2_000);
    const made = await session.define(spec('i-2-13-ha', { highAvailability: true }));
    await session.start(made.ref);
    expect(await admin.call('VM.get_ha_restart_priority', made.ref)).toBe('restart');
    const since = events.length;
    const { restarted } = await sim.control<{ restarted: { vm: string; host: string }[] }>('host-crash', { host: victim, restartDelayMs: 400 });
    expect(restarted.map((r) => r.vm)).toContain(made.ref);
    const target = restarted.find((r) => r.vm === made.ref)!.host;
    const mine = () => events.slice(since).filter((e): e is Extract<EndpointEvent, { kind: 'power' }> => e.kind === 'power' && e.vmRef === made.ref);
    const [seen] = await until('the restart event', () => mine().filter((e) => e.state === 'Running'), (l) => l.length > 0);
    expect(seen).toMatchObject({ hostRef: target, initiator: 'platform', reason: expect.stringMatching(/^(restarted|migrated)$/) });
    expect(mine().filter((e) => e.state !== 'Running')).toEqual([]);
    expect(events.slice(since)).toContainEqual({ kind: 'host', hostRef: victim, state: 'disconnected' });
    expect(await session.listInstances().catch((e: unknown) => e)).toMatchObject({ category: 'unreachable' });
    expect(await ep.host(target).powerState(made.ref)).toBe('Running');
    await sim.control('host-recover', { host: victim });
    await ep.host(target).destroy(made.ref, { removeDisks: 'all' });
  });

  it('a master that goes away marks every host disconnected; when it is back they are connected again', async () => {
    const since = events.length;
    await sim.hostDown(0);
    await until('host disconnected events', () => events.slice(since).filter((e) => e.kind === 'host' && e.state === 'disconnected').length, (n) => n === 3);
    expect(events.slice(since).find((e) => e.kind === 'connection')).toMatchObject({ kind: 'connection', state: 'down' });
    const [h0] = await ep.hosts().catch(() => [undefined]);
    expect(h0).toBeUndefined();
    await sim.hostUp(0);
    await until('host connected events', () => events.slice(since).filter((e) => e.kind === 'host' && e.state === 'connected').length, (n) => n === 3, 15_000);
    expect((await ep.hosts()).every((h) => h.connected)).toBe(true);
  });
});

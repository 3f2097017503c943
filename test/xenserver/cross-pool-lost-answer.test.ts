/**
 * XenServer cross-pool migration when the source pool master's connections are reset while Kiln
 * waits for migrate_send's answer (ECONNRESET, "socket hang up"): the copy is still under way (the
 * simulator's copy takes a second, as a real one takes minutes), so nothing can yet say where the
 * VM ends, and the driver (vm-migration.ts whereItEnded) asks the source until its migrate_send
 * ends, then reports the VM's new ref in the other pool, not the connection error ("the pool
 * master is unreachable", 534 to the user) for a VM that did move:
 *  - the first reads of the source VM after the cut are lost too (c816923: asked again);
 *  - the destination is slow to check and to take the VM: the source VM shows migrate_send all
 *    that time, as xapi's does (the simulator did not, during the destination's check and while
 *    it received the VM, and the driver took the move for over: CI's one failure of
 *    engine-cross-pool's lost-answer case);
 *  - a master that takes the reads and never answers ends the wait when its time is up.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DriverError } from '../../drivers/types.js';
import { XenPool } from '../../drivers/xenserver/pool.js';
import { performCrossPool, prepareIncoming } from '../../drivers/xenserver/vm-migration.js';
import { XapiSim } from '../helpers/xapi-sim.js';

/** How long the source's migrate_send copies before the VM appears in the other pool (ms). */
const COPY_MS = 1_000;

describe('XenServer cross-pool migration: the source master\'s connections reset while the answer is awaited', () => {
  let a: XapiSim;
  let b: XapiSim;
  let from: XenPool;
  let to: XenPool;

  beforeAll(async () => {
    a = await XapiSim.start({ hosts: [{ name: 'src-host' }], vms: ['mover', 'far', 'stuck'].map((name) => ({ name, power_state: 'Running' as const })), eventTimeoutClampS: 1, taskDelayMs: COPY_MS });
    b = await XapiSim.start({ hosts: [{ name: 'dst-host' }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    from = await XenPool.open({ url: a.url, username: a.username, password: a.password, eventTimeoutSeconds: 1 });
    to = await XenPool.open({ url: b.url, username: b.username, password: b.password, eventTimeoutSeconds: 1 });
  }, 60_000);
  afterAll(async () => {
    await from?.close();
    await to?.close();
    await a?.stop();
    await b?.stop();
  });

  it('task.get_record and then VM.get_record lose their connection during the copy: the move still ends with the VM\'s ref in the other pool', async () => {
    const [vm, rec] = from.inventory.all('VM').find(([, v]) => v.name_label === 'mover')!;
    const [dstHost] = to.inventory.all('host')[0]!;
    const plan = await prepareIncoming(to, dstHost, ['mover 0'], {});
    // The cut (each call dropped after it reached the master, as a reset connection loses its
    // answer) is armed for the calls made once migrate_send's task exists, not before.
    await a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    await a.fault('VM.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    await a.calls(true);

    const moved = await performCrossPool(from, to, vm, {}, plan);

    const there = to.vm(moved.ref);
    expect([there?.uuid, there?.power_state, there?.resident_on]).toEqual([rec.uuid, 'Running', dstHost]);
    expect(moved.disks).toEqual([{ name: 'mover 0', ref: expect.stringMatching(/^OpaqueRef:/), pool: to.inventory.get('SR', plan.defaultSr)!.name_label }]);
    expect(from.inventory.all('VM').filter(([, v]) => v.uuid === rec.uuid)).toEqual([]);
    // The path taken: the task's answer was cut, then the source VM's reads (two lost, then one answered).
    const calls = await a.calls();
    const sent = calls.slice(calls.indexOf('Async.VM.migrate_send') + 1);
    expect(sent).toContain('task.get_record');
    expect(sent.filter((c) => c === 'VM.get_record').length).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('the destination is slow to check and to take the VM: the source VM shows migrate_send all along, so the move ends with the VM\'s ref in the other pool', async () => {
    const [vm, rec] = from.inventory.all('VM').find(([, v]) => v.name_label === 'far')!;
    const [dstHost] = to.inventory.all('host')[0]!;
    const plan = await prepareIncoming(to, dstHost, ['far 0'], {});
    // assert_can_migrate's check, migrate_send's check and the VM's arrival there each take 300 ms.
    await b.fault('_sim.receive_migration', { delayMs: 300, count: 3 });
    await a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });

    const moved = await performCrossPool(from, to, vm, {}, plan);

    expect([to.vm(moved.ref)?.uuid, to.vm(moved.ref)?.power_state]).toEqual([rec.uuid, 'Running']);
    expect(from.inventory.all('VM').filter(([, v]) => v.uuid === rec.uuid)).toEqual([]);
  }, 30_000);

  it('a master that then takes the source VM\'s reads and never answers: the wait ends when its time is up, not one client timeout per read', async () => {
    const [vm] = from.inventory.all('VM').find(([, v]) => v.name_label === 'stuck')!;
    const [dstHost] = to.inventory.all('host')[0]!;
    const plan = await prepareIncoming(to, dstHost, ['stuck 0'], {});
    // The copy outlasts the wait, so nothing can say where the VM ends before the wait's time is up.
    await a.control('options', { taskDelayMs: 10_000 });
    await a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    await a.fault('VM.get_record', { delayMs: 30_000, count: 100, after: 'Async.VM.migrate_send' });

    const failed = await performCrossPool(from, to, vm, {}, plan, { lostAnswerWaitMs: 1_500 }).then(() => undefined, (e: unknown) => e);
    expect(failed).toBeInstanceOf(DriverError);
    expect((failed as DriverError).message).toMatch(/^migrating stuck to another pool: the pool master is unreachable: .*\(ECONNRESET\): socket hang up$/);
    // Without the bound, each read waits for the client's 60 s timeout (or the master's answer 30 s on): this test's 15 s are up first.
  }, 15_000);
  afterEach(async () => {
    await a.control('clear-faults');
    await b.control('clear-faults');
    await a.control('options', { taskDelayMs: COPY_MS });
  });
});

/**
 * A cross-pool migration whose outcome Kiln could not learn, settled afterwards (xapi simulator,
 * two pools, each a Kiln cluster). migrate_send's answer is lost (task.get_record cut twice, past
 * the client's own retry) and the copy outlasts the driver's wait for it (lostAnswerWaitMs), so the
 * job fails with the connection error (534) and the VM is still recorded on its source host, as it
 * still runs there. The simulator then finishes the copy: the VM runs in the other pool under a new
 * ref and is gone from the first. The next reconcile pass must follow it there (its ref, host,
 * cluster and volumes, with an event saying the move completed after all) instead of recording it
 * Stopped while the destination pool lists it as a VM Kiln does not manage. The same for a VM an
 * earlier pass already recorded Stopped, for an HA VM found by its source host's check alone (not
 * restarted), and for a stopped VM moved by its storage (recorded Stopped there, started there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoXenPools, type TwoXenPools } from '../helpers/two-xen-pools.js';

const TEMPLATE = '/srv/xen-templates/kiln-unknown-outcome';
/** The copy (the source's task) outlasts the driver's wait for a lost answer. */
const COPY_MS = 4_000;
const WAIT_MS = 1_000;
type Rec = Record<string, unknown>;

describe('a cross-pool migration reported failed (its answer lost past the wait) that completes after all', () => {
  let pools: TwoXenPools;
  const ids: Record<string, string> = {};
  const ok = (command: string, params: Record<string, string> = {}) => pools.ok(command, params);
  const job = (command: string, params: Record<string, string>) => pools.job(command, params);
  const row = (uuid: string) => pools.row(uuid);
  const hostRow = (name: string) => pools.t.engine.db.prepare('SELECT id FROM hosts WHERE name=?').pluck().get(name) as number;

  beforeAll(async () => {
    pools = await twoXenPools({ template: TEMPLATE, hostsA: [{ name: 'a-host-1' }], hostsB: [{ name: 'b-host-1' }], lostAnswerWaitMs: WAIT_MS });
    Object.assign(ids, pools.ids);
    ids['poolB'] = ((await ok('listClusters', { name: 'Pool B' }))['cluster'] as { id: string }[])[0]!.id;
    const nfsB = ((await ok('listStoragePools', { clusterid: ids['poolB'] }))['storagepool'] as { id: string; name: string }[]).find((p) => p.name === 'NFS virtual disk storage')!;
    ids['nfsB'] = nfsB.id;
    ids['ha'] = ((await ok('createServiceOffering', { name: 'small-ha', displaytext: 'small HA', cpunumber: '1', cpuspeed: '1000', memory: '1024', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
  }, 90_000);
  afterAll(async () => {
    await pools?.close();
  });

  /** Deploys NAME on a-host-1 and migrates it to b-host-1 with the answer lost past the wait; returns once Kiln's sessions see it in pool B. */
  const moveLosingTheAnswer = async (name: string, offering = 'small', stopped = false) => {
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids[offering]!, networkids: ids['network']!, hostid: ids['a-host-1']!, name });
    expect(deployed['jobstatus']).toBe(1);
    const vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const [[oldRef]] = await pools.inPool(pools.xa, vm);
    if (stopped) expect((await job('stopVirtualMachine', { id: vm }))['jobstatus']).toBe(1);

    await pools.a.control('options', { taskDelayMs: COPY_MS });
    await pools.a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    // A stopped VM moves to the other pool by its storage (migrateVirtualMachine storageid).
    const failed = await job('migrateVirtualMachine', { virtualmachineid: vm, ...(stopped ? { storageid: ids['nfsB']! } : { hostid: ids['b-host-1']! }) });
    await pools.a.control('clear-faults');
    await pools.a.control('options', { taskDelayMs: 5 });
    const result = failed['jobresult'] as { errorcode: number; errortext: string };
    expect([failed['jobstatus'], result.errorcode]).toEqual([2, 534]);
    expect(result.errortext).toMatch(/to another pool: the pool master is unreachable: .*\(ECONNRESET\): socket hang up/);
    // When the job gave up the VM was still (migrating) on its source host: Kiln records it there.
    expect(row(vm)).toMatchObject({ ref: oldRef, state: stopped ? 'Stopped' : 'Running', host: stopped ? null : 'a-host-1', cluster: 'Pool A' });

    // The simulator finishes the copy: the VM is in pool B under a new ref, gone from pool A.
    const until = Date.now() + 20_000;
    while ((await pools.inPool(pools.xb, vm)).length === 0 || (await pools.inPool(pools.xa, vm)).length > 0) {
      if (Date.now() > until) throw new Error('the copy did not end');
      await new Promise((r) => setTimeout(r, 100));
    }
    const [[newRef, rec]] = await pools.inPool(pools.xb, vm);
    expect(rec['power_state']).toBe(stopped ? 'Halted' : 'Running');
    // Kiln's sessions have read it too (their inventories follow xapi's events).
    const source = await pools.t.engine.hosts.session(hostRow('a-host-1'));
    const destination = await pools.t.engine.hosts.session(hostRow('b-host-1'));
    while ((await source.powerState(oldRef!)) !== 'Missing' || !(await destination.listInstances()).some((i) => i.ref === newRef)) {
      if (Date.now() > until) throw new Error('Kiln\'s sessions did not see the move');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { vm, newRef: newRef!, rec };
  };

  /** What the user sees once the pass followed the move: Running on b-host-1, its volume there, not unmanaged, the event. */
  const expectFollowed = async (vm: string, newRef: string, rec: Rec) => {
    const listed = ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!;
    expect([listed['state'], listed['hostname'], listed['hostid']]).toEqual(['Running', 'b-host-1', ids['b-host-1']]);
    expect(row(vm)).toEqual({ ref: newRef, state: 'Running', host: 'b-host-1', cluster: 'Pool B' });
    const volumes = (await ok('listVolumes', { virtualmachineid: vm }))['volume'] as Rec[];
    expect(volumes.map((v) => v['storage'])).toEqual(['NFS virtual disk storage']);
    const vdis = await Promise.all((rec['VBDs'] as string[]).map((vbd) => pools.xb.call<string>('VBD.get_VDI', vbd)));
    const volumeRefs = pools.t.engine.db.prepare('SELECT o.ref FROM volumes o JOIN vm_instances v ON v.id=o.vm_id WHERE v.uuid=? AND o.removed IS NULL').pluck().all(vm);
    expect(volumeRefs).toHaveLength(1);
    expect(vdis).toEqual(expect.arrayContaining(volumeRefs));
    const unmanaged = ((await ok('listUnmanagedInstances', { clusterid: ids['poolB']! }))['unmanagedinstance'] as Rec[] | undefined) ?? [];
    expect(unmanaged.map((u) => u['name'])).not.toContain(rec['name_label']);
    const events = ((await ok('listEvents', { type: 'VM.MIGRATE' }))['event'] as Rec[] | undefined) ?? [];
    expect(events.filter((e) => String(e['description']).includes(vm)).map((e) => e['description'])).toContainEqual(
      expect.stringMatching(/is running on host b-host-1: its move from host a-host-1, .* completed after all/),
    );
  };

  it('the job fails with the lost answer\'s error; once the copy ends, the next reconcile has the VM Running on the destination host with its volume there, and not unmanaged', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('late-mover');
    await pools.t.engine.background.ha.pass();
    await expectFollowed(vm, newRef, rec);
  }, 60_000);

  it('a VM an earlier pass already recorded Stopped (missing from its host) is found Running in the other pool and recorded there', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('later-mover');
    // What a pass before this change recorded: Stopped outside Kiln, its last host the source.
    const id = pools.t.engine.db.prepare('SELECT id FROM vm_instances WHERE uuid=?').pluck().get(vm) as number;
    pools.t.engine.vms.transition(pools.t.engine.vms.get(id), 'Stopped', { hostId: null, note: 'stopped outside Kiln: missing from host' });
    pools.t.engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostRow('a-host-1'), id);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!['state']).toBe('Stopped');
    await pools.t.engine.background.ha.pass();
    await expectFollowed(vm, newRef, rec);
  }, 60_000);

  it('an HA VM whose source host is checked alone (the destination host disabled, so the pass skips it) is found in the other pool by that check, not restarted', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('ha-mover', 'ha');
    const dst = hostRow('b-host-1');
    pools.t.engine.db.prepare(`UPDATE hosts SET resource_state='Disabled' WHERE id=?`).run(dst);
    try {
      await pools.t.engine.background.ha.pass();
    } finally {
      pools.t.engine.db.prepare(`UPDATE hosts SET resource_state='Enabled' WHERE id=?`).run(dst);
    }
    await expectFollowed(vm, newRef, rec);
    const restarts = ((await ok('listEvents', { type: 'HA.RESTART' }))['event'] as Rec[] | undefined) ?? [];
    expect(restarts.filter((e) => String(e['description']).includes(vm))).toEqual([]);
    expect(await pools.inPool(pools.xa, vm)).toEqual([]);
  }, 60_000);

  it('a stopped VM moved by its storage whose answer was lost is recorded Stopped in the other pool, its next start there', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('cold-mover', 'small', true);
    await pools.t.engine.background.ha.pass();
    expect(row(vm)).toEqual({ ref: newRef, state: 'Stopped', host: null, cluster: 'Pool B' });
    const volumes = (await ok('listVolumes', { virtualmachineid: vm }))['volume'] as Rec[];
    expect(volumes.map((v) => v['storage'])).toEqual(['NFS virtual disk storage']);
    const unmanaged = ((await ok('listUnmanagedInstances', { clusterid: ids['poolB']! }))['unmanagedinstance'] as Rec[] | undefined) ?? [];
    expect(unmanaged.map((u) => u['name'])).not.toContain(rec['name_label']);
    const events = ((await ok('listEvents', { type: 'VM.MIGRATE' }))['event'] as Rec[] | undefined) ?? [];
    expect(events.filter((e) => String(e['description']).includes(vm)).map((e) => e['description'])).toContainEqual(expect.stringMatching(/is stopped on host b-host-1: its move from host a-host-1, .* completed after all/));
    const started = await job('startVirtualMachine', { id: vm });
    expect([started['jobstatus'], (started['jobresult'] as { virtualmachine: Rec }).virtualmachine['hostname']]).toEqual([1, 'b-host-1']);
    expect((await pools.inPool(pools.xb, vm)).map(([ref, r]) => [ref, r['power_state']])).toEqual([[newRef, 'Running']]);
  }, 60_000);
});

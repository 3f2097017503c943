/**
 * The migrateallowed vouch ends for the disks a XenServer move across pools carried (xapi
 * simulator, two pools, each a Kiln cluster). A VM Kiln did not make, imported with
 * migrateallowed=true, may go anywhere its zone's placement allows: the admin said its disks are
 * reachable. migrateVirtualMachine to a host of the other pool names no disk, but xapi's
 * migrate_send carries every disk to that pool's default SR, here the local SR of b-host-1. From
 * then on Kiln knows the disk by its own move: it binds the VM to b-host-1, and a migration to
 * b-host-2 is refused with 533 naming the pool, the VM still running on b-host-1. The same when
 * the move's answer was lost and the reconcile finds the VM in the other pool afterwards
 * (moved-after-all.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoXenPools, type TwoXenPools } from '../helpers/two-xen-pools.js';
import type { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-import-vouch';
/** The copy (the source's task) outlasts the driver's wait for a lost answer. */
const COPY_MS = 4_000;
const WAIT_MS = 1_000;
const LOCAL_B1 = 'Local storage on b-host-1';
type Rec = Record<string, unknown>;

describe('an imported VM (migrateallowed=true) moved to another XenServer pool', () => {
  let pools: TwoXenPools;
  const ids: Record<string, string> = {};
  const ok = (command: string, params: Record<string, string> = {}) => pools.ok(command, params);
  const job = (command: string, params: Record<string, string>) => pools.job(command, params);
  const hostRow = (name: string) => pools.t.engine.db.prepare('SELECT id FROM hosts WHERE name=?').pluck().get(name) as number;
  /** The pool's VM records named NAME. */
  const named = async (x: Session, name: string) => Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => v['name_label'] === name);

  beforeAll(async () => {
    pools = await twoXenPools({ template: TEMPLATE, hostsA: [{ name: 'a-host-1' }], hostsB: [{ name: 'b-host-1' }, { name: 'b-host-2' }], lostAnswerWaitMs: WAIT_MS });
    Object.assign(ids, pools.ids);
    ids['poolA'] = ((await ok('listClusters', { name: 'Pool A' }))['cluster'] as { id: string }[])[0]!.id;
    // Pool B places a disk it receives on b-host-1's local SR (its default SR).
    const poolRef = (await pools.xb.call<string[]>('pool.get_all'))[0]!;
    const local = Object.entries(await pools.xb.call<Record<string, Rec>>('SR.get_all_records')).find(([, s]) => s['name_label'] === LOCAL_B1)![0];
    await pools.xb.call('pool.set_default_SR', poolRef, local);
    await ok('listStoragePools');
  }, 90_000);
  afterAll(async () => {
    await pools?.close();
  });

  /** A VM made in pool A outside Kiln (its disk on the shared NFS SR), running on a-host-1, imported with migrateallowed=true. */
  const importVouched = async (name: string): Promise<string> => {
    await pools.a.control('add-vm', { vm: { name, power_state: 'Running' } });
    // Kiln's session reads it once xapi's events say so.
    const unmanaged = async () => ((await ok('listUnmanagedInstances', { clusterid: ids['poolA']!, name }))['unmanagedinstance'] as Rec[] | undefined) ?? [];
    const until = Date.now() + 20_000;
    let listed = await unmanaged();
    while (listed.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      listed = await unmanaged();
    }
    expect(listed.map((u) => u['name'])).toEqual([name]);
    const nic = (listed[0]!['nic'] as Rec[])[0]!;
    const imported = await job('importUnmanagedInstance', {
      clusterid: ids['poolA']!, name, serviceofferingid: ids['small']!, templateid: ids['template']!, migrateallowed: 'true',
      'nicnetworklist[0].nic': String(nic['id']), 'nicnetworklist[0].network': ids['network']!,
    });
    expect(imported['jobstatus']).toBe(1);
    const vm = (imported['jobresult'] as { virtualmachine: Rec }).virtualmachine;
    expect([vm['state'], vm['hostname']]).toEqual(['Running', 'a-host-1']);
    return String(vm['id']);
  };

  /** migrateVirtualMachine of VM to HOST: the refusal (code and text, of the call or of its job), or '' when it moved. */
  const migrateTo = async (vm: string, host: string): Promise<string> => {
    const res = await pools.t.call('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids[host]! });
    if (res.status !== 200) return `${res.status} ${String(res.body['errortext'])}`;
    const done = await pools.t.engine.jobs.wait(String(res.body['jobid']));
    const result = done['jobresult'] as { errorcode?: number; errortext?: string };
    return done['jobstatus'] === 1 ? '' : `${result.errorcode} ${result.errortext}`;
  };

  /** What a user sees once the VM is in pool B: running on b-host-1, its disk on b-host-1's local SR, and bound there. */
  const expectBoundToB1 = async (vm: string, name: string) => {
    const listed = ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!;
    expect([listed['state'], listed['hostname']]).toEqual(['Running', 'b-host-1']);
    const pool = ((await ok('listStoragePools', { name: LOCAL_B1 }))['storagepool'] as Rec[]).find((p) => p['name'] === LOCAL_B1)!;
    const volumes = (await ok('listVolumes', { virtualmachineid: vm }))['volume'] as Rec[];
    expect(volumes.map((v) => [v['storage'], v['storageid']])).toEqual([[LOCAL_B1, pool['id']]]);
    const refusal = await migrateTo(vm, 'b-host-2');
    expect(refusal).toMatch(/^533 Cannot migrate VM /);
    expect(refusal).toMatch(/b-host-2: volume .* is on local storage pool Local storage on b-host-1 of host b-host-1/);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!['hostname']).toBe('b-host-1');
    const [[, rec]] = await named(pools.xb, name);
    expect([rec['power_state'], rec['resident_on']]).toEqual(['Running', pools.b.info.hosts[0]!.ref]);
  };

  it('migrateVirtualMachine to a host of the other pool carries its disk to that pool\'s default SR, a local one: the VM is bound to that host, a migration to another is refused naming the pool', async () => {
    const vm = await importVouched('legacy-web');
    expect(await migrateTo(vm, 'b-host-1')).toBe('');
    expect(await named(pools.xa, 'legacy-web')).toEqual([]);
    await expectBoundToB1(vm, 'legacy-web');
  }, 60_000);

  it('the same move with its answer lost, found in the other pool by the next reconcile: the VM is bound to that host the same way', async () => {
    const vm = await importVouched('legacy-db');
    // The import marked it with Kiln's uuid (other_config kiln_uuid), which the reconcile follows a lost move by.
    const [[oldRef, oldRec]] = await named(pools.xa, 'legacy-db');
    expect((oldRec['other_config'] as Record<string, string>)['kiln_uuid']).toBe(vm);

    await pools.a.control('options', { taskDelayMs: COPY_MS });
    await pools.a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    const failed = await job('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids['b-host-1']! });
    await pools.a.control('clear-faults');
    await pools.a.control('options', { taskDelayMs: 5 });
    expect([failed['jobstatus'], (failed['jobresult'] as { errorcode: number }).errorcode]).toEqual([2, 534]);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!['hostname']).toBe('a-host-1');

    // The simulator finishes the copy; Kiln's sessions read it (their inventories follow xapi's events).
    const until = Date.now() + 20_000;
    while ((await named(pools.xb, 'legacy-db')).length === 0 || (await named(pools.xa, 'legacy-db')).length > 0) {
      if (Date.now() > until) throw new Error('the copy did not end');
      await new Promise((r) => setTimeout(r, 100));
    }
    const [[newRef]] = await named(pools.xb, 'legacy-db');
    const source = await pools.t.engine.hosts.session(hostRow('a-host-1'));
    const destination = await pools.t.engine.hosts.session(hostRow('b-host-1'));
    while ((await source.powerState(oldRef!)) !== 'Missing' || !(await destination.listInstances()).some((i) => i.ref === newRef)) {
      if (Date.now() > until) throw new Error('Kiln\'s sessions did not see the move');
      await new Promise((r) => setTimeout(r, 100));
    }
    await pools.t.engine.background.ha.pass();
    const events = ((await ok('listEvents', { type: 'VM.MIGRATE' }))['event'] as Rec[] | undefined) ?? [];
    expect(events.filter((e) => String(e['description']).includes(vm)).map((e) => e['description'])).toContainEqual(expect.stringMatching(/completed after all/));
    await expectBoundToB1(vm, 'legacy-db');
  }, 60_000);
});

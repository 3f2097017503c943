/** Affinity groups, migration, the explainer and N−1 headroom through the API on the simulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let alice: Caller;
let bob: Caller;
let big: string;
let hosts: { id: number; uuid: string; name: string }[];

async function deploy(params: Record<string, string>, caller: Caller = alice) {
  return t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: big, ...params }, caller);
}
const vmOf = (job: Record<string, unknown>) => (job['jobresult'] as { virtualmachine: Record<string, string> }).virtualmachine;

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  for (const name of ['alice', 'bob']) t.engine.accounts.createAccount({ name, role: 'User', domainId: t.admin.domainId, username: name, password: 'secret-pw' });
  alice = t.engine.accounts.byUserId((t.engine.db.prepare(`SELECT id FROM users WHERE username='alice'`).get() as { id: number }).id)!;
  bob = t.engine.accounts.byUserId((t.engine.db.prepare(`SELECT id FROM users WHERE username='bob'`).get() as { id: number }).id)!;
  big = ((await t.call('createServiceOffering', { name: 'eight-gig', cpunumber: '1', cpuspeed: '500', memory: '8192' })).body['serviceoffering'] as { id: string }).id;
  // Two usable hosts make the "third VM" case: the third simulated host goes into maintenance.
  hosts = t.engine.db.prepare('SELECT id, uuid, name FROM hosts ORDER BY id').all() as typeof hosts;
  t.engine.db.prepare(`UPDATE hosts SET resource_state='Maintenance' WHERE id=?`).run(hosts[2]!.id);
});
afterAll(() => t.close());

describe('affinity groups (R27)', () => {
  it('lists the group types', async () => {
    const res = await t.call('listAffinityGroupTypes', {}, alice);
    expect((res.body['affinityGroupType'] as { type: string }[]).map((x) => x.type)).toContain('host anti-affinity');
  });

  it('spreads two anti-affinity VMs over two hosts and refuses a third with 533 and the reasons', async () => {
    const created = await t.run('createAffinityGroup', { name: 'web', type: 'host anti-affinity' }, alice);
    expect(created['jobresult']).toMatchObject({ affinitygroup: { name: 'web', type: 'host anti-affinity', account: 'alice' } });
    const a = vmOf(await deploy({ name: 'web-1', affinitygroupnames: 'web' }));
    const b = vmOf(await deploy({ name: 'web-2', affinitygroupnames: 'web' }));
    const placement = t.engine.db.prepare(`SELECT host_id FROM vm_instances WHERE uuid IN (?,?)`).all(a['id'], b['id']) as { host_id: number }[];
    expect(new Set(placement.map((p) => p.host_id)).size).toBe(2);
    const before = dbFingerprint(t.engine);
    const third = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: big, name: 'web-3', affinitygroupnames: 'web' }, alice);
    expect(third.status).toBe(533);
    // Users get the short form without the per-host detail object; the text names the reasons.
    expect(String(third.body['errortext'])).toMatch(/anti-affinity \(web\): VM web-1 already on this host/);
    expect(String(third.body['errortext'])).toMatch(/host is Maintenance/);
    expect(dbFingerprint(t.engine)).toBe(before);
    const listed = (await t.call('listAffinityGroups', { name: 'web' }, alice)).body['affinitygroup'] as { virtualmachineIds: string[] }[];
    expect(listed[0]!.virtualmachineIds.sort()).toEqual([a['id'], b['id']].sort());
  });

  it('returns the placement explanation with the job result, and as a dry run', async () => {
    await t.run('createAffinityGroup', { name: 'db', type: 'host anti-affinity' });
    const first = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'db-1', affinitygroupnames: 'db' });
    const placement = vmOf(first)['placement'] as unknown as { hosts: { hostName: string; suitable: boolean; reason: string }[] };
    expect(placement.hosts.map((h) => h.reason)).toContain('host is Maintenance');
    const groupId = ((await t.call('listAffinityGroups', { name: 'db' })).body['affinitygroup'] as { id: string }[])[0]!.id;
    const dry = await t.call('explainPlacement', { zoneid: ids.zoneid, serviceofferingid: ids.small, affinitygroupids: groupId });
    const hostsSeen = (dry.body['placement'] as { hosts: { reason: string }[] }).hosts.map((h) => h.reason);
    expect(hostsSeen.some((r) => /anti-affinity \(db\): VM db-1 already on this host/.test(r))).toBe(true);
    expect((await t.call('listApis', { name: 'explainPlacement' })).body['count']).toBe(1);
  });

  it('refuses bad input without changing anything', async () => {
    const before = dbFingerprint(t.engine);
    const unknown = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, affinitygroupnames: 'nope' }, alice);
    expect(unknown.status).toBe(431);
    expect(String(unknown.body['errortext'])).toMatch(/affinitygroupnames: the account has no affinity group named nope/);
    const alicesGroup = ((await t.call('listAffinityGroups', { name: 'web' }, alice)).body['affinitygroup'] as { id: string }[])[0]!.id;
    const foreign = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, affinitygroupids: alicesGroup }, bob);
    expect(foreign.status).toBe(531);
    const badType = await t.call('createAffinityGroup', { name: 'x', type: 'rack anti-affinity' }, alice);
    expect(badType.status).toBe(431);
    expect(String(badType.body['errortext'])).toMatch(/type: no affinity group type "rack anti-affinity"/);
    const running = ((await t.call('listVirtualMachines', { name: 'web-1' }, alice)).body['virtualmachine'] as { id: string }[])[0]!.id;
    const notStopped = await t.call('updateVMAffinityGroup', { id: running, affinitygroupnames: 'web' }, alice);
    expect(notStopped.status).toBe(431);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('detaches members when a group is deleted; they keep running and later starts ignore it', async () => {
    await t.run('createAffinityGroup', { name: 'temp', type: 'host affinity' }, alice);
    const vm = vmOf(await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'temp-1', affinitygroupnames: 'temp' }, alice));
    const deleted = await t.run('deleteAffinityGroup', { name: 'temp' }, alice);
    expect(deleted['jobresult']).toEqual({ success: true });
    const after = ((await t.call('listVirtualMachines', { id: vm['id']! }, alice)).body['virtualmachine'] as { state: string; affinitygroup: unknown[] }[])[0]!;
    expect(after).toMatchObject({ state: 'Running', affinitygroup: [] });
  });

  it('changes a stopped VM\'s groups with updateVMAffinityGroup', async () => {
    const vm = vmOf(await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'joiner', startvm: 'false' }, alice));
    const res = await t.run('updateVMAffinityGroup', { id: vm['id']!, affinitygroupnames: 'web' }, alice);
    expect((res['jobresult'] as { virtualmachine: { affinitygroup: { name: string }[] } }).virtualmachine.affinitygroup.map((g) => g.name)).toEqual(['web']);
  });
});

describe('migration (R20)', () => {
  it('is for the root admin and running VMs only', async () => {
    const web1 = ((await t.call('listVirtualMachines', { name: 'web-1' }, alice)).body['virtualmachine'] as { id: string }[])[0]!.id;
    expect((await t.call('migrateVirtualMachine', { virtualmachineid: web1 }, alice)).status).toBe(432);
    const stopped = ((await t.call('listVirtualMachines', { name: 'joiner' }, alice)).body['virtualmachine'] as { id: string }[])[0]!.id;
    const before = dbFingerprint(t.engine);
    const res = await t.call('migrateVirtualMachine', { virtualmachineid: stopped });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/only a Running VM can be migrated/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('refuses a migration that would break anti-affinity, and explains every host', async () => {
    const web1 = ((await t.call('listVirtualMachines', { name: 'web-1' }, alice)).body['virtualmachine'] as { id: string }[])[0]!.id;
    const web2Host = (t.engine.db.prepare(`SELECT h.uuid FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.hostname='web-2'`).get() as { uuid: string }).uuid;
    const res = await t.call('migrateVirtualMachine', { virtualmachineid: web1, hostid: web2Host });
    expect(res.status).toBe(533);
    expect(String(res.body['errortext'])).toMatch(/anti-affinity \(web\): VM web-2 already on this host/);
    const found = (await t.call('findHostsForMigration', { id: web1 })).body['host'] as { name: string; suitableformigration: boolean; reason: string }[];
    expect(found).toHaveLength(3);
    expect(found.every((h) => !h.suitableformigration)).toBe(true);
  });

  it('moves a running VM live to a chosen host', async () => {
    const vm = vmOf(await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'nomad', hostid: hosts[0]!.uuid }));
    const moved = await t.run('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: hosts[1]!.uuid });
    expect(moved['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: hosts[1]!.uuid } });
    const internal = (t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm['id']) as { internal_name: string }).internal_name;
    expect(t.engine.simulator.world.find(hosts[1]!.name)!.domains[internal]?.power).toBe('Running');
    expect(t.engine.simulator.world.find(hosts[0]!.name)!.domains[internal]).toBeUndefined();
  });
});

describe('migration with volumes (R21)', () => {
  it('moves the VM and its volumes to a named pool, and names a pool that does not exist', async () => {
    const vm = vmOf(await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'mover-vol', hostid: hosts[0]!.uuid }));
    const root = (t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).get(vm['id']) as { uuid: string }).uuid;
    const before = dbFingerprint(t.engine);
    const bad = await t.call('migrateVirtualMachineWithVolume', { virtualmachineid: vm['id']!, hostid: hosts[1]!.uuid, 'migrateto[0].volume': root, 'migrateto[0].pool': 'nowhere' });
    expect(bad.status).toBe(431);
    expect(String(bad.body['errortext'])).toMatch(/migrateto\[0\]\.pool: host sim-host-2 has no storage pool "nowhere"/);
    expect(dbFingerprint(t.engine)).toBe(before);
    const moved = await t.run('migrateVirtualMachineWithVolume', { virtualmachineid: vm['id']!, hostid: hosts[1]!.uuid, 'migrateto[0].volume': root, 'migrateto[0].pool': 'sim-primary' });
    expect(moved['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: hosts[1]!.uuid } });
    expect(t.engine.db.prepare('SELECT pool FROM volumes WHERE uuid=?').get(root)).toEqual({ pool: 'sim-primary' });
  });
});

describe('restarts honour anti-affinity (CloudStack #7202)', () => {
  it('does not start a VM on its last host when an anti-affinity peer now runs there', async () => {
    await t.run('createAffinityGroup', { name: 'pair', type: 'host anti-affinity' }, alice);
    const a = vmOf(await deploy({ name: 'pair-a', affinitygroupnames: 'pair', serviceofferingid: ids.small, hostid: undefined as unknown as string }));
    const aHost = (t.engine.db.prepare('SELECT host_id FROM vm_instances WHERE uuid=?').get(a['id']) as { host_id: number }).host_id;
    await t.run('stopVirtualMachine', { id: a['id']! }, alice);
    const b = vmOf(await deploy({ name: 'pair-b', affinitygroupnames: 'pair', serviceofferingid: ids.small }));
    // Put b on a's last host, as if it had moved there while a was stopped.
    const bHost = (t.engine.db.prepare('SELECT host_id FROM vm_instances WHERE uuid=?').get(b['id']) as { host_id: number }).host_id;
    if (bHost !== aHost) await t.run('migrateVirtualMachine', { virtualmachineid: b['id']!, hostid: hosts.find((h) => h.id === aHost)!.uuid });
    const started = await t.run('startVirtualMachine', { id: a['id']! }, alice);
    expect(started['jobstatus']).toBe(1);
    const now = (t.engine.db.prepare('SELECT host_id FROM vm_instances WHERE uuid=?').get(a['id']) as { host_id: number }).host_id;
    expect(now).not.toBe(aHost);
  });
});

describe('N−1 headroom (R14)', () => {
  it('answers per cluster, and changes when a host goes down', async () => {
    const h = await testEngine();
    try {
      const d = demoIds(h.engine);
      const tenGig = ((await h.call('createServiceOffering', { name: 'ten-gig', cpunumber: '1', cpuspeed: '500', memory: '10240' })).body['serviceoffering'] as { id: string }).id;
      const simHosts = h.engine.db.prepare('SELECT uuid, name FROM hosts ORDER BY id').all() as { uuid: string; name: string }[];
      for (const i of [0, 1]) await h.run('deployVirtualMachine', { zoneid: d.zoneid, templateid: d.templateid, serviceofferingid: tenGig, name: `big-${i}`, hostid: simHosts[i]!.uuid });
      const cluster = ((await h.call('listClusters')).body['cluster'] as { id: string; haheadroom: boolean }[])[0]!;
      expect(cluster.haheadroom).toBe(true);
      const ok = (await h.call('checkClusterHeadroom', { clusterid: cluster.id })).body['clusterheadroom'] as { hasheadroom: boolean; hostfailure: { hostname: string; canrestartall: boolean }[] };
      expect(ok).toMatchObject({ hasheadroom: true });
      expect(ok.hostfailure).toHaveLength(3);
      await h.engine.background.ha.pass();
      // The spare host goes down: now losing host 1 would strand its 10 GB VM.
      h.engine.simulator.setHostUp(simHosts[2]!.name, false);
      for (let i = 0; i < 3; i++) await h.engine.background.ha.pass();
      const lost = (await h.call('checkClusterHeadroom', { clusterid: cluster.id })).body['clusterheadroom'] as { hasheadroom: boolean; hostfailure: { hostname: string; unplaceable: { name: string; reason: string }[] }[] };
      expect(lost.hasheadroom).toBe(false);
      const stranded = lost.hostfailure.find((f) => f.hostname === simHosts[0]!.name)!.unplaceable;
      expect(stranded.map((u) => u.name)).toEqual(['big-0']);
      expect(stranded[0]!.reason).toMatch(/memory: needs 10240 MB/);
      expect(stranded[0]!.reason).toMatch(/host is Down/);
      expect(((await h.call('listClusters')).body['cluster'] as { haheadroom: boolean }[])[0]!.haheadroom).toBe(false);
      const events = (await h.call('listEvents', { type: 'CLUSTER.HEADROOM.LOST' })).body['event'] as unknown[];
      expect(events).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

/**
 * checkClusterHeadroom's what-if and the HA restart judge a VM the same way (R13, R14; issue 13's
 * local storage). On the simulator zone: local-host (Demo Cluster) has a HOST-scoped pool loc-disk;
 * other-host is in a second cluster. An HA VM whose root disk (untagged) sits on loc-disk is bound
 * to local-host: headroom says it could not restart elsewhere, naming the pool and its host, and
 * when local-host goes down HA does not start it anywhere else (before, other-host, in another
 * cluster, passed the local-disk rule and HA started the VM there without its disk) and says why
 * in the VM's events; it restarts on local-host once that host is back. A VM whose disk is on the
 * cluster's shared pool (sim-primary, CLUSTER scope as a KVM pool named in details sharedPools)
 * restarts on another host of its cluster in both, and HA keeps it in its cluster as headroom does.
 * A user's start of the local-disk VM on other-host is refused too: a start carries no disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { haVmOnLocalDisk } from '../helpers/local-disk-vm.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let demoCluster: string;
let haOffering: string;

interface Failure { hostname: string; vmcount: number; canrestartall: boolean; unplaceable: { name: string; reason: string }[] }
const headroom = async () => (await t.ok('checkClusterHeadroom', { clusterid: demoCluster }))['clusterheadroom'] as { hasheadroom: boolean; warning: string[]; hostfailure: Failure[] };
const row = (id: string) => t.engine.db.prepare('SELECT v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; host: string | null };
const events = (id: string) => t.engine.db.prepare(`SELECT type, description FROM events WHERE resource_uuid=? ORDER BY id`).all(id) as { type: string; description: string }[];
const domainsOf = (host: string) => Object.keys(t.engine.simulator.world.find(host)!.domains);
const haPasses = async (n: number) => {
  for (let i = 0; i < n; i++) await t.engine.background.ha.pass();
  await t.engine.jobs.drain();
};

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  // The demo VMs are stopped so the test decides what runs where.
  for (const vm of t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state='Running'`).all() as { uuid: string }[]) await t.run('stopVirtualMachine', { id: vm.uuid });
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.name='Demo Cluster'`).get() as { uuid: string; pod: string };
  demoCluster = cluster.uuid;
  await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: 'simulator://local-host?localpools=loc-disk&memory=65536', username: 'root', password: 'x' });
  const other = (await t.ok('addCluster', { clustername: 'Other Cluster', zoneid: ids.zoneid, podid: cluster.pod, hypervisor: 'Simulator' }))['cluster'] as { id: string };
  await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: other.id, hypervisor: 'Simulator', url: 'simulator://other-host?memory=65536', username: 'root', password: 'x' });
  await t.ok('listStoragePools', {});
  haOffering = ((await t.ok('createServiceOffering', { name: 'ha-local', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
  // Firstfit: the planner's order is the hosts' order, so a restart that may leave the cluster would.
  await t.ok('updateConfiguration', { name: 'vm.allocation.algorithm', value: 'firstfit' });
});
afterAll(() => t.close());

/** An HA VM on local-host whose untagged root disk is moved onto local-host's own pool loc-disk. */
async function vmOnLocalDisk(name: string): Promise<{ id: string; root: string }> {
  const vm = await haVmOnLocalDisk(t, name, haOffering);
  expect(row(vm.id)).toEqual({ state: 'Running', host: 'local-host' });
  expect(t.engine.db.prepare(`SELECT p.name, p.scope FROM volumes v JOIN storage_pools p ON p.id=v.pool_id WHERE v.uuid=?`).get(vm.rootId)).toEqual({ name: 'loc-disk', scope: 'HOST' });
  return { id: vm.id, root: vm.root };
}

describe('HA and headroom on a VM bound to its host by a local disk', () => {
  it('headroom says it cannot restart elsewhere, and HA does not start it on another host, saying why, until its host is back', async () => {
    const vm = await vmOnLocalDisk('ha-on-local');
    const bound = `volume ${vm.root} is on local storage pool loc-disk of host local-host, which only that host reaches; the VM can restart only there (move the volume to shared storage first: migrateVolume)`;
    const failure = (await headroom()).hostfailure.find((f) => f.hostname === 'local-host')!;
    expect(failure).toMatchObject({ vmcount: 1, canrestartall: false });
    expect(failure.unplaceable).toMatchObject([{ name: 'ha-on-local', reason: bound }]);

    t.engine.simulator.setHostUp('local-host', false);
    try {
      await haPasses(4);
      expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
      expect(domainsOf('other-host')).toEqual([]);
      expect(domainsOf('sim-host-1').filter((d) => d.includes('ha-on-local'))).toEqual([]);
      // The same reason headroom gave, in the VM's events.
      const said = events(vm.id).filter((e) => e.description.includes(bound));
      expect(said.length).toBeGreaterThan(0);
      expect(said[0]!.description).toContain('ha-on-local');
    } finally {
      t.engine.simulator.setHostUp('local-host', true);
    }
    // Back: the retried restart runs it where its disk is.
    await haPasses(2);
    expect(row(vm.id)).toEqual({ state: 'Running', host: 'local-host' });
    // A user's start on a host of another cluster carries no disk either (before, other-host passed and ran it without its disk).
    await t.job('stopVirtualMachine', { id: vm.id });
    const otherHost = t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name='other-host'`).pluck().get() as string;
    const refused = await t.run('startVirtualMachine', { id: vm.id, hostid: otherHost });
    expect(refused['jobresult']).toMatchObject({ errorcode: 533 });
    expect(String((refused['jobresult'] as { errortext: string }).errortext)).toContain(`other-host: volume ${vm.root} is on local storage pool loc-disk of host local-host, which this host does not reach`);
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
    expect(domainsOf('other-host')).toEqual([]);
    await t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
  });

  it("a VM on the cluster's shared pool restarts on another host of its cluster in both, and where none there fits, in neither", async () => {
    const localHost = t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name='local-host'`).pluck().get() as string;
    // Bigger than any sim-host (16 GB): only local-host (Demo Cluster) and other-host (another cluster) could run it.
    const big = ((await t.ok('createServiceOffering', { name: 'ha-big', cpunumber: '1', cpuspeed: '500', memory: '20480', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
    const large = await deployDemo(t, { name: 'ha-shared-big', serviceofferingid: big, haenable: 'true', hostid: localHost });
    const small = await deployDemo(t, { name: 'ha-shared-small', serviceofferingid: haOffering, haenable: 'true', hostid: localHost });
    await t.ok('listStoragePools', {});
    for (const id of [large['id']!, small['id']!]) {
      expect(t.engine.db.prepare(`SELECT p.name, p.scope FROM volumes v JOIN vm_instances m ON m.id=v.vm_id JOIN storage_pools p ON p.id=v.pool_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(id)).toEqual({ name: 'sim-primary', scope: 'CLUSTER' });
    }
    const failure = (await headroom()).hostfailure.find((f) => f.hostname === 'local-host')!;
    expect(failure).toMatchObject({ vmcount: 2, canrestartall: false });
    expect(failure.unplaceable.map((u) => u.name)).toEqual(['ha-shared-big']);
    expect(failure.unplaceable[0]!.reason).toContain('sim-host-1: memory: needs 20480 MB');
    expect(failure.unplaceable[0]!.reason).not.toContain('other-host');

    t.engine.simulator.setHostUp('local-host', false);
    try {
      await haPasses(4);
      // As headroom said: the small one on a host of its cluster, the big one nowhere (not on other-host, which does not reach sim-primary of Demo Cluster).
      expect(row(small['id']!)).toEqual({ state: 'Running', host: 'sim-host-1' });
      expect(row(large['id']!)).toEqual({ state: 'Stopped', host: null });
      expect(domainsOf('other-host')).toEqual([]);
      expect(events(large['id']!).some((e) => e.description.includes('sim-host-1: memory: needs 20480 MB'))).toBe(true);
    } finally {
      t.engine.simulator.setHostUp('local-host', true);
    }
    await haPasses(2);
    expect(row(large['id']!)).toEqual({ state: 'Running', host: 'local-host' });
    for (const id of [large['id']!, small['id']!]) await t.run('destroyVirtualMachine', { id, expunge: 'true' });
  });
});

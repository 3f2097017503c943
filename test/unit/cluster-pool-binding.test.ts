/**
 * A made disk on a cluster's pool (CLUSTER scope) binds its VM to that cluster's hosts, tagged or
 * not: a start carries no disk, so a host of another cluster would run the VM without it. On the
 * simulator zone: the VM's untagged root disk is on sim-primary of Demo Cluster; other-host, in a
 * second cluster, reaches only its own cluster's sim-primary. A start with hostid=other-host is a
 * 533 whose verdict names the disk, the pool and both clusters, with nothing written (the VM stays
 * Stopped, no domain on other-host, the disk on its pool); explainPlacement gives the same verdict;
 * a start without hostid, its last host disabled and other-host the least consumed host (the order
 * firstfitleastconsumed would pick first), runs in Demo Cluster. Before, an untagged disk on a
 * cluster's pool gave no storage need, so other-host passed and the VM ran there without its disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let vm: { id: string; root: string };
let otherHost: string;

const row = () => t.engine.db.prepare('SELECT v.state, h.name AS host, c.name AS cluster FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id LEFT JOIN clusters c ON c.id=h.cluster_id WHERE v.uuid=?').get(vm.id) as { state: string; host: string | null; cluster: string | null };
const rootPool = () => t.engine.db.prepare(`SELECT p.name, p.scope, c.name AS cluster FROM volumes v JOIN vm_instances m ON m.id=v.vm_id JOIN storage_pools p ON p.id=v.pool_id JOIN clusters c ON c.id=p.cluster_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vm.id);
const domainsOf = (host: string) => Object.keys(t.engine.simulator.world.find(host)!.domains);

beforeAll(async () => {
  t = await testEngine();
  const ids = demoIds(t.engine);
  for (const v of t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state='Running'`).all() as { uuid: string }[]) await t.run('stopVirtualMachine', { id: v.uuid });
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.name='Demo Cluster'`).get() as { uuid: string; pod: string };
  const other = (await t.ok('addCluster', { clustername: 'Other Cluster', zoneid: ids.zoneid, podid: cluster.pod, hypervisor: 'Simulator' }))['cluster'] as { id: string };
  otherHost = ((await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: other.id, hypervisor: 'Simulator', url: 'simulator://other-host?memory=65536', username: 'root', password: 'x' }))['host'] as { id: string }).id;
  const demoHosts = t.engine.db.prepare(`SELECT h.uuid, h.name FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE c.name='Demo Cluster' AND h.removed IS NULL ORDER BY h.id`).all() as { uuid: string; name: string }[];
  expect(demoHosts.length).toBeGreaterThan(1);
  const made = await deployDemo(t, { name: 'on-cluster-pool', hostid: demoHosts[0]!.uuid });
  await t.job('stopVirtualMachine', { id: made['id']! });
  // The records map the made disk onto its cluster's pool.
  await t.ok('listStoragePools', {});
  vm = { id: made['id']!, root: t.engine.db.prepare(`SELECT v.name FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(made['id']) as string };
  // Every other Demo Cluster host runs something, so other-host, empty, is the least consumed.
  for (const h of demoHosts.slice(1)) await deployDemo(t, { name: `load-${h.name}`, hostid: h.uuid });
  await t.ok('updateConfiguration', { name: 'vm.allocation.algorithm', value: 'firstfitleastconsumed' });
});
afterAll(() => t.close());

describe('a made disk on a cluster pool binds its VM to that cluster', () => {
  it('a start on a host of another cluster is a 533 naming the disk, the pool and the clusters, with nothing written; explainPlacement says the same', async () => {
    expect(rootPool()).toEqual({ name: 'sim-primary', scope: 'CLUSTER', cluster: 'Demo Cluster' });
    const reason = `volume ${vm.root} is on pool sim-primary of cluster Demo Cluster, which this host (cluster Other Cluster) does not reach (it reaches sim-primary)`;
    const hosts = ((await t.ok('explainPlacement', { virtualmachineid: vm.id }))['placement'] as { hosts: { hostName: string; suitable: boolean; reason: string }[] }).hosts;
    expect(hosts.find((h) => h.hostName === 'other-host')).toMatchObject({ suitable: false, reason });
    expect(hosts.find((h) => h.hostName === 'sim-host-1')).toMatchObject({ suitable: true });

    const refused = await t.run('startVirtualMachine', { id: vm.id, hostid: otherHost });
    expect(refused['jobstatus']).toBe(2);
    expect(refused['jobresult']).toMatchObject({ errorcode: 533 });
    expect(String((refused['jobresult'] as { errortext: string }).errortext)).toContain(`other-host: ${reason}`);
    expect(row()).toEqual({ state: 'Stopped', host: null, cluster: null });
    expect((await t.ok('listVirtualMachines', { id: vm.id }))['virtualmachine']).toMatchObject([{ state: 'Stopped' }]);
    expect(domainsOf('other-host')).toEqual([]);
    expect(rootPool()).toEqual({ name: 'sim-primary', scope: 'CLUSTER', cluster: 'Demo Cluster' });
  });

  it('a start without hostid runs in its own cluster, though a host of another cluster is ordered first', async () => {
    // Its last host disabled, the planner orders the zone's hosts: other-host (nothing on it) first.
    const last = t.engine.db.prepare(`SELECT h.uuid FROM hosts h JOIN vm_instances v ON v.last_host_id=h.id WHERE v.uuid=?`).pluck().get(vm.id) as string;
    await t.ok('updateHost', { id: last, allocationstate: 'Disable' });
    const started = await t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect(row()).toMatchObject({ state: 'Running', cluster: 'Demo Cluster' });
    expect(row().host).not.toBe('sim-host-1');
    expect(domainsOf('other-host')).toEqual([]);
  });
});

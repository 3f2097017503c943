/**
 * A started VM's made disks are on their pool's record as soon as the start ends, for any driver:
 * the pool the driver reports for the disk (DefineResult.disks[].pool, vSphere's datastore: see
 * test/vsphere/untagged-root-pool), else the pool its host reports as its default. On the
 * simulator (which reports no per-disk pool): the untagged root disk of a VM just deployed is on
 * Demo Cluster's sim-primary record with no listStoragePools or refresh in between, so placement
 * judges it at once (a start on a host of another cluster is the 533 naming the pool). Before, its
 * pool_id stayed NULL until the next pool refresh, and the VM was bound to nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

it('the root disk of a VM just deployed is on its host\'s default pool record, and binds the VM to that cluster', async () => {
  const ids = demoIds(t.engine);
  const pod = t.engine.db.prepare(`SELECT p.uuid FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.name='Demo Cluster'`).pluck().get() as string;
  const other = (await t.ok('addCluster', { clustername: 'Other Cluster', zoneid: ids.zoneid, podid: pod, hypervisor: 'Simulator' }))['cluster'] as { id: string };
  const otherHost = ((await t.ok('addHost', { zoneid: ids.zoneid, podid: pod, clusterid: other.id, hypervisor: 'Simulator', url: 'simulator://other-host?memory=65536', username: 'root', password: 'x' }))['host'] as { id: string }).id;
  const host = t.engine.db.prepare(`SELECT h.uuid FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE c.name='Demo Cluster' AND h.removed IS NULL ORDER BY h.id LIMIT 1`).pluck().get() as string;
  const vm = await deployDemo(t, { name: 'just-made', hostid: host });
  const root = t.engine.db.prepare(`SELECT v.name, p.name AS pool, p.scope, c.name AS cluster FROM volumes v JOIN vm_instances m ON m.id=v.vm_id LEFT JOIN storage_pools p ON p.id=v.pool_id LEFT JOIN clusters c ON c.id=p.cluster_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vm['id']) as { name: string; pool: string | null };
  expect(root).toMatchObject({ pool: 'sim-primary', scope: 'CLUSTER', cluster: 'Demo Cluster' });
  await t.job('stopVirtualMachine', { id: vm['id']! });
  const refused = await t.run('startVirtualMachine', { id: vm['id']!, hostid: otherHost });
  expect(refused['jobresult']).toMatchObject({ errorcode: 533 });
  expect(String((refused['jobresult'] as { errortext: string }).errortext)).toContain(`other-host: volume ${root.name} is on pool sim-primary of cluster Demo Cluster, which this host (cluster Other Cluster) does not reach`);
});

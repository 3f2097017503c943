/**
 * R20: where a VM may migrate is decided by its hypervisor's capabilities, not by its name. The
 * simulator, like KVM, has no crossClusterMigration: a host in another cluster of the zone is
 * refused with the reason findHostsForMigration shows in the UI, and migrating there is a 533.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, deployDemo, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let otherHost = '';

beforeAll(async () => {
  t = await testEngine();
  const ids = demoIds(t.engine);
  const pod = ((await t.call('listPods', { zoneid: ids.zoneid })).body['pod'] as { id: string }[])[0]!;
  const cluster = await t.call('addCluster', { clustername: 'Other Cluster', zoneid: ids.zoneid, podid: pod.id, hypervisor: 'Simulator' });
  expect(cluster.status).toBe(200);
  const host = await t.call('addHost', { zoneid: ids.zoneid, podid: pod.id, clusterid: (cluster.body['cluster'] as { id: string }).id, hypervisor: 'Simulator', url: 'simulator://sim-other?cpus=8&mhz=2000&memory=16384' });
  expect(host.status, JSON.stringify(host.body)).toBe(200);
  otherHost = (host.body['host'] as { id: string }).id;
});
afterAll(() => t.close());

describe('migration follows the crossClusterMigration capability', () => {
  it('is off for the simulator driver', () => {
    expect(t.engine.hosts.knownDriver('Simulator')?.capabilities.crossClusterMigration).toBe(false);
  });

  it('refuses a host of another cluster, saying why, and migrateVirtualMachine there is a 533', async () => {
    // On a Demo Cluster host (the random allocator could otherwise pick sim-other itself).
    const home = (t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name='sim-host-1'`).get() as { uuid: string }).uuid;
    const vm = await deployDemo(t, { name: 'stay-home', hostid: home });
    const hosts = (await t.call('findHostsForMigration', { id: vm['id']! })).body['host'] as { id: string; name: string; suitableformigration: boolean; reason: string }[];
    expect(hosts.find((h) => h.id === otherHost)).toMatchObject({ name: 'sim-other', suitableformigration: false, reason: 'Simulator migrates only within the cluster' });
    expect(hosts.filter((h) => h.suitableformigration).length).toBeGreaterThan(0);
    const refused = await t.call('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: otherHost });
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toMatch(/sim-other: Simulator migrates only within the cluster/);
  });
});

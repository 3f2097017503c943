/**
 * A simulator host with a local pool tagged ssd, added to the demo zone's first cluster, and the
 * offerings that ask for it: the setup of the storage-motion and import storage-tag tests (R48).
 */
import { demoIds, type TestEngine } from './engine.js';

export interface SsdHost {
  /** The demo cluster the host joined. */
  clusterid: string;
  /** A service offering whose root disk needs the ssd tag. */
  ssdRoot: string;
  /** A custom-size disk offering that needs the ssd tag. */
  ssdData: string;
}

/** Adds HOSTNAME (simulator, 64 GiB, local pool sim-ssd tagged ssd) and the two ssd offerings. */
export async function addSsdHost(t: TestEngine, hostName: string): Promise<SsdHost> {
  const ids = demoIds(t.engine);
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id JOIN hosts h ON h.cluster_id=c.id WHERE h.name='sim-host-1'`).get() as { uuid: string; pod: string };
  await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: `simulator://${hostName}?localpools=sim-ssd&memory=65536`, username: 'root', password: 'x' });
  const pool = ((await t.ok('listStoragePools', { name: 'sim-ssd' }))['storagepool'] as { id: string }[])[0]!;
  await t.ok('updateStoragePool', { id: pool.id, tags: 'ssd' });
  const ssdRoot = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '2', cpuspeed: '2000', memory: '2048', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
  const ssdData = ((await t.ok('createDiskOffering', { name: 'ssd-data', customized: 'true', tags: 'ssd' }))['diskoffering'] as { id: string }).id;
  return { clusterid: cluster.uuid, ssdRoot, ssdData };
}

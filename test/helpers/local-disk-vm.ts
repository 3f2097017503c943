/**
 * A simulator VM bound to its host by a local disk (issue 13's local storage): the setup the HA
 * and headroom tests share.
 */
import { deployDemo, type TestEngine } from './engine.js';

/**
 * Deploys VM NAME with OFFERING (and HA on) on HOST, stops it, moves its untagged root disk from the
 * pool the records map it onto (the host's default) onto HOST's local pool POOL (migrateVolume) and
 * starts it there again. Its id, and its root volume's id and name.
 */
export async function haVmOnLocalDisk(t: TestEngine, name: string, offering: string, host = 'local-host', pool = 'loc-disk'): Promise<{ id: string; rootId: string; root: string }> {
  const hostid = t.engine.db.prepare('SELECT uuid FROM hosts WHERE name=?').pluck().get(host) as string;
  const vm = await deployDemo(t, { name, serviceofferingid: offering, haenable: 'true', hostid });
  await t.job('stopVirtualMachine', { id: vm['id']! });
  // The records map the made disk onto its host's default pool (sim-primary).
  await t.ok('listStoragePools', {});
  const root = t.engine.db.prepare(`SELECT v.uuid, v.name FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vm['id']) as { uuid: string; name: string };
  const poolid = t.engine.db.prepare('SELECT uuid FROM storage_pools WHERE name=? AND removed IS NULL').pluck().get(pool) as string;
  await t.job('migrateVolume', { volumeid: root.uuid, storageid: poolid });
  await t.job('startVirtualMachine', { id: vm['id']!, hostid });
  return { id: vm['id']!, rootId: root.uuid, root: root.name };
}

/**
 * Where a start's define put the VM's disks, on Kiln's pool records, at once: a made disk binds
 * its VM to the hosts that reach its pool (pool-choice.ts vmsStorageNeeds), so one left without a
 * record (pool_id NULL) would let placement send the VM anywhere, and only the hypervisor would
 * refuse (vCenter's MigrateVM_Task for a datastore the other cluster does not mount).
 *
 * Decided by what the driver reports, never by the hypervisor: the pool each disk is on (its text
 * in volumes.pool: the pool Kiln named, or DefineResult.disks[].pool where the driver put it, such
 * as the datastore vSphere cloned an untagged offering's root disk onto), else, for a disk with no
 * pool text, the pool the host reports as its default (PrimaryStoragePool.isDefault: KVM's default
 * pool, XenServer's default SR, the simulator's sim-primary). The record is the cluster's of that
 * pool, else the defining host's own (a store only some of the cluster's hosts mount), as
 * pool-sync.ts mapVolumes maps it on every refresh. A pool the records do not have yet is read from
 * the host once (its report recorded as on connect); still none, the volume keeps what it had and
 * the next refresh maps it.
 */
import type { HostSession } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { recordHostPools } from './pool-sync.js';

interface Made { id: number; pool: string | null; pool_id: number | null }
interface Record_ { id: number; ref: string; name: string; is_default: number }

export async function recordDefinedPools(engine: Engine, vmId: number, host: { id: number; cluster_id: number }, session: Pick<HostSession, 'primaryStorage'>): Promise<void> {
  const db = engine.db;
  const volumes = db.prepare(`SELECT id, pool, pool_id FROM volumes WHERE vm_id=? AND removed IS NULL AND state NOT IN ('Allocated','Creating') ORDER BY device_id`).all(vmId) as Made[];
  if (volumes.length === 0) return;
  const records = () => db.prepare(`SELECT id, ref, name, is_default FROM storage_pools WHERE cluster_id=? AND removed IS NULL AND (scope='CLUSTER' OR host_id=?) ORDER BY host_id IS NOT NULL, id`).all(host.cluster_id, host.id) as Record_[];
  const match = (v: Made, pools: Record_[]) => (v.pool !== null ? pools.find((p) => p.ref === v.pool) ?? pools.find((p) => p.name === v.pool) : pools.find((p) => p.is_default === 1));
  let pools = records();
  if (session.primaryStorage && volumes.some((v) => !match(v, pools))) {
    try {
      recordHostPools(db, host.id, host.cluster_id, await session.primaryStorage.pools());
      pools = records();
    } catch (error) {
      engine.log.warn(`could not read the pools of host ${host.id} to record VM ${vmId}'s disks: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const set = db.prepare('UPDATE volumes SET pool_id=? WHERE id=?');
  db.transaction(() => {
    for (const v of db.prepare(`SELECT id, pool, pool_id FROM volumes WHERE vm_id=? AND removed IS NULL AND state NOT IN ('Allocated','Creating')`).all(vmId) as Made[]) {
      const record = match(v, pools);
      if (record && record.id !== v.pool_id) set.run(record.id, v.id);
    }
  })();
}

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { poolState, type StoragePoolRow } from '../../storage/pool-records.js';

const someNames = (names: string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);

/**
 * CloudStack's deleteStoragePool (StorageManagerImpl.deletePool) for Kiln's pool records, which are
 * what the hosts report (storage/pool-sync.ts). CloudStack deletes only a pool in Maintenance; Kiln
 * has no pool maintenance, and a pool its hosts still report would be recorded again at their next
 * refresh, so the rule here is: the pool is Down (no host reports it any more). Volumes recorded on
 * it refuse the delete (431 naming them); with forced=true, only volumes of VMs that are not
 * Destroyed do (CloudStack: "non-destroyed vols"), and those of Destroyed VMs are left with no pool
 * record (their VM's expunge removes them as before). Record and volume rows change in one transaction.
 */
export default defineCommand({
  name: 'deleteStoragePool',
  description:
    'Deletes a primary storage pool record. Kiln has no pool maintenance and records the pools its hosts report: a pool is deleted when it is Down (no host reports it). Refused (431, naming them) while volumes are on it; forced=true lets the volumes of Destroyed VMs go with it (CloudStack: force expunge of destroyed volumes), others still refuse.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'Storage pool id' },
    { name: 'forced', type: 'boolean', description: 'delete the pool although volumes of Destroyed VMs are recorded on it (they are left with no pool record)' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const pool = byUuid<StoragePoolRow>(db, 'storagePool', args.uuid('id')!, 'id');
    const forced = args.bool('forced') === true;
    db.transaction(() => {
      const state = poolState(pool);
      if (pool.present === 1) {
        const by = pool.host_id !== null
          ? `host ${db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(pool.host_id) as string}`
          : `the hosts of cluster ${db.prepare('SELECT name FROM clusters WHERE id=?').pluck().get(pool.cluster_id) as string}`;
        throw ApiError.param(`id: storage pool ${pool.name} is ${state}: ${by} still ${pool.host_id !== null ? 'reports' : 'report'} it, and Kiln would record it again at their next refresh. Kiln deletes a pool no host reports (Down); remove it on the hypervisor, or delete its host (deleteHost)`);
      }
      const volumes = db
        .prepare(`SELECT v.id, v.name, vm.display_name AS vm, vm.state AS vmstate FROM volumes v LEFT JOIN vm_instances vm ON vm.id=v.vm_id WHERE v.pool_id=? AND v.removed IS NULL ORDER BY v.id`)
        .all(pool.id) as { id: number; name: string; vm: string | null; vmstate: string | null }[];
      const blocking = forced ? volumes.filter((v) => v.vmstate !== 'Destroyed') : volumes;
      if (blocking.length > 0) {
        const owners = [...new Set(blocking.map((v) => v.vm).filter((vm): vm is string => vm !== null))];
        const kind = forced ? 'non-destroyed ' : '';
        throw ApiError.param(`id: storage pool ${pool.name} cannot be deleted: it still has ${blocking.length} ${kind}${blocking.length === 1 ? 'volume' : 'volumes'} (${someNames(blocking.map((v) => v.name))})${owners.length ? ` of ${owners.length === 1 ? 'VM' : 'VMs'} ${someNames(owners)}` : ''}`);
      }
      db.prepare(`UPDATE volumes SET pool_id=NULL WHERE pool_id=? AND removed IS NULL`).run(pool.id);
      db.prepare('UPDATE storage_pools SET removed=? WHERE id=?').run(now(), pool.id);
      engine.events.record({ type: 'STORAGE.POOL.DELETE', description: `storage pool ${pool.name} (${pool.uuid}) deleted${volumes.length ? `; ${volumes.length} volume(s) of Destroyed VMs left with no pool record` : ''}`, userId: caller.userId, accountId: caller.accountId });
    })();
    return {};
  },
});

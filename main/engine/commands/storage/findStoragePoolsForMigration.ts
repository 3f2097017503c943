import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { allocatedBytes, migrationRefusal, POOL_FROM, POOL_SELECT, poolView, type PoolViewRow } from '../../storage/pool-records.js';
import { requiredTags } from '../../storage/pool-choice.js';
import { mapVolumes } from '../../storage/pool-sync.js';
import { acrossHosts } from '../../storage/volume-moves.js';
import type { VmRow } from '../../vm/rows.js';
import type { DriverCapabilities } from '../../../../drivers/types.js';

/**
 * Where a volume may move (CloudStack's findStoragePoolsForMigration): the other pools of its
 * cluster, each with suitableformigration, and (Kiln) why not: disabled or down, missing a storage
 * tag of the volume's offering, or another host's local pool.
 */
export default defineCommand({
  name: 'findStoragePoolsForMigration',
  description: 'Lists the storage pools a volume can be migrated to, with whether each suits it and why not.',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'storagepool',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'the ID of the volume' }],
  handler({ engine }, args) {
    const db = engine.db;
    const volume = byUuid<{ id: number; name: string; vm_id: number | null; host_id: number | null; pool_id: number | null }>(db, 'volume', args.uuid('id')!, 'id');
    const vm = volume.vm_id !== null ? (db.prepare('SELECT id, state, display_name, host_id, last_host_id FROM vm_instances WHERE id=?').get(volume.vm_id) as Pick<VmRow, 'id' | 'state' | 'display_name' | 'host_id' | 'last_host_id'>) : undefined;
    const hostId = vm?.host_id ?? vm?.last_host_id ?? volume.host_id;
    if (hostId === null || hostId === undefined) throw ApiError.param(`id: volume ${volume.name} has no disk on any host yet (Allocated); it is placed when it is made`);
    const host = db.prepare('SELECT id, name, cluster_id, capabilities FROM hosts WHERE id=?').get(hostId) as { id: number; name: string; cluster_id: number; capabilities: string | null };
    // A list: the pools as the hosts' last refresh recorded them, no host asked (migrateVolume itself reads them afresh).
    mapVolumes(db, [host.cluster_id]);
    const current = (db.prepare('SELECT pool_id FROM volumes WHERE id=?').pluck().get(volume.id) as number | null) ?? null;
    const need = requiredTags(db, volume.id);
    const rows = db.prepare(`SELECT ${POOL_SELECT} ${POOL_FROM} WHERE p.removed IS NULL AND p.cluster_id=? ORDER BY p.id`).all(host.cluster_id) as PoolViewRow[];
    const others = rows.filter((r) => r.id !== current);
    const allocated = allocatedBytes(db, others.map((r) => r.id));
    // Another host's local pool suits a stopped VM's volume where the hypervisor takes the VM there with it (storage/volume-moves.ts).
    // A host Kiln cannot reach now says nothing about that: other hosts' local pools stay unsuitable.
    // As the host's last refresh recorded them: a list connects no host (Kiln connects them at start), and one it cannot reach now still lists.
    const capabilities = vm && host.capabilities ? (JSON.parse(host.capabilities) as Pick<DriverCapabilities, 'storageMotionAcrossHosts'>) : undefined;
    const elsewhere = vm && capabilities ? acrossHosts(engine, vm, volume.id, capabilities) : undefined;
    return others.map((r) => {
      const reason = migrationRefusal(r, host, need, elsewhere);
      return { ...poolView(r, allocated.get(r.id) ?? 0), suitableformigration: reason === undefined, ...(reason ? { notsuitablereason: reason } : {}) };
    });
  },
});

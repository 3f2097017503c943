import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { migrationRefusal, POOL_FROM, POOL_SELECT, type PoolViewRow } from '../../storage/pool-records.js';
import { requiredTags } from '../../storage/pool-choice.js';
import { syncClusterPools } from '../../storage/pool-sync.js';
import { snapshotsOf } from '../../vm/vm-snapshots.js';
import type { DataVolumeRow } from '../../volumes/volume-service.js';
import { volumeJob } from './volumes-of.js';
import { acrossHosts, moveVolumes } from '../../storage/volume-moves.js';

/**
 * CloudStack's migrateVolume: a volume's disk moves to another storage pool through the driver's
 * storage motion (storage/volume-moves.ts). A Stopped VM's volume goes to a pool its host reaches
 * (a pool of the cluster, or the host's own), or to another host's local pool, the VM moving to
 * that host with it; a Running VM's volume (livemigrate=true) to another pool its host reaches,
 * while it runs, where the hypervisor's storage motion includes running VMs (liveStorageMotion).
 * Kiln records the new pool only after the hypervisor moved the disk, so a failure leaves the
 * volume on its pool.
 */
export default defineCommand({
  name: 'migrateVolume',
  description: 'Moves a volume of a VM to another storage pool (needs storage motion; the pool must be Up and carry the storage tags of the volume\'s offering). A Stopped VM\'s volume may go to another host\'s local pool, the VM with it; a Running VM\'s needs livemigrate=true and stays on its host.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'volume',
  capabilities: ['storageMotion', 'migration'],
  params: [
    { name: 'volumeid', type: 'uuid', required: true, description: 'the ID of the volume' },
    { name: 'storageid', type: 'uuid', required: true, description: 'destination storage pool ID to migrate the volume to' },
    { name: 'livemigrate', type: 'boolean', description: 'true to move the volume of a running VM while it runs (needs live storage motion; the pool must be one its host reaches)' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const volume = byUuid<DataVolumeRow & { pool_id: number | null }>(db, 'volume', args.uuid('volumeid')!, 'volumeid');
    if (volume.vm_id === null) throw ApiError.param(`volumeid: volume ${volume.name} is not attached to a VM; Kiln moves a volume through the VM that holds it`);
    const vm = engine.vms.get(volume.vm_id);
    const live = args.bool('livemigrate') === true;
    if (vm.state === 'Running' && !live) throw ApiError.param(`volumeid: VM ${vm.display_name} of volume ${volume.name} is Running; stop it first, or pass livemigrate=true to move the volume while it runs`);
    if (vm.state !== 'Stopped' && vm.state !== 'Running') throw ApiError.param(`volumeid: VM ${vm.display_name} of volume ${volume.name} is ${vm.state}; stop it first (a running VM's volumes move with livemigrate=true or migrateVirtualMachineWithVolume)`);
    if (vm.state === 'Stopped' && live) throw ApiError.param('livemigrate: the VM is stopped; its volume moves offline');
    const hostId = vm.state === 'Running' ? vm.host_id : vm.last_host_id;
    if (hostId === null || vm.ref === null || volume.pool_id === null) throw ApiError.param(`volumeid: volume ${volume.name} has no disk on any host yet; it is placed when its VM first starts`);
    const host = db.prepare('SELECT id, name, cluster_id FROM hosts WHERE id=?').get(hostId) as { id: number; name: string; cluster_id: number };
    await syncClusterPools(engine, host.cluster_id);
    const pool = byUuid<{ id: number }>(db, 'storagePool', args.uuid('storageid')!, 'storageid');
    const row = db.prepare(`SELECT ${POOL_SELECT} ${POOL_FROM} WHERE p.id=?`).get(pool.id) as PoolViewRow;
    if (row.id === volume.pool_id) throw ApiError.param(`storageid: volume ${volume.name} is on storage pool ${row.name} already`);
    if (row.cluster_id !== host.cluster_id) throw ApiError.param(`storageid: storage pool ${row.name} is in cluster ${row.clustername}, and VM ${vm.display_name} is in another; move the VM with migrateVirtualMachine storageid=`);
    const session = await engine.hosts.session(hostId);
    const refusal = migrationRefusal(row, host, requiredTags(db, volume.id), acrossHosts(engine, vm, volume.id, session.capabilities));
    if (refusal) throw ApiError.param(`storageid: volume ${volume.name} cannot move to storage pool ${row.name}: ${refusal}`);
    if (snapshotsOf(engine, vm.id).length > 0) throw ApiError.param(`volumeid: VM ${vm.display_name} has VM snapshots; they live in its disks and would not survive the move, so delete them first`);
    if (!session.capabilities.storageMotion || !session.migration) throw ApiError.param(`volumeid: the hypervisor of host ${host.name} cannot move disks between storage pools`);
    if (live && session.capabilities.liveStorageMotion === false) throw ApiError.param(`livemigrate: the hypervisor of host ${host.name} moves disks between storage pools only while the VM is stopped; stop VM ${vm.display_name} first`);
    // Another host's local pool takes the (stopped) VM to that host; any other pool keeps it where it is.
    const targetId = row.scope === 'HOST' && row.host_id !== null ? row.host_id : hostId;
    const target = db.prepare('SELECT id, name, pod_id, cluster_id FROM hosts WHERE id=?').get(targetId) as { id: number; name: string; pod_id: number | null; cluster_id: number };
    return volumeJob(engine, caller, volume, vm.id, async (jobUuid) => {
      await moveVolumes(engine, caller, vm, target, [{ volume, pool: row }], jobUuid);
      return db.prepare('SELECT * FROM volumes WHERE id=?').get(volume.id) as DataVolumeRow;
    });
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { migrationRefusal, POOL_FROM, POOL_SELECT, type PoolViewRow } from '../../storage/pool-records.js';
import { requiredTags } from '../../storage/pool-choice.js';
import { syncClusterPools } from '../../storage/pool-sync.js';
import { snapshotsOf } from '../../vm/vm-snapshots.js';
import { vmRef } from '../../vm/rows.js';
import type { DataVolumeRow } from '../../volumes/volume-service.js';
import { volumeJob } from './volumes-of.js';

/**
 * CloudStack's migrateVolume for a volume of a Stopped VM: its disk moves to another storage pool
 * its host reaches (a pool of the cluster, or the host's own), through the driver's storage motion
 * (the migration facet with the VM's own host as destination and the volume's new pool; KVM:
 * drivers/kvm/volume-move.ts). Kiln records the new pool only after the hypervisor moved the
 * disk, so a failure leaves the volume on its pool. A running VM's volume is refused (livemigrate
 * is not done here; migrateVirtualMachineWithVolume moves a running VM's volumes with the VM).
 */
export default defineCommand({
  name: 'migrateVolume',
  description: 'Moves a volume of a stopped VM to another storage pool its host reaches (needs storage motion; the pool must be Up and carry the storage tags of the volume\'s offering).',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'volume',
  capabilities: ['storageMotion', 'migration'],
  params: [
    { name: 'volumeid', type: 'uuid', required: true, description: 'the ID of the volume' },
    { name: 'storageid', type: 'uuid', required: true, description: 'destination storage pool ID to migrate the volume to' },
    { name: 'livemigrate', type: 'boolean', description: 'true to move the volume of a running VM (Kiln: refused; stop the VM, or use migrateVirtualMachineWithVolume)' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const volume = byUuid<DataVolumeRow & { pool_id: number | null }>(db, 'volume', args.uuid('volumeid')!, 'volumeid');
    if (volume.vm_id === null) throw ApiError.param(`volumeid: volume ${volume.name} is not attached to a VM; Kiln moves a volume through the stopped VM that holds it`);
    const vm = engine.vms.get(volume.vm_id);
    if (vm.state !== 'Stopped') throw ApiError.param(`volumeid: VM ${vm.display_name} of volume ${volume.name} is ${vm.state}; stop it first (a running VM's volumes move with migrateVirtualMachineWithVolume)`);
    if (args.bool('livemigrate')) throw ApiError.param('livemigrate: the VM is stopped; its volume moves offline');
    const hostId = vm.last_host_id;
    if (hostId === null || vm.ref === null || volume.pool_id === null) throw ApiError.param(`volumeid: volume ${volume.name} has no disk on any host yet; it is placed when its VM first starts`);
    const host = db.prepare('SELECT id, name, cluster_id FROM hosts WHERE id=?').get(hostId) as { id: number; name: string; cluster_id: number };
    await syncClusterPools(engine, host.cluster_id);
    const pool = byUuid<{ id: number }>(db, 'storagePool', args.uuid('storageid')!, 'storageid');
    const row = db.prepare(`SELECT ${POOL_SELECT} ${POOL_FROM} WHERE p.id=?`).get(pool.id) as PoolViewRow;
    if (row.id === volume.pool_id) throw ApiError.param(`storageid: volume ${volume.name} is on storage pool ${row.name} already`);
    if (row.cluster_id !== host.cluster_id) throw ApiError.param(`storageid: storage pool ${row.name} is in cluster ${row.clustername}, and VM ${vm.display_name} is in another; move the VM with migrateVirtualMachine storageid=`);
    const refusal = migrationRefusal(row, host, requiredTags(db, volume.id));
    if (refusal) throw ApiError.param(`storageid: volume ${volume.name} cannot move to storage pool ${row.name}: ${refusal}`);
    if (snapshotsOf(engine, vm.id).length > 0) throw ApiError.param(`volumeid: VM ${vm.display_name} has VM snapshots; they live in its disks and would not survive the move, so delete them first`);
    const session = await engine.hosts.session(hostId);
    if (!session.capabilities.storageMotion || !session.migration) throw ApiError.param(`volumeid: the hypervisor of host ${host.name} cannot move disks between storage pools`);
    const migration = session.migration;
    return volumeJob(engine, caller, volume, vm.id, async (jobUuid) => {
      const current = engine.vms.get(vm.id);
      if (current.state !== 'Stopped') throw ApiError.param(`volumeid: VM ${current.display_name} is ${current.state}; stop it first`);
      const request = { vm: vmRef(current), spec: engine.vms.spec(current), live: false, volumePools: { [volume.path ?? '']: row.ref } };
      // The VM's own host is the destination: only the disk moves.
      await migration.perform(request, await migration.prepare(request), engine.vms.taskOptions(jobUuid));
      db.transaction(() => {
        db.prepare('UPDATE volumes SET pool=?, pool_id=? WHERE id=?').run(row.ref, row.id, volume.id);
        engine.events.record({
          type: 'VOLUME.MIGRATE', description: `volume ${volume.name} (${volume.uuid}) of VM ${current.display_name} moved to storage pool ${row.name}`,
          userId: caller.userId, accountId: volume.account_id, domainId: current.domain_id, resourceType: 'Volume', resourceUuid: volume.uuid, jobUuid,
        });
      })();
      return db.prepare('SELECT * FROM volumes WHERE id=?').get(volume.id) as DataVolumeRow;
    });
  },
});

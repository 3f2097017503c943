import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import type { VolumeRow } from '../../vm/rows.js';
import { migrateVm } from '../../vm/vm-changes.js';
import { vmJob } from '../../vm/vm-job.js';
import { planMigration } from '../../placement/migration.js';

export default defineCommand({
  name: 'migrateVirtualMachineWithVolume',
  description: 'Attempts live migration of a VM together with its volumes to the storage pools named in migrateto (R21). Only hypervisors with storage motion can do it; others are refused with the reason.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  vmStates: ['Running'],
  capabilities: ['liveMigration', 'storageMotion', 'migration'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'hostid', type: 'uuid', description: 'Destination Host ID to migrate VM to' },
    { name: 'migrateto', type: 'map', description: 'Storage to pool mapping: migrateto[i].volume=<volume uuid>&migrateto[i].pool=<pool name on the destination>' },
  ],
  async handler(ctx, args) {
    const { engine, caller } = ctx;
    const { vm, chosen, outcome } = planMigration(engine, caller, args);
    const source = await engine.hosts.session(vm.host_id!);
    if (!source.capabilities.storageMotion || source.capabilities.liveStorageMotion === false) {
      // liveStorageMotion false (KVM): disks move only while the VM is stopped (migrateVolume).
      const why = source.capabilities.storageMotion ? 'they move only while the VM is stopped, with migrateVolume' : 'no storage motion';
      throw ApiError.param(`migrateto: ${vm.hypervisor} hosts cannot move a running VM's volumes to other pools (${why}); use migrateVirtualMachine on shared storage, or stop the VM to move its volumes`);
    }
    const pools = new Set((await (await engine.hosts.session(chosen.id)).inventory()).storagePools.map((p) => p.name));
    const moves = (args.map('migrateto') ?? []).map((entry, i) => {
      const volume = byUuid<VolumeRow>(engine.db, 'volume', entry['volume'] ?? '', `migrateto[${i}].volume`);
      if (volume.vm_id !== vm.id) throw ApiError.param(`migrateto[${i}].volume: volume ${volume.uuid} is not attached to this VM`);
      const pool = entry['pool'] ?? '';
      if (!pools.has(pool)) throw ApiError.param(`migrateto[${i}].pool: host ${chosen.name} has no storage pool "${pool}" (it has ${[...pools].join(', ')})`);
      return { volume, pool };
    });
    return vmJob(ctx, vm, async (job) => {
      engine.vms.lastPlacement.set(vm.id, outcome);
      const moved = await migrateVm(engine, caller, engine.vms.get(vm.id), chosen, job, Object.fromEntries(moves.map((m) => [m.volume.path ?? '', m.pool])));
      for (const m of moves) engine.db.prepare('UPDATE volumes SET pool=? WHERE id=?').run(m.pool, m.volume.id);
      return moved;
    });
  },
});

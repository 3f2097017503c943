/** Backups (R56, R57): taking one now, listing, restoring a VM or one volume, deleting. */
import { defineCommand, ALL_ROLES, type CommandDef } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { backupForCaller, backupResponses } from '../records.js';
import { queryPage } from '../../registry/list-page.js';
import { BACKUP_VM_STATES, RESTORE_VM_STATES } from '../framework.js';
import type { BackupRow } from '../rows.js';

const STATUSES = ['Allocated', 'Queued', 'BackingUp', 'BackedUp', 'Error', 'Failed', 'Restoring'];

export const createBackup = defineCommand({
  name: 'createBackup',
  description: "Backs up a VM now (its offering must allow user-driven backups); a provider with chains writes an incremental on the VM's last backup.",
  kind: 'asyncCreate',
  roles: ALL_ROLES,
  response: 'backup',
  vmStates: BACKUP_VM_STATES,
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the VM' },
    { name: 'name', type: 'string', description: 'the name of the backup' },
    { name: 'description', type: 'string', description: 'the description for the backup' },
    { name: 'quiescevm', type: 'boolean', description: 'Quiesce the instance before checkpointing the disks for backup (needs the guest agent)' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    return engine.backups.startBackup(caller, vm, { name: args.str('name'), description: args.str('description'), quiesce: args.bool('quiescevm') ?? false }).work;
  },
});

export const listBackups = defineCommand({
  name: 'listBackups',
  description: 'Lists VM backups: type (FULL or INCREMENTAL) and, for an incremental, the backup it builds on (parentid).',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'backup',
  params: [
    { name: 'id', type: 'uuid', description: 'id of the backup' },
    { name: 'virtualmachineid', type: 'uuid', description: 'id of the VM' },
    { name: 'zoneid', type: 'uuid', description: 'list backups by zone id' },
    { name: 'name', type: 'string', description: 'list backups by name' },
    { name: 'backupofferingid', type: 'uuid', description: 'list backups by backup offering' },
    { name: 'status', type: 'string', description: `list backups by status: ${STATUSES.join(', ')}` },
    ...ACCOUNT_LIST_PARAMS,
  ],
  handler({ engine, caller }, args, page) {
    const status = args.str('status');
    if (status !== undefined && !STATUSES.includes(status)) throw ApiError.param(`status: one of ${STATUSES.join(', ')}`);
    const vmUuid = args.uuid('virtualmachineid');
    if (vmUuid) {
      const row = engine.db.prepare('SELECT zone_id FROM vm_instances WHERE uuid=?').get(vmUuid) as { zone_id: number } | undefined;
      if (row) engine.backups.requireEnabled(row.zone_id);
    }
    const zoneUuid = args.uuid('zoneid');
    if (zoneUuid) engine.backups.requireEnabled(byUuid<{ id: number }>(engine.db, 'zone', zoneUuid, 'zoneid').id);
    const scope = accountScope(caller, 'b.account_id');
    const w = where(
      [scope.sql, 'b.removed IS NULL', ...(caller.role === 'User' ? [`v.state NOT IN ('Destroyed','Expunged')`] : [])],
      [['b.uuid', args.uuid('id')], ['v.uuid', vmUuid], ['z.uuid', zoneUuid], ['b.name', args.str('name')], ['o.uuid', args.uuid('backupofferingid')], ['b.status', status], ['a.name', args.str('account')], ['dm.uuid', args.uuid('domainid')]],
    );
    return queryPage<BackupRow>(
      engine.db,
      page,
      {
        select: 'b.*',
        from: `FROM backups b JOIN vm_instances v ON v.id=b.vm_id JOIN zones z ON z.id=b.zone_id JOIN backup_offerings o ON o.id=b.offering_id JOIN accounts a ON a.id=b.account_id JOIN domains dm ON dm.id=b.domain_id ${w.sql}`,
        values: [...scope.values, ...w.values],
        orderBy: 'b.id',
      },
      (rows) => backupResponses(engine, rows),
    );
  },
});

export const restoreBackup = defineCommand({
  name: 'restoreBackup',
  description: 'Restores a VM from one of its backups, every volume it holds; the VM must be Stopped (or Destroyed: it is recovered, its NICs and networks are not restored).',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  vmStates: RESTORE_VM_STATES,
  params: [{ name: 'id', type: 'uuid', required: true, description: 'ID of the backup' }],
  handler({ engine, caller }, args) {
    const backup = backupForCaller(engine, caller, args.uuid('id')!, 'id');
    const vm = engine.vms.get(backup.vm_id);
    engine.backups.checkRestore(vm, backup);
    return {
      instanceType: 'Backup',
      instanceId: backup.uuid,
      queueKey: `vm:${vm.id}`,
      run: async (job) => {
        await engine.backups.restoreVm(caller, backupForCaller(engine, caller, backup.uuid, 'id'), job.uuid);
        return undefined;
      },
    };
  },
});

export const restoreVolumeFromBackupAndAttachToVM = defineCommand({
  name: 'restoreVolumeFromBackupAndAttachToVM',
  description: 'Restores one backed-up volume as a new volume of the given VM, which gets it as a data disk.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'backupid', type: 'uuid', required: true, description: 'ID of the VM backup' },
    { name: 'volumeid', type: 'uuid', required: true, description: 'ID of the volume backed up' },
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'id of the VM where to attach the restored volume' },
  ],
  handler({ engine, caller }, args) {
    const backup = backupForCaller(engine, caller, args.uuid('backupid')!, 'backupid');
    const target = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const volumeUuid = args.uuid('volumeid')!;
    engine.backups.checkRestoreVolume(backup, volumeUuid, target);
    return {
      instanceType: 'Volume',
      queueKey: `vm:${target.id}`,
      run: async (job) => ({ success: true, ...(await engine.backups.restoreVolume(caller, backupForCaller(engine, caller, backup.uuid, 'backupid'), volumeUuid, engine.vms.get(target.id), job.uuid)) }),
    };
  },
});

export const deleteBackup = defineCommand({
  name: 'deleteBackup',
  description: 'Deletes a VM backup; one a later incremental builds on is refused unless forced, which merges it into that incremental first.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'id of the VM backup' },
    { name: 'forced', type: 'boolean', description: 'merge the backup into the incremental built on it, then delete it' },
  ],
  handler({ engine, caller }, args) {
    const backup = backupForCaller(engine, caller, args.uuid('id')!, 'id');
    const forced = args.bool('forced') ?? false;
    engine.backups.requireEnabled(backup.zone_id);
    engine.backups.checkDelete(backup, forced);
    return {
      instanceType: 'Backup',
      instanceId: backup.uuid,
      queueKey: `vm:${backup.vm_id}`,
      run: async () => {
        await engine.backups.deleteBackup(caller, backupForCaller(engine, caller, backup.uuid, 'id'), forced);
        return undefined;
      },
    };
  },
});

/** The names the seed's guide uses (R57), served by the same definitions. */
export const SPEC_ALIASES: CommandDef[] = [
  { ...restoreVolumeFromBackupAndAttachToVM, name: 'restoreVolumeFromBackup' },
  { ...deleteBackup, name: 'deleteVMBackup' },
];

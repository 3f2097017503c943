/**
 * Backup schedules (R56): one per VM and interval type, as CloudStack 4.21 keeps them; each
 * answer says when the schedule runs next and ran last (a desktop app is often closed).
 */
import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES, type ParamDef } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { noSuchEntity } from '../../registry/command-scope.js';
import { now } from '../../db/database.js';
import type { Engine } from '../../engine.js';
import type { Args } from '../../registry/params.js';
import type { Caller } from '../../registry/types.js';
import { scheduleResponse, schedulesOf, VM_SCHEDULES } from '../records.js';
import { queryPage } from '../../registry/list-page.js';
import { checkSchedule, intervalType, nextRun, nextRuns, SCHEDULE_FORMAT, INTERVAL_TYPES } from '../schedule.js';
import type { BackupScheduleRow } from '../rows.js';
import { csDate } from '../../format.js';

const SCHEDULE_PARAMS: ParamDef[] = [
  { name: 'intervaltype', type: 'string', required: true, description: `Valid values are ${INTERVAL_TYPES.join(', ')}` },
  { name: 'schedule', type: 'string', required: true, description: `Custom backup schedule, the format is: ${SCHEDULE_FORMAT}` },
  { name: 'timezone', type: 'string', required: true, description: 'Specifies a timezone for this command (an IANA name, e.g. Asia/Seoul)' },
];
const VM_PARAM: ParamDef = { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the VM for which schedule is to be defined' };
const RETENTION_PARAMS: ParamDef[] = [
  { name: 'maxbackups', type: 'integer', description: 'maximum number of backups of this schedule to keep; the oldest beyond it is deleted (0: keep all)' },
  { name: 'quiescevm', type: 'boolean', description: 'Quiesce the instance before checkpointing the disks for backup' },
];

function maxBackups(args: Args): number | undefined {
  const value = args.int('maxbackups');
  if (value !== undefined && value < 0) throw ApiError.param('maxbackups: must be 0 (keep all) or more');
  return value;
}

function scheduleByUuid(engine: Engine, caller: Caller, uuid: string, param: string): BackupScheduleRow {
  const row = engine.db.prepare('SELECT * FROM backup_schedules WHERE uuid=?').get(uuid) as BackupScheduleRow | undefined;
  if (!row) throw noSuchEntity(param, uuid);
  const vm = engine.vms.get(row.vm_id);
  engine.vms.forCaller(caller, vm.uuid, param);
  return row;
}

/** Creates the VM's schedule of that interval type, or changes it when it exists (CloudStack's configureBackupSchedule). */
function saveSchedule(engine: Engine, caller: Caller, args: Args, existing?: BackupScheduleRow): BackupScheduleRow {
  const vm = existing ? engine.vms.get(existing.vm_id) : engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
  engine.backups.requireEnabled(vm.zone_id);
  engine.backups.requireUserDriven(vm);
  const spec = checkSchedule({
    intervalType: args.str('intervaltype') ?? existing?.interval_type ?? '',
    schedule: args.str('schedule') ?? existing?.schedule ?? '',
    timezone: args.str('timezone') ?? existing?.timezone ?? '',
  });
  const same = existing ?? (engine.db.prepare('SELECT * FROM backup_schedules WHERE vm_id=? AND interval_type=?').get(vm.id, spec.intervalType) as BackupScheduleRow | undefined);
  if (existing && spec.intervalType !== existing.interval_type && schedulesOf(engine, vm.id).some((s) => s.interval_type === spec.intervalType)) {
    throw ApiError.param(`intervaltype: VM ${vm.display_name} already has a ${spec.intervalType} schedule`);
  }
  const next = nextRun(spec, engine.backups.clock()).toISOString();
  const max = maxBackups(args) ?? same?.max_backups ?? 0;
  const quiesce = (args.bool('quiescevm') ?? same?.quiesce_vm === 1) ? 1 : 0;
  if (same) {
    engine.db.prepare('UPDATE backup_schedules SET interval_type=?, schedule=?, timezone=?, max_backups=?, quiesce_vm=?, scheduled_at=? WHERE id=?').run(spec.intervalType, spec.schedule, spec.timezone, max, quiesce, next, same.id);
  } else {
    engine.db
      .prepare('INSERT INTO backup_schedules (uuid, vm_id, interval_type, schedule, timezone, max_backups, quiesce_vm, scheduled_at, created) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(randomUUID(), vm.id, spec.intervalType, spec.schedule, spec.timezone, max, quiesce, next, now());
  }
  engine.backups.armDueTimer();
  return engine.db.prepare('SELECT * FROM backup_schedules WHERE vm_id=? AND interval_type=?').get(vm.id, spec.intervalType) as BackupScheduleRow;
}

export const createBackupSchedule = defineCommand({
  name: 'createBackupSchedule',
  description: "Creates a user-defined VM backup schedule (or changes the VM's schedule of that interval type).",
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'backupschedule',
  params: [VM_PARAM, ...SCHEDULE_PARAMS, ...RETENTION_PARAMS],
  handler({ engine, caller }, args) {
    return scheduleResponse(engine, saveSchedule(engine, caller, args));
  },
});

export const updateBackupSchedule = defineCommand({
  name: 'updateBackupSchedule',
  description: 'Changes a VM backup schedule, named by id or by the VM and its interval type.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'backupschedule',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the backup schedule' },
    { ...VM_PARAM, required: false },
    ...SCHEDULE_PARAMS.map((p) => ({ ...p, required: false })),
    ...RETENTION_PARAMS,
  ],
  handler({ engine, caller }, args) {
    const id = args.uuid('id');
    if (id) return scheduleResponse(engine, saveSchedule(engine, caller, args, scheduleByUuid(engine, caller, id, 'id')));
    const vmUuid = args.uuid('virtualmachineid');
    const type = args.str('intervaltype');
    if (!vmUuid || !type) throw ApiError.param('id: give the schedule id, or virtualmachineid and intervaltype');
    const vm = engine.vms.forCaller(caller, vmUuid, 'virtualmachineid');
    const existing = schedulesOf(engine, vm.id).find((s) => s.interval_type === intervalType(type));
    if (!existing) throw ApiError.param(`intervaltype: VM ${vm.display_name} has no ${type.toUpperCase()} backup schedule (createBackupSchedule makes one)`);
    return scheduleResponse(engine, saveSchedule(engine, caller, args, existing));
  },
});

export const listBackupSchedule = defineCommand({
  name: 'listBackupSchedule',
  description: "Lists a VM's backup schedules, each with its next runs and its last run.",
  kind: 'list',
  roles: ALL_ROLES,
  response: 'backupschedule',
  params: [
    { ...VM_PARAM, required: false, description: 'ID of the VM' },
    { name: 'id', type: 'uuid', description: 'ID of the backup schedule' },
  ],
  handler({ engine, caller }, args, page) {
    const id = args.uuid('id');
    if (id) return [scheduleResponse(engine, scheduleByUuid(engine, caller, id, 'id'))];
    const vmUuid = args.uuid('virtualmachineid');
    if (!vmUuid) throw ApiError.param('virtualmachineid: give the VM (or the schedule id)');
    const vm = engine.vms.forCaller(caller, vmUuid, 'virtualmachineid');
    engine.backups.requireEnabled(vm.zone_id);
    return queryPage<BackupScheduleRow>(engine.db, page, { ...VM_SCHEDULES, values: [vm.id] }, (rows) => rows.map((s) => scheduleResponse(engine, s, undefined, vm)));
  },
});

export const deleteBackupSchedule = defineCommand({
  name: 'deleteBackupSchedule',
  description: "Deletes a backup schedule by id, or all of a VM's schedules.",
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { ...VM_PARAM, required: false, description: 'ID of the VM' },
    { name: 'id', type: 'uuid', description: 'ID of the schedule' },
  ],
  handler({ engine, caller }, args) {
    const id = args.uuid('id');
    const vmUuid = args.uuid('virtualmachineid');
    if (!id && !vmUuid) throw ApiError.param('id: give the schedule id or virtualmachineid');
    if (id) {
      const row = scheduleByUuid(engine, caller, id, 'id');
      engine.backups.requireEnabled(engine.vms.get(row.vm_id).zone_id);
      engine.db.prepare('DELETE FROM backup_schedules WHERE id=?').run(row.id);
    } else {
      const vm = engine.vms.forCaller(caller, vmUuid!, 'virtualmachineid');
      engine.backups.requireEnabled(vm.zone_id);
      if (schedulesOf(engine, vm.id).length === 0) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has no backup schedule`);
      engine.db.prepare('DELETE FROM backup_schedules WHERE vm_id=?').run(vm.id);
    }
    engine.backups.armDueTimer();
    return { success: true };
  },
});

export const previewBackupSchedule = defineCommand({
  name: 'previewBackupSchedule',
  description: "Kiln: the next runs a schedule would have, checked as createBackupSchedule checks it (the schedule editor's preview).",
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'backupschedule',
  params: [...SCHEDULE_PARAMS],
  handler({ engine }, args) {
    const spec = checkSchedule({ intervalType: args.str('intervaltype')!, schedule: args.str('schedule')!, timezone: args.str('timezone')! });
    return { intervaltype: spec.intervalType, schedule: spec.schedule, timezone: spec.timezone, nextruns: nextRuns(spec, engine.backups.clock(), 5).map((d) => csDate(d.toISOString())) };
  },
});

/**
 * The backup framework's queries: lookups by the uuid a caller passed (431 naming the parameter
 * for anything the caller may not see), the VM's offering and backups, and the API objects
 * CloudStack's responses carry (BackupOfferingResponse, BackupResponse, BackupScheduleResponse).
 */
import type { Engine } from '../engine.js';
import type { ApiObject, Caller } from '../registry/types.js';
import { noSuchEntity } from '../registry/command-scope.js';
import { canAccessAccount } from '../vm/access.js';
import { csDate } from '../format.js';
import type { VmRow } from '../vm/rows.js';
import { backedUpVolumes, type BackupOfferingRow, type BackupRow, type BackupScheduleRow, type VmOfferingRow } from './rows.js';
import { nextRuns } from './schedule.js';
import { zonesById } from '../views.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';

/** Backup states in which a backup holds data the VM may be restored from. */
export const RESTORABLE = ['BackedUp'];
/** States of a backup task still running. */
export const BUSY_STATES = ['Allocated', 'Queued', 'BackingUp', 'Restoring'];

export function offeringByUuid(engine: Engine, uuid: string, param: string): BackupOfferingRow {
  const row = engine.db.prepare('SELECT * FROM backup_offerings WHERE uuid=? AND removed IS NULL').get(uuid) as BackupOfferingRow | undefined;
  if (!row) throw noSuchEntity(param, uuid);
  return row;
}

export function offeringById(engine: Engine, id: number): BackupOfferingRow {
  return engine.db.prepare('SELECT * FROM backup_offerings WHERE id=?').get(id) as BackupOfferingRow;
}

/** The offering the VM is assigned to (SLA mode), if any. */
export function vmOffering(engine: Engine, vmId: number): { assignment: VmOfferingRow; offering: BackupOfferingRow } | undefined {
  const assignment = engine.db.prepare('SELECT * FROM backup_vm_offerings WHERE vm_id=?').get(vmId) as VmOfferingRow | undefined;
  return assignment ? { assignment, offering: offeringById(engine, assignment.offering_id) } : undefined;
}

/** The backup a caller names, checked for access (its owner's account, as the VM's). */
export function backupForCaller(engine: Engine, caller: Caller, uuid: string, param: string): BackupRow {
  const row = engine.db.prepare('SELECT * FROM backups WHERE uuid=? AND removed IS NULL').get(uuid) as BackupRow | undefined;
  if (!row || !canAccessAccount(engine.db, caller, row.account_id)) throw noSuchEntity(param, uuid);
  return row;
}

export function backupById(engine: Engine, id: number): BackupRow {
  return engine.db.prepare('SELECT * FROM backups WHERE id=?').get(id) as BackupRow;
}

/** The VM's backups that still exist, oldest first. */
export function backupsOf(engine: Engine, vmId: number): BackupRow[] {
  return engine.db.prepare('SELECT * FROM backups WHERE vm_id=? AND removed IS NULL ORDER BY id').all(vmId) as BackupRow[];
}

/** The incremental that builds directly on BACKUP, if one exists. */
export function childOf(engine: Engine, backup: BackupRow): BackupRow | undefined {
  return engine.db.prepare('SELECT * FROM backups WHERE parent_id=? AND removed IS NULL').get(backup.id) as BackupRow | undefined;
}

/** The chain a restore of BACKUP needs: its full backup first, BACKUP last. */
export function chainOf(engine: Engine, backup: BackupRow): BackupRow[] {
  const chain = [backup];
  let at = backup;
  while (at.parent_id !== null) {
    at = backupById(engine, at.parent_id);
    chain.unshift(at);
  }
  return chain;
}

/** A VM's schedules (its id the one value): schedulesOf reads them all, listBackupSchedule a page of them. */
export const VM_SCHEDULES = { select: '*', from: 'FROM backup_schedules WHERE vm_id=?', orderBy: 'id' };

export function schedulesOf(engine: Engine, vmId: number): BackupScheduleRow[] {
  return engine.db.prepare(`SELECT ${VM_SCHEDULES.select} ${VM_SCHEDULES.from} ORDER BY ${VM_SCHEDULES.orderBy}`).all(vmId) as BackupScheduleRow[];
}

export function offeringResponse(engine: Engine, row: BackupOfferingRow): ApiObject {
  return offeringResponses(engine, [row])[0]!;
}

export function offeringResponses(engine: Engine, rows: readonly BackupOfferingRow[]): ApiObject[] {
  const zones = zonesById(engine.db, rows.map((r) => r.zone_id));
  return rows.map((row) => {
    const zone = zones.get(row.zone_id)!;
    return {
      id: row.uuid,
      name: row.name,
      description: row.description,
      provider: row.provider,
      externalid: row.external_id,
      allowuserdrivenbackups: row.user_driven_backups === 1,
      zoneid: zone.uuid,
      zonename: zone.name,
      created: csDate(row.created),
    };
  });
}

export function backupResponse(engine: Engine, row: BackupRow): ApiObject {
  return backupResponses(engine, [row])[0]!;
}

/** The responses of a page of backups: VMs, offerings, owners, zones, parents and the VMs' assigned offerings in one statement each. */
export function backupResponses(engine: Engine, rows: readonly BackupRow[]): ApiObject[] {
  const { db } = engine;
  const distinct = (f: (r: BackupRow) => number | null) => [...new Set(rows.map(f).filter((v): v is number => v !== null))];
  const one = <T extends object>(sql: string, ids: number[], key: keyof T & string) => new Map([...rowsFor<T>(db, sql, ids, key)].map(([id, [r]]) => [id, r!]));
  const vms = one<{ id: number; uuid: string; display_name: string; state: string }>(`SELECT id, uuid, display_name, state FROM vm_instances WHERE id ${PAGE_IDS}`, distinct((r) => r.vm_id), 'id');
  const assigned = one<{ vm_id: number; offering_id: number }>(`SELECT vm_id, offering_id FROM backup_vm_offerings WHERE vm_id ${PAGE_IDS}`, distinct((r) => r.vm_id), 'vm_id');
  const offerings = one<{ id: number; uuid: string; name: string }>(`SELECT id, uuid, name FROM backup_offerings WHERE id ${PAGE_IDS}`, distinct((r) => r.offering_id), 'id');
  const accounts = one<{ id: number; uuid: string; name: string }>(`SELECT id, uuid, name FROM accounts WHERE id ${PAGE_IDS}`, distinct((r) => r.account_id), 'id');
  const domains = one<{ id: number; uuid: string; name: string }>(`SELECT id, uuid, name FROM domains WHERE id ${PAGE_IDS}`, distinct((r) => r.domain_id), 'id');
  const parents = one<{ id: number; uuid: string }>(`SELECT id, uuid FROM backups WHERE id ${PAGE_IDS}`, distinct((r) => r.parent_id), 'id');
  const zones = zonesById(engine.db, rows.map((r) => r.zone_id));
  return rows.map((row) => {
    const vm = vms.get(row.vm_id)!;
    const offering = offerings.get(row.offering_id)!;
    const account = accounts.get(row.account_id)!;
    const domain = domains.get(row.domain_id)!;
    const zone = zones.get(row.zone_id)!;
    const running = row.status === 'BackingUp' || row.status === 'Restoring';
    return {
      id: row.uuid,
      name: row.name,
      description: row.description ?? undefined,
      virtualmachineid: vm.uuid,
      virtualmachinename: vm.display_name,
      externalid: row.external_id ?? undefined,
      type: row.type,
      created: csDate(row.created),
      size: row.size,
      virtualsize: row.protected_size,
      status: row.status,
      // CloudStack hands the volumes as a JSON string (backup_volumes).
      volumes: JSON.stringify(backedUpVolumes(row).map((v) => ({ uuid: v.uuid, type: v.type, size: v.size, path: v.path }))),
      backupofferingid: offering.uuid,
      backupofferingname: offering.name,
      accountid: account.uuid,
      account: account.name,
      domainid: domain.uuid,
      domain: domain.name,
      zoneid: zone.uuid,
      zone: zone.name,
      intervaltype: row.interval_type,
      vmofferingremoved: assigned.get(row.vm_id)?.offering_id !== row.offering_id,
      isbackupvmexpunged: vm.state === 'Expunged',
      // Kiln: the chain (an incremental names the backup it builds on) and the job while one runs.
      parentid: row.parent_id !== null ? parents.get(row.parent_id)?.uuid : undefined,
      provider: row.provider,
      ...(running && row.job_uuid ? { jobid: row.job_uuid } : {}),
      ...(row.note ? { note: row.note } : {}),
    };
  });
}

/** VM: the schedule's VM when the caller has it (a list of one VM's schedules), else read here. */
export function scheduleResponse(engine: Engine, row: BackupScheduleRow, upcoming = 3, vm?: Pick<VmRow, 'uuid' | 'display_name'>): ApiObject {
  vm ??= engine.db.prepare('SELECT uuid, display_name FROM vm_instances WHERE id=?').get(row.vm_id) as Pick<VmRow, 'uuid' | 'display_name'>;
  const spec = { intervalType: row.interval_type, schedule: row.schedule, timezone: row.timezone };
  return {
    id: row.uuid,
    virtualmachineid: vm.uuid,
    virtualmachinename: vm.display_name,
    intervaltype: row.interval_type,
    schedule: row.schedule,
    timezone: row.timezone,
    maxbackups: row.max_backups,
    quiescevm: row.quiesce_vm === 1,
    // Kiln: when it runs next and ran last, for a desktop app that is often closed.
    scheduled: csDate(row.scheduled_at),
    nextruns: [csDate(row.scheduled_at), ...nextRuns(spec, new Date(row.scheduled_at), Math.max(0, upcoming - 1)).map((d) => csDate(d.toISOString()))],
    lastrun: csDate(row.last_run),
    lastresult: row.last_result ?? undefined,
  };
}

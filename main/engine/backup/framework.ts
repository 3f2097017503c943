/**
 * The backup and recovery framework (R53–R58), CloudStack's BackupManager: it reads the three
 * settings, picks the zone's provider, keeps the records (offerings, assignments, backups,
 * schedules) and runs the work as jobs in the VM's queue. Providers only copy data.
 *
 * - `backup.framework.enabled` (zone): while false every backup command for the zone answers
 *   530 saying so, as CloudStack's validateForZone does.
 * - `backup.framework.provider.plugin` (zone): the provider of new offerings and backups.
 * - `backup.framework.sync.interval` (s): the sync task (sync()) collects sizes, reconciles the
 *   records with the provider, and runs due schedules. A timer also wakes at the next due
 *   schedule, so a run is not up to one interval late.
 *
 * Faults: a backup row is written BackingUp with the job's owner before any data moves; the
 * provider writes to names that do not look complete until it has verified them. A process that
 * dies leaves the row to the next start (settleInterrupted), which discards what was written and
 * ends the row in Error; the job itself is failed by the job manager's orphan recovery.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError, toApiError } from '../registry/errors.js';
import type { ApiObject, AsyncWork, Caller } from '../registry/types.js';
import type { VmRow, VolumeRow } from '../vm/rows.js';
import type { BackupProvider } from './provider.js';
import { providerNamed } from './providers/index.js';
import { backedUpVolumes, type BackedUpVolume, type BackupOfferingRow, type BackupRow, type BackupScheduleRow } from './rows.js';
import { backupById, backupResponse, backupsOf, chainOf, childOf, offeringById, vmOffering, BUSY_STATES } from './records.js';
import { dueAt, type IntervalType } from './schedule.js';
import { volumesOf } from '../commands/volumes/volumes-of.js';
import { isUnreachable } from '../vm/host-cleanups.js';

/** VM states in which a backup may be taken (CloudStack: Running or Stopped). */
export const BACKUP_VM_STATES = ['Running', 'Stopped'];
/** VM states a whole-VM restore accepts: stopped, or destroyed (then recovered; its NICs are not restored). */
export const RESTORE_VM_STATES = ['Stopped', 'Destroyed'];

/** How a note begins for a restore cut short once its renames began (restore_plan). */
const RESTORE_CUT_SHORT = 'a restore from this backup was cut short while it put the restored disks in place';
/** What a rolled-back restore's note says of the VM, and that its host still holds what it wrote aside (settleRestore reads the note's start back). */
const RESTORE_KEPT = '; the VM kept its disks as they were';
const RESTORE_ASIDE_LEFT = '; what it wrote aside is still on the host';

/** What a volume restore writes on its host, recorded before it writes (migration 55). */
interface VolumeRestoreRow {
  id: number;
  backup_id: number;
  /** The uuid the new volume was to have. */
  volume_uuid: string;
  /** The VM it was to be attached to. */
  vm_id: number | null;
  host_id: number;
  disk: string;
  pool: string | null;
  /** The process writing it; NULL once it failed and what it wrote waits for its host. */
  owner: string | null;
  /** What its event says was cut short: written with the row (a restart), replaced when the host stopped answering. */
  note: string | null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class BackupFramework {
  /** The clock schedules are evaluated against (tests move it). */
  clock: () => Date = () => new Date();
  private syncTimer?: NodeJS.Timeout;
  private dueTimer?: NodeJS.Timeout;
  private syncing?: Promise<void>;
  private running = false;
  /** Backups whose leftovers are being discarded now (a sync and a host coming back may both try). */
  private readonly discarding = new Set<number>();
  /** Restores cut short being finished or undone now (settleRestore), likewise. */
  private readonly settlingRestores = new Set<number>();
  /** Volume restores cut short whose disk is being removed now (settleVolumeRestore), likewise. */
  private readonly settlingVolumeRestores = new Set<number>();

  constructor(private readonly engine: Engine) {}

  // ------------------------------------------------------------------ settings

  enabled(zoneId: number): boolean {
    return this.engine.settings.bool('backup.framework.enabled', zoneId);
  }

  /** Throws CloudStack's refusal while the framework is off for the zone. */
  requireEnabled(zoneId: number): void {
    if (this.enabled(zoneId)) return;
    const zone = this.engine.db.prepare('SELECT name FROM zones WHERE id=?').get(zoneId) as { name: string } | undefined;
    throw new ApiError(530, `Backup and Recovery feature is disabled for the zone ${zone?.name ?? zoneId}: an admin turns it on with the zone setting backup.framework.enabled=true`);
  }

  /** The zone's provider (backup.framework.provider.plugin). */
  providerFor(zoneId: number): BackupProvider {
    const name = this.engine.settings.string('backup.framework.provider.plugin', zoneId);
    const provider = providerNamed(name);
    if (!provider) throw new ApiError(530, `backup.framework.provider.plugin names "${name}", which is not a backup provider Kiln has`);
    return provider;
  }

  /** The provider of an existing offering or backup (recorded, so a changed setting does not orphan them). */
  provider(name: string): BackupProvider {
    const provider = providerNamed(name);
    if (!provider) throw new ApiError(530, `the backup provider "${name}" that made this record is not available`);
    return provider;
  }

  // ------------------------------------------------------------------ offerings (R54, R55)

  async importOffering(input: { zoneId: number; externalId: string; name: string; description: string; userDriven: boolean }): Promise<BackupOfferingRow> {
    this.requireEnabled(input.zoneId);
    const provider = this.providerFor(input.zoneId);
    const offered = (await provider.listOfferings(this.engine, input.zoneId)).find((o) => o.externalId === input.externalId);
    if (!offered) throw ApiError.param(`externalid: the ${provider.name} provider has no offering "${input.externalId}" in this zone (listBackupProviderOfferings lists them)`);
    const clash = this.engine.db.prepare('SELECT 1 FROM backup_offerings WHERE zone_id=? AND name=? AND removed IS NULL').get(input.zoneId, input.name);
    if (clash) throw ApiError.param(`name: a backup offering named "${input.name}" already exists in this zone`);
    const uuid = randomUUID();
    this.engine.db
      .prepare('INSERT INTO backup_offerings (uuid, name, description, external_id, provider, zone_id, user_driven_backups, created) VALUES (?,?,?,?,?,?,?,?)')
      .run(uuid, input.name, input.description, input.externalId, provider.name, input.zoneId, input.userDriven ? 1 : 0, now());
    return this.engine.db.prepare('SELECT * FROM backup_offerings WHERE uuid=?').get(uuid) as BackupOfferingRow;
  }

  deleteOffering(offering: BackupOfferingRow): void {
    const assigned = this.engine.db.prepare('SELECT COUNT(*) AS n FROM backup_vm_offerings WHERE offering_id=?').get(offering.id) as { n: number };
    if (assigned.n > 0) throw ApiError.param(`id: backup offering ${offering.name} is assigned to ${assigned.n} VM(s); remove them from it first`);
    this.engine.db.prepare('UPDATE backup_offerings SET removed=? WHERE id=?').run(now(), offering.id);
  }

  async assignVm(caller: Caller, vm: VmRow, offering: BackupOfferingRow): Promise<void> {
    this.requireEnabled(vm.zone_id);
    if (vm.zone_id !== offering.zone_id) throw ApiError.param(`backupofferingid: backup offering ${offering.name} is for another zone than VM ${vm.display_name}`);
    if (['Destroyed', 'Expunging', 'Expunged', 'Destroying'].includes(vm.state)) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is ${vm.state}`);
    const current = vmOffering(this.engine, vm.id);
    if (current) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is already assigned to backup offering ${current.offering.name}; remove it from that one first`);
    await this.provider(offering.provider).assignVm(this.engine, vm, offering);
    this.engine.db.prepare('INSERT INTO backup_vm_offerings (vm_id, offering_id, assigned) VALUES (?,?,?)').run(vm.id, offering.id, now());
    this.event(caller, vm, 'BACKUP.OFFERING.ASSIGN', `VM ${vm.display_name} assigned to backup offering ${offering.name}`);
  }

  /** Removes the VM from its offering; `forced` also deletes its backups (and their data) and schedules. */
  async removeVm(caller: Caller, vm: VmRow, forced: boolean): Promise<void> {
    this.requireEnabled(vm.zone_id);
    const current = vmOffering(this.engine, vm.id);
    if (!current) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is not assigned to a backup offering`);
    this.requireIdle(vm);
    if (forced) {
      // Newest first, so no backup is deleted before the incrementals built on it.
      for (const backup of backupsOf(this.engine, vm.id).reverse()) await this.removeBackupData(backup);
    }
    await this.provider(current.offering.provider).removeVm(this.engine, vm, current.offering);
    this.engine.db.transaction(() => {
      this.engine.db.prepare('DELETE FROM backup_vm_offerings WHERE vm_id=?').run(vm.id);
      this.engine.db.prepare('DELETE FROM backup_schedules WHERE vm_id=?').run(vm.id);
    })();
    this.armDueTimer();
    this.event(caller, vm, 'BACKUP.OFFERING.REMOVE', `VM ${vm.display_name} removed from backup offering ${current.offering.name}${forced ? ' with its backups' : ''}`);
  }

  // ------------------------------------------------------------------ backups (R56)

  /** The VM's offering, checked for a backup a user asked for (ad-hoc or a schedule). */
  requireUserDriven(vm: VmRow): BackupOfferingRow {
    const assigned = vmOffering(this.engine, vm.id);
    if (!assigned) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is not assigned to a backup offering (assignVirtualMachineToBackupOffering)`);
    if (assigned.offering.user_driven_backups !== 1) throw ApiError.param(`virtualmachineid: the backup offering ${assigned.offering.name} of VM ${vm.display_name} does not allow user-driven backups; its provider backs it up on its own schedule`);
    return assigned.offering;
  }

  /** One backup or restore at a time per VM (a click while one runs has no effect). */
  requireIdle(vm: VmRow): void {
    const busy = backupsOf(this.engine, vm.id).find((b) => BUSY_STATES.includes(b.status));
    if (busy) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has a backup task in progress (${busy.name} is ${busy.status}); try again when it ends`);
  }

  /**
   * Checks and records a new backup (BackingUp) and returns its job. The row exists before the
   * job starts, so the list shows it with its progress at once.
   */
  startBackup(caller: Caller, vm: VmRow, input: { name?: string; description?: string; quiesce: boolean; intervalType?: IntervalType; schedule?: BackupScheduleRow }): { backup: BackupRow; work: AsyncWork } {
    this.requireEnabled(vm.zone_id);
    const offering = this.requireUserDriven(vm);
    if (!BACKUP_VM_STATES.includes(vm.state)) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is ${vm.state}; a backup needs it Running or Stopped`);
    this.requireIdle(vm);
    const uuid = randomUUID();
    const stamp = now();
    const name = input.name ?? `${vm.display_name}-${stamp.replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '')}`;
    this.engine.db
      .prepare(
        `INSERT INTO backups (uuid, name, description, vm_id, offering_id, provider, status, interval_type, owner, account_id, domain_id, zone_id, created)
         VALUES (?,?,?,?,?,?,'BackingUp',?,?,?,?,?,?)`,
      )
      .run(uuid, name, input.description ?? null, vm.id, offering.id, offering.provider, input.intervalType ?? 'MANUAL', this.engine.jobs.owner, vm.account_id, vm.domain_id, vm.zone_id, stamp);
    const backup = this.engine.db.prepare('SELECT * FROM backups WHERE uuid=?').get(uuid) as BackupRow;
    return {
      backup,
      work: {
        instanceType: 'Backup',
        instanceId: uuid,
        queueKey: `vm:${vm.id}`,
        run: async (job) => {
          this.engine.db.prepare('UPDATE backups SET job_uuid=? WHERE id=?').run(job.uuid, backup.id);
          const done = await this.takeBackup(caller, backup.id, input.quiesce, (percent) => job.progress(percent));
          if (input.schedule) await this.applyRetention(input.schedule);
          return backupResponse(this.engine, done);
        },
      },
    };
  }

  private async takeBackup(caller: Caller, backupId: number, quiesce: boolean, onProgress: (percent: number) => void): Promise<BackupRow> {
    const backup = backupById(this.engine, backupId);
    const vm = this.engine.vms.get(backup.vm_id);
    const offering = offeringById(this.engine, backup.offering_id);
    const provider = this.provider(backup.provider);
    try {
      if (!BACKUP_VM_STATES.includes(vm.state)) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is ${vm.state}; a backup needs it Running or Stopped`);
      const volumes = this.engine.db.prepare('SELECT * FROM volumes WHERE vm_id=? AND removed IS NULL ORDER BY device_id').all(vm.id) as VolumeRow[];
      const previous = backupsOf(this.engine, vm.id).filter((b) => b.status === 'BackedUp' && b.id !== backup.id).pop();
      const taken = await provider.takeBackup({ engine: this.engine, vm, offering, backup, volumes, previous, quiesce, options: { onProgress } });
      this.engine.db
        .prepare(`UPDATE backups SET status='BackedUp', external_id=?, type=?, parent_id=?, size=?, protected_size=?, volumes=?, host_id=? WHERE id=?`)
        .run(taken.externalId, taken.type, taken.parentId ?? null, taken.size, taken.protectedSize, JSON.stringify(taken.volumes), taken.hostId ?? null, backup.id);
      this.event(caller, vm, 'BACKUP.CREATE', `backup ${backup.name} of VM ${vm.display_name}: ${taken.type}, ${taken.size} bytes${taken.parentId ? `, on ${backupById(this.engine, taken.parentId).name}` : ''}`);
      this.engine.events.usage({ type: 'BACKUP.CREATE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: backup.id, resourceName: backup.name, size: taken.size });
    } catch (error) {
      // What the provider wrote may still be there (it could not reach the host to remove it, a
      // lost connection): the row keeps saying so until a discard succeeds, now or when the host is back.
      this.engine.db.prepare(`UPDATE backups SET status='Error', note=?, discard_pending=1 WHERE id=?`).run(`the backup failed: ${message(error)}`, backup.id);
      this.event(caller, vm, 'BACKUP.CREATE', `backup ${backup.name} of VM ${vm.display_name} failed: ${message(error)}`, 'ERROR');
      void this.discardLeftovers(backupById(this.engine, backup.id));
      throw error;
    } finally {
      this.emit(vm);
    }
    return backupById(this.engine, backup.id);
  }

  /** maxbackups: the schedule's oldest backups beyond it go (an incremental built on one takes its data first). */
  async applyRetention(schedule: BackupScheduleRow): Promise<void> {
    const current = this.engine.db.prepare('SELECT * FROM backup_schedules WHERE id=?').get(schedule.id) as BackupScheduleRow | undefined;
    if (!current || current.max_backups <= 0) return;
    const made = backupsOf(this.engine, current.vm_id).filter((b) => b.interval_type === current.interval_type && b.status === 'BackedUp');
    for (const old of made.slice(0, Math.max(0, made.length - current.max_backups))) await this.removeBackupData(old, 'maxbackups retention');
  }

  // ------------------------------------------------------------------ restores (R57)

  checkRestore(vm: VmRow, backup: BackupRow): void {
    this.requireEnabled(vm.zone_id);
    if (!RESTORE_VM_STATES.includes(vm.state)) {
      throw ApiError.param(`id: VM ${vm.display_name} is ${vm.state}; stop it before restoring it from a backup (a restore writes over its disks; a Destroyed VM is recovered first)`);
    }
    if (backup.status !== 'BackedUp') throw ApiError.param(`id: backup ${backup.name} is ${backup.status}; only a BackedUp backup can be restored`);
    this.requireIdle(vm);
  }

  async restoreVm(caller: Caller, backup: BackupRow, jobUuid: string): Promise<ApiObject> {
    let vm = this.engine.vms.get(backup.vm_id);
    this.checkRestore(vm, backup);
    const destroyed = vm.state === 'Destroyed';
    // CloudStack recovers a destroyed VM first; the backup brings back its disks, not its NICs or networks.
    if (destroyed) vm = this.engine.vms.recover(caller, vm);
    // The provider's plan of its renames is recorded before the first: a restore cut short during them is finished (settleRestore).
    const beforeRenames = (plan: string) => void this.engine.db.prepare('UPDATE backups SET restore_plan=? WHERE id=?').run(plan, backup.id);
    await this.withStatus(backup, 'Restoring', jobUuid, () => this.provider(backup.provider).restoreVm({ engine: this.engine, vm, chain: chainOf(this.engine, backup), options: {}, beforeRenames }), true);
    this.event(caller, vm, 'BACKUP.RESTORE', `VM ${vm.display_name} restored from backup ${backup.name}${destroyed ? ' after recovering it (its NICs and networks are not restored from the backup)' : ''}`);
    return backupResponse(this.engine, backupById(this.engine, backup.id));
  }

  checkRestoreVolume(backup: BackupRow, volumeUuid: string, target: VmRow): BackedUpVolume {
    this.requireEnabled(target.zone_id);
    if (backup.status !== 'BackedUp') throw ApiError.param(`backupid: backup ${backup.name} is ${backup.status}; only a BackedUp backup can be restored`);
    const volume = backedUpVolumes(backup).find((v) => v.uuid === volumeUuid);
    if (!volume) throw ApiError.param(`volumeid: backup ${backup.name} holds no volume ${volumeUuid} (its volumes are listed in listBackups)`);
    if (target.zone_id !== backup.zone_id) throw ApiError.param(`virtualmachineid: VM ${target.display_name} is in another zone than backup ${backup.name}`);
    // The volume commands' own checks of the VM (its state, no VM snapshots, R57: no backups, a
    // hypervisor that attaches disks), so nothing is restored that attachVolume would then refuse.
    volumesOf(this.engine).checkAttachable(target, target.account_id, target.zone_id, `the volume restored from backup ${backup.name}`);
    return volume;
  }

  /**
   * Restores one backed-up volume as a new volume of TARGET (CloudStack's
   * restoreVolumeFromBackupAndAttachToVM). The volume's row is written once the copy is done; until
   * then what the copy writes is named by its record (backup_volume_restores), so a copy cut short
   * leaves nothing on its host once the host answers (volumeRestoreFailed, settleVolumeRestores).
   */
  async restoreVolume(caller: Caller, backup: BackupRow, volumeUuid: string, target: VmRow, jobUuid: string): Promise<ApiObject> {
    const volume = this.checkRestoreVolume(backup, volumeUuid, target);
    const source = this.engine.vms.get(backup.vm_id);
    const uuid = randomUUID();
    const diskName = this.engine.hosts.volumeName(target.hypervisor, uuid);
    // What the provider is about to write on a host is recorded first, owned by this process: a
    // host cut off during the copy (or a Kiln killed) has it removed when it answers again. Its
    // note names the restore as the user asked for it (the backed-up volume, the VM), for the event
    // of a next start after a kill: the new volume's uuid names nothing the user ever saw.
    let record: number | undefined;
    const interrupted = `the restore of volume ${volume.uuid} from backup ${backup.name} onto VM ${target.display_name} was interrupted by a restart`;
    const beforeWrites = (hostId: number, disk: { name: string; pool?: string }) => {
      record = Number(
        this.engine.db
          .prepare('INSERT INTO backup_volume_restores (backup_id, volume_uuid, vm_id, host_id, disk, pool, owner, note, created) VALUES (?,?,?,?,?,?,?,?,?)')
          .run(backup.id, uuid, target.id, hostId, disk.name, disk.pool ?? null, this.engine.jobs.owner, interrupted, now()).lastInsertRowid,
      );
    };
    let restored: Awaited<ReturnType<BackupProvider['restoreVolume']>>;
    try {
      restored = await this.withStatus(backup, 'Restoring', jobUuid, () =>
        this.provider(backup.provider).restoreVolume({ engine: this.engine, vm: target, chain: chainOf(this.engine, backup), options: {}, beforeWrites }, volume, diskName),
      );
    } catch (error) {
      if (record !== undefined) await this.volumeRestoreFailed(record, backup, volume.uuid, target, error);
      throw error;
    }
    const original = this.engine.db.prepare('SELECT pool FROM volumes WHERE uuid=?').get(volume.uuid) as { pool: string | null } | undefined;
    // A detached data volume first (Ready on the host that holds the file; Allocated when the
    // provider wrote none, as the dummy), then attached by the volume commands' own code: live to
    // a running VM, into the definition of a stopped one.
    // The volume's row names the disk from here on, in place of the restore's record.
    const id = this.engine.db.transaction(() => {
      const made = Number(
        this.engine.db
          .prepare(`INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, path, pool, state, host_id, created) VALUES (?,?,NULL,?,?,'DATADISK',0,?,?,?,?,?,?)`)
          .run(uuid, `Restored-${backup.name}-${volume.type}-${volume.deviceId}`.slice(0, 255), target.account_id, target.zone_id, restored.size, restored.written ? diskName : null, original?.pool ?? null, restored.written ? 'Ready' : 'Allocated', restored.written ? restored.hostId ?? null : null, now()).lastInsertRowid,
      );
      if (record !== undefined) this.engine.db.prepare('DELETE FROM backup_volume_restores WHERE id=?').run(record);
      return made;
    })();
    const volumes = volumesOf(this.engine);
    let attached: VolumeRow;
    try {
      attached = await volumes.attach(caller, volumes.claimAttach(volumes.get(id), this.engine.vms.get(target.id), undefined), jobUuid);
    } catch (error) {
      // An attach refused (or failed) after the copy: the restored volume is not left behind,
      // detached, for someone to find; its disk goes as deleteVolume deletes one (owed to a host
      // that does not answer), and the row with it.
      await volumes.remove(caller, volumes.get(id)).catch((cleanup: unknown) => this.engine.log.warn(`backup ${backup.uuid}: removing volume ${uuid}, restored but not attached, failed: ${message(cleanup)}`));
      throw error;
    }
    // The volumes by name, as the VMs' Volumes tabs show them (the backed-up one by uuid once it is gone).
    const sourceName = (this.engine.db.prepare('SELECT name FROM volumes WHERE uuid=?').pluck().get(volume.uuid) as string | undefined) ?? volume.uuid;
    this.event(caller, target, 'BACKUP.RESTORE', `volume ${sourceName} of VM ${source.display_name} restored from backup ${backup.name} as volume ${attached.name} of VM ${target.display_name}`);
    return { volumeid: uuid, virtualmachineid: target.uuid, deviceid: attached.device_id, size: restored.size };
  }

  /**
   * A volume restore that failed after it recorded what it writes (beforeWrites): what it wrote
   * is removed now; when its host cannot be reached the record waits for it (owner NULL,
   * settleVolumeRestores) and the job's error says so. Throws the error to fail the job with.
   */
  private async volumeRestoreFailed(recordId: number, backup: BackupRow, volumeUuid: string, target: VmRow, error: unknown): Promise<never> {
    const row = this.engine.db.prepare('SELECT * FROM backup_volume_restores WHERE id=?').get(recordId) as VolumeRestoreRow;
    const host = this.hostName(row.host_id);
    // A lost connection's message names the whole script that was running: the host is what matters.
    const cause = isUnreachable(error) ? `host ${host} stopped answering` : `it failed (${message(error).split('\n')[0]}) and host ${host} could not be reached to remove what it wrote`;
    const why = `the restore of volume ${volumeUuid} from backup ${backup.name} onto VM ${target.display_name} was cut short: ${cause}`;
    if (await this.settleVolumeRestore(row, why)) throw error;
    throw new ApiError(toApiError(error).errorCode, `${why}; no volume was added to VM ${target.display_name}, and the disk ${row.disk} it was writing there, with its copy, is removed when the host answers again`);
  }

  /**
   * Removes what a volume restore cut short wrote (its record); true once it is gone. When the
   * host does not answer the record stays, owned by no process, saying so, for the next try (the
   * host back Up, the sync task, the next start).
   */
  private async settleVolumeRestore(row: VolumeRestoreRow, why: string): Promise<boolean> {
    if (this.settlingVolumeRestores.has(row.id)) return false;
    this.settlingVolumeRestores.add(row.id);
    try {
      const backup = backupById(this.engine, row.backup_id);
      const target = { name: row.disk, pool: row.pool ?? undefined };
      try {
        const provider = providerNamed(backup.provider);
        if (!provider?.discardVolumeRestore) throw new Error(`the ${backup.provider} provider cannot remove what a volume restore wrote`);
        await provider.discardVolumeRestore(this.engine, row.host_id, target);
      } catch (error) {
        this.engine.db.prepare('UPDATE backup_volume_restores SET owner=NULL, note=? WHERE id=?').run(why, row.id);
        this.engine.log.warn(`backup ${backup.uuid}: removing disk ${row.disk}, which a volume restore cut short wrote on host ${this.hostName(row.host_id)}, failed; trying again when the host answers: ${message(error)}`);
        return false;
      }
      this.engine.db.prepare('DELETE FROM backup_volume_restores WHERE id=?').run(row.id);
      if (row.owner !== this.engine.jobs.owner) {
        // Done later (the host answered again, or at a start after a kill): the event says so.
        const vm = row.vm_id !== null ? (this.engine.db.prepare('SELECT * FROM vm_instances WHERE id=?').get(row.vm_id) as VmRow | undefined) : undefined;
        const description = `${why}; host ${this.hostName(row.host_id)} answered: the disk ${row.disk} it was writing there and its copy were removed`;
        if (vm) this.event(this.engine.accounts.byUserId(vm.user_id) ?? this.engine.accounts.localAdmin(), vm, 'BACKUP.RESTORE', description);
        else this.engine.events.record({ type: 'BACKUP.RESTORE', description, accountId: backup.account_id, domainId: backup.domain_id });
      }
      return true;
    } finally {
      this.settlingVolumeRestores.delete(row.id);
    }
  }

  /**
   * What volume restores cut short still hold on their hosts (a host cut off during the copy, a
   * process that died): removed now, for each host that answers (the sync task, a host back Up,
   * the start). A restore running in this process owns its record and is left to its job.
   */
  async settleVolumeRestores(): Promise<void> {
    const rows = this.engine.db.prepare('SELECT * FROM backup_volume_restores WHERE owner IS NULL OR owner<>? ORDER BY id').all(this.engine.jobs.owner) as VolumeRestoreRow[];
    for (const row of rows) {
      const why = row.note ?? `a restore of volume ${row.volume_uuid} from backup ${backupById(this.engine, row.backup_id).name} was interrupted by a restart`;
      await this.settleVolumeRestore(row, why);
    }
  }

  private hostName(hostId: number): string {
    return (this.engine.db.prepare('SELECT name FROM hosts WHERE id=?').get(hostId) as { name: string } | undefined)?.name ?? String(hostId);
  }

  /**
   * Runs a restore with the backup Restoring, BackedUp again after. A restore that failed once its
   * renames began (restore_plan) stays Restoring, owned by no process, until settleRestore
   * finishes it (the host answering again, the sync task, the next start): the VM never keeps a
   * mix of restored and old disks. A whole-VM restore that failed before them (ROLLBACK) has what
   * it wrote aside removed at once, or, when its host cannot be reached, when it answers again.
   */
  private async withStatus<T>(backup: BackupRow, status: 'Restoring', jobUuid: string, work: () => Promise<T>, rollBack = false): Promise<T> {
    this.engine.db.prepare('UPDATE backups SET status=?, job_uuid=?, owner=?, restore_plan=NULL WHERE id=?').run(status, jobUuid, this.engine.jobs.owner, backup.id);
    this.emit(this.engine.vms.get(backup.vm_id));
    try {
      const result = await work();
      this.engine.db.prepare(`UPDATE backups SET status='BackedUp', restore_plan=NULL WHERE id=?`).run(backup.id);
      return result;
    } catch (error) {
      const failed = backupById(this.engine, backup.id);
      if (failed.restore_plan) {
        this.engine.db.prepare('UPDATE backups SET owner=NULL, note=? WHERE id=?').run(`${RESTORE_CUT_SHORT}: ${message(error)}; Kiln finishes it when the host answers again`, backup.id);
      } else if (rollBack) {
        // Before the renames: the VM's disks are as they were, and what was written beside them
        // goes now, by the same rollback a restart does (settleRestore); a host that cannot be
        // reached keeps the restore Restoring, owned by no process, until it answers.
        this.engine.db.prepare('UPDATE backups SET owner=NULL WHERE id=?').run(backup.id);
        await this.settleRestore({ ...failed, owner: null }, { why: `a restore from this backup failed (${message(error)})` });
      } else {
        this.engine.db.prepare(`UPDATE backups SET status='BackedUp' WHERE id=?`).run(backup.id);
      }
      throw error;
    } finally {
      this.emit(this.engine.vms.get(backup.vm_id));
    }
  }

  /**
   * A VM does not start while a restore of it runs or waits to be finished (its renames cut short
   * by a restart or a lost connection): its disks would be some restored and some not.
   */
  refuseWhileRestoring(vm: VmRow): void {
    // One rolled back while its host was away (no plan, no process) left the VM's disks as they were: it may start.
    const restoring = this.engine.db.prepare(`SELECT name, restore_plan FROM backups WHERE vm_id=? AND status='Restoring' AND removed IS NULL AND (restore_plan IS NOT NULL OR owner IS NOT NULL)`).get(vm.id) as { name: string; restore_plan: string | null } | undefined;
    if (!restoring) return;
    throw ApiError.param(
      `id: VM ${vm.display_name} is being restored from backup ${restoring.name}${restoring.restore_plan ? ' (a restore cut short while it put the restored disks in place; Kiln finishes it when the host answers)' : ''}; start it when that ends`,
    );
  }

  // ------------------------------------------------------------------ deletes

  /** A backup a later incremental builds on is refused, unless forced: then its data goes into that incremental first. */
  checkDelete(backup: BackupRow, forced: boolean): void {
    if (BUSY_STATES.includes(backup.status)) throw ApiError.param(`id: backup ${backup.name} is ${backup.status}; delete it when that ends`);
    const child = childOf(this.engine, backup);
    if (child && !forced) throw ApiError.param(`id: backup ${backup.name} is the base of the incremental backup ${child.name}; delete that one first, or pass forced=true to merge this one into it`);
  }

  async deleteBackup(caller: Caller, backup: BackupRow, forced: boolean): Promise<void> {
    this.checkDelete(backup, forced);
    await this.removeBackupData(backup, forced ? 'forced' : undefined);
    this.event(caller, this.engine.vms.get(backup.vm_id), 'BACKUP.DELETE', `backup ${backup.name} deleted`);
  }

  /** Removes a backup's data and marks it Removed; an incremental built on it takes its data first. */
  private async removeBackupData(backup: BackupRow, why?: string): Promise<void> {
    const child = childOf(this.engine, backup);
    if (backup.status !== 'Error' && backup.status !== 'Failed') await this.provider(backup.provider).deleteBackup(this.engine, backup, child);
    this.engine.db.transaction(() => {
      if (child) {
        // The child now holds what it needed of this one: it builds on this one's parent, or stands alone.
        this.engine.db.prepare('UPDATE backups SET parent_id=?, type=? WHERE id=?').run(backup.parent_id, backup.parent_id === null ? 'FULL' : child.type, child.id);
      }
      this.engine.db.prepare(`UPDATE backups SET status='Removed', removed=?, note=COALESCE(?, note) WHERE id=?`).run(now(), why ? `removed: ${why}` : null, backup.id);
    })();
    this.engine.events.usage({ type: 'BACKUP.DELETE', accountId: backup.account_id, zoneId: backup.zone_id, resourceId: backup.id, resourceName: backup.name });
  }

  // ------------------------------------------------------------------ the sync task (R58) and schedules

  start(): void {
    this.running = true;
    // A host back Up: what failed backups left on it (a lost connection) can be discarded now.
    this.engine.hosts.events.on('host-state', this.onHostState);
    // At start: settle what a previous process left, then one sync (a schedule missed while Kiln was closed runs now, once).
    void this.settleInterrupted()
      .then(() => this.sync())
      .catch((error: unknown) => this.engine.log.warn(`backup sync: ${message(error)}`));
  }

  stop(): void {
    this.running = false;
    this.engine.hosts.events.off('host-state', this.onHostState);
    clearTimeout(this.syncTimer);
    clearTimeout(this.dueTimer);
  }

  /** One pass: sizes and presence from the provider, then due schedules; re-arms itself every sync interval. */
  async sync(): Promise<void> {
    if (this.syncing) return this.syncing;
    this.syncing = (async () => {
      try {
        await this.discardPending();
        await this.finishCutShortRestores();
        await this.settleVolumeRestores();
        await this.reconcile();
        await this.runDueSchedules();
      } finally {
        this.syncing = undefined;
        this.armSyncTimer();
      }
    })();
    return this.syncing;
  }

  private armSyncTimer(): void {
    clearTimeout(this.syncTimer);
    if (!this.running) return;
    const seconds = Math.max(1, this.engine.settings.int('backup.framework.sync.interval') || 300);
    this.syncTimer = setTimeout(() => void this.sync().catch((error: unknown) => this.engine.log.warn(`backup sync: ${message(error)}`)), seconds * 1000);
    this.syncTimer.unref();
  }

  /** Wakes at the earliest schedule's next run (schedules change it: create, update, delete, a run). */
  armDueTimer(): void {
    clearTimeout(this.dueTimer);
    if (!this.running) return;
    const first = this.engine.db.prepare('SELECT MIN(scheduled_at) AS at FROM backup_schedules').get() as { at: string | null };
    if (!first.at) return;
    // setTimeout holds at most ~24.8 days; the sync pass re-arms it long before that matters.
    const delay = Math.min(Math.max(0, new Date(first.at).getTime() - this.clock().getTime()), 2 ** 31 - 1);
    this.dueTimer = setTimeout(() => void this.runDueSchedules().catch((error: unknown) => this.engine.log.warn(`backup schedules: ${message(error)}`)), delay + 50);
    this.dueTimer.unref();
  }

  /**
   * Runs each schedule whose time has come, once, however many of its slots passed (dueAt), as a
   * job of the VM's owner; returns the job ids. A zone with the framework off keeps its
   * schedules waiting: they run once when it is on again.
   */
  async runDueSchedules(): Promise<string[]> {
    const at = this.clock();
    const jobs: string[] = [];
    const schedules = this.engine.db.prepare('SELECT * FROM backup_schedules ORDER BY scheduled_at').all() as BackupScheduleRow[];
    for (const schedule of schedules) {
      const spec = { intervalType: schedule.interval_type, schedule: schedule.schedule, timezone: schedule.timezone };
      const { due, next } = dueAt(spec, new Date(schedule.scheduled_at), at);
      if (!due) continue;
      const vm = this.engine.vms.get(schedule.vm_id);
      if (!this.enabled(vm.zone_id)) continue;
      let result: string;
      try {
        const owner = this.engine.accounts.byUserId(vm.user_id) ?? this.engine.accounts.localAdmin();
        const { backup, work } = this.startBackup(owner, vm, { quiesce: schedule.quiesce_vm === 1, intervalType: schedule.interval_type, schedule });
        jobs.push(this.engine.jobs.submitInternal(owner, 'createBackup', work, 'backup'));
        result = `started backup ${backup.name}`;
      } catch (error) {
        result = `skipped: ${message(error)}`;
      }
      this.engine.db.prepare('UPDATE backup_schedules SET scheduled_at=?, last_run=?, last_result=? WHERE id=?').run(next.toISOString(), at.toISOString(), result, schedule.id);
    }
    this.armDueTimer();
    return jobs;
  }

  /** Sizes as the provider has them, and backups it no longer has marked Removed. A provider that does not answer changes nothing. */
  async reconcile(): Promise<void> {
    const backups = this.engine.db.prepare(`SELECT * FROM backups WHERE status='BackedUp' AND removed IS NULL`).all() as BackupRow[];
    for (const backup of backups) {
      if (!this.enabled(backup.zone_id)) continue;
      const provider = providerNamed(backup.provider);
      if (!provider?.inspect) continue;
      try {
        const seen = await provider.inspect(this.engine, backup);
        if (!seen) continue;
        if (!seen.present) {
          this.engine.db.prepare(`UPDATE backups SET status='Removed', removed=?, note=? WHERE id=?`).run(now(), 'removed by the sync task: the backup store no longer has it', backup.id);
        } else if (seen.size !== backup.size) {
          this.engine.db.prepare('UPDATE backups SET size=? WHERE id=?').run(seen.size, backup.id);
        }
      } catch (error) {
        this.engine.log.warn(`backup sync of ${backup.uuid}: ${message(error)}`);
      }
    }
  }

  /**
   * Backups and restores a previous process left running: a backup's partial data is discarded
   * and it ends in Error (never BackedUp-looking); a restore's backup is BackedUp again (the
   * provider writes a restored disk under another name and renames it last).
   */
  async settleInterrupted(): Promise<number> {
    // What volume restores of a dead process (or cut off from their host) wrote goes first.
    await this.settleVolumeRestores();
    const left = this.engine.db.prepare(`SELECT * FROM backups WHERE status IN ('Allocated','Queued','BackingUp','Restoring') AND (owner IS NULL OR owner<>?)`).all(this.engine.jobs.owner) as BackupRow[];
    for (const backup of left) {
      if (backup.status === 'Restoring') {
        await this.settleRestore(backup);
        continue;
      }
      let note = 'interrupted: Kiln stopped during the backup; what it had written was discarded';
      let pending = 0;
      try {
        await providerNamed(backup.provider)?.discardInterrupted?.(this.engine, backup);
      } catch (error) {
        note = `interrupted: Kiln stopped during the backup; discarding what it had written failed (${message(error)}), the next sync tries again`;
        pending = 1;
      }
      this.engine.db.prepare(`UPDATE backups SET status='Error', note=?, discard_pending=? WHERE id=?`).run(note, pending, backup.id);
    }
    return left.length;
  }

  /**
   * A restore a previous process, a lost connection or a failure cut short. The provider writes
   * every restored disk aside and renames them over the VM's only at the end, recording the
   * renames' plan first. Before that plan the VM has its old disks, and what was written aside
   * goes (rolled back); with it, some disks may be restored already, so the rest are put in place
   * too (finished): either way the VM ends with one backup's disks or the other's, never a mix. A
   * VM expunged meanwhile has no disks to finish: what the restore wrote aside goes.
   * Until the host has done its part the backup stays Restoring, owned by no process, and the
   * sync task and the host coming back Up try again (finishCutShortRestores). A restore finished
   * so ends its job done, saying how, whether a dead process or this one failed it.
   */
  private async settleRestore(backup: BackupRow, how: { why?: string } = {}): Promise<void> {
    if (this.settlingRestores.has(backup.id)) return;
    this.settlingRestores.add(backup.id);
    try {
      const vm = this.engine.vms.get(backup.vm_id);
      const provider = providerNamed(backup.provider);
      const expunged = vm.state === 'Expunging' || vm.state === 'Expunged';
      if (!backup.restore_plan || expunged) {
        // Tried again (the host was away): the note it left says why it is rolled back.
        const left = backup.note?.includes(RESTORE_ASIDE_LEFT) ? backup.note.split(RESTORE_KEPT)[0]!.split(RESTORE_ASIDE_LEFT)[0] : undefined;
        const why = how.why ?? left ?? 'a restore from this backup was interrupted by a restart';
        const kept = expunged ? '' : RESTORE_KEPT;
        try {
          await provider?.discardRestore?.(this.engine, backup, vm);
        } catch (error) {
          this.engine.db.prepare('UPDATE backups SET owner=NULL, note=? WHERE id=?').run(`${why}${kept}${RESTORE_ASIDE_LEFT}: removing it failed (${message(error)}), Kiln removes it when the host answers again`, backup.id);
          this.engine.log.warn(`backup ${backup.uuid}: removing what a restore of VM ${vm.display_name} wrote aside failed, trying again later: ${message(error)}`);
          return;
        }
        this.engine.db.prepare(`UPDATE backups SET status='BackedUp', restore_plan=NULL, owner=NULL, note=? WHERE id=?`).run(expunged ? `${why}; what it wrote aside was removed` : `${why}${kept}`, backup.id);
        this.emit(vm);
        return;
      }
      try {
        if (!provider?.finishRestore) throw new Error(`the ${backup.provider} provider cannot finish a restore`);
        await provider.finishRestore(this.engine, backup, vm, backup.restore_plan);
      } catch (error) {
        // Still Restoring, owned by no process: the sync task and the host coming back try again.
        this.engine.db.prepare('UPDATE backups SET owner=NULL, note=? WHERE id=?').run(`${RESTORE_CUT_SHORT}; finishing it failed (${message(error)}), Kiln tries again when the host answers`, backup.id);
        this.engine.log.warn(`backup ${backup.uuid}: finishing the restore of VM ${vm.display_name} failed, trying again later: ${message(error)}`);
        return;
      }
      const note = `${RESTORE_CUT_SHORT}; Kiln finished it: every disk of VM ${vm.display_name} is the restored one`;
      this.engine.db.prepare(`UPDATE backups SET status='BackedUp', restore_plan=NULL, owner=NULL, note=? WHERE id=?`).run(note, backup.id);
      // Its job (failed by the orphan recovery of a dead process, or by this one when the host went) ends done, saying how.
      if (backup.job_uuid) this.engine.jobs.finishOrphan(backup.job_uuid, { ok: true, result: { success: true, note } });
      const owner = this.engine.accounts.byUserId(vm.user_id) ?? this.engine.accounts.localAdmin();
      this.event(owner, vm, 'BACKUP.RESTORE', `VM ${vm.display_name} restored from backup ${backup.name}: ${note}`);
      this.emit(vm);
    } finally {
      this.settlingRestores.delete(backup.id);
    }
  }

  /**
   * Restores cut short (a lost connection, a failure, a dead process) still to be finished or
   * rolled back: done now (sync task, host back Up).
   */
  async finishCutShortRestores(): Promise<void> {
    const rows = this.engine.db.prepare(`SELECT * FROM backups WHERE status='Restoring' AND owner IS NULL`).all() as BackupRow[];
    for (const backup of rows) await this.settleRestore(backup);
  }

  /**
   * Before VM's disks go (expunge): a restore of it cut short is not finished onto them (its VM is
   * gone); what it wrote beside them goes with them, now, or, when its host does not answer, when
   * it does (settleRestore sees the VM expunged). One running in this process is left to its job.
   */
  async abandonRestores(vm: VmRow): Promise<void> {
    const rows = this.engine.db.prepare(`SELECT * FROM backups WHERE vm_id=? AND status='Restoring' AND removed IS NULL AND (owner IS NULL OR owner<>?)`).all(vm.id, this.engine.jobs.owner) as BackupRow[];
    for (const backup of rows) await this.settleRestore(backup, { why: `a restore from this backup was abandoned: VM ${vm.display_name} was expunged before it was finished` });
  }

  private readonly onHostState = (change: { state: string }): void => {
    if (change.state !== 'Up') return;
    void this.discardPending();
    void this.finishCutShortRestores().catch((error: unknown) => this.engine.log.warn(`backup restores: ${message(error)}`));
    void this.settleVolumeRestores().catch((error: unknown) => this.engine.log.warn(`backup volume restores: ${message(error)}`));
  };

  /** Retries the discards failed backups still owe (their host was unreachable when they failed). */
  async discardPending(): Promise<void> {
    const pending = this.engine.db.prepare(`SELECT * FROM backups WHERE discard_pending=1 AND status IN ('Error','Failed')`).all() as BackupRow[];
    for (const backup of pending) await this.discardLeftovers(backup);
  }

  /** Discards what a failed backup wrote; on success it owes nothing more, else the next try (sync, host back Up) goes again. */
  private async discardLeftovers(backup: BackupRow): Promise<void> {
    if (this.discarding.has(backup.id)) return;
    // Not while another backup or restore of the VM runs: the discard stops the domain's backup job.
    if (backupsOf(this.engine, backup.vm_id).some((b) => b.id !== backup.id && BUSY_STATES.includes(b.status))) return;
    this.discarding.add(backup.id);
    try {
      await providerNamed(backup.provider)?.discardInterrupted?.(this.engine, backup);
      this.engine.db.prepare('UPDATE backups SET discard_pending=0 WHERE id=?').run(backup.id);
    } catch (error) {
      this.engine.log.warn(`backup ${backup.uuid}: discarding what it wrote failed, trying again later: ${message(error)}`);
    } finally {
      this.discarding.delete(backup.id);
    }
  }

  // ------------------------------------------------------------------ helpers

  private event(caller: Caller, vm: VmRow, type: string, description: string, level: 'INFO' | 'ERROR' = 'INFO'): void {
    this.engine.events.record({ type, description, level, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
  }

  /** The VM's live row changes too (the UI's Backups tab listens on the VM). */
  private emit(vm: VmRow): void {
    this.engine.bus.emit('vm', { id: vm.uuid, state: vm.state, accountId: vm.account_id });
  }
}

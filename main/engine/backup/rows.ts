/** Row shapes of the backup tables (migrations 25 and 32), as better-sqlite3 returns them. */
import type { IntervalType } from './schedule.js';

export interface BackupOfferingRow {
  id: number;
  uuid: string;
  name: string;
  description: string;
  external_id: string;
  provider: string;
  zone_id: number;
  user_driven_backups: number;
  created: string;
  removed: string | null;
}

export interface VmOfferingRow {
  vm_id: number;
  offering_id: number;
  external_id: string | null;
  assigned: string;
}

export type BackupStatus = 'Allocated' | 'Queued' | 'BackingUp' | 'BackedUp' | 'Error' | 'Failed' | 'Restoring' | 'Removed' | 'Expunged';
export type BackupType = 'FULL' | 'INCREMENTAL';

/** One backed-up volume of a backup (the JSON of backups.volumes). */
export interface BackedUpVolume {
  /** The Kiln volume's uuid and type at backup time. */
  uuid: string;
  type: 'ROOT' | 'DATADISK';
  deviceId: number;
  /** Its disk's name on the host (DiskSpec.name). */
  path: string;
  /** Its virtual size in bytes. */
  size: number;
  /** What the provider wrote for it (a file in the backup store); absent for the dummy. */
  file?: string;
  /** Bytes the provider wrote for it. */
  written?: number;
  /** The driver's checksum of what was written (BackupDiskFile.checksum), checked again on restore. */
  checksum?: string;
}

export interface BackupRow {
  id: number;
  uuid: string;
  name: string;
  description: string | null;
  vm_id: number;
  offering_id: number;
  provider: string;
  external_id: string | null;
  type: BackupType;
  parent_id: number | null;
  status: BackupStatus;
  size: number;
  protected_size: number;
  volumes: string;
  interval_type: 'MANUAL' | IntervalType;
  host_id: number | null;
  job_uuid: string | null;
  /** The process (JobManager.owner) that runs its job; another's BackingUp row is an interrupted one. */
  owner: string | null;
  note: string | null;
  /** 1: a failed backup whose partial files are still to be discarded (the host was unreachable). */
  discard_pending: number;
  /**
   * A whole-VM restore whose renames began (migration 50): the provider's plan of them, so a
   * restore cut short during them is finished (BackupProvider.finishRestore); NULL otherwise.
   */
  restore_plan: string | null;
  account_id: number;
  domain_id: number;
  zone_id: number;
  created: string;
  removed: string | null;
}

/** A backup store on another machine over SSH (migration 32); `secret` is sealed. */
export interface BackupRepositoryRow {
  id: number;
  uuid: string;
  name: string;
  zone_id: number;
  provider: string;
  /** ssh://address:port */
  address: string;
  username: string;
  secret: string;
  trust_kind: 'ssh-host-key' | null;
  trust_fingerprint: string | null;
  created: string;
  removed: string | null;
}

export interface BackupScheduleRow {
  id: number;
  uuid: string;
  vm_id: number;
  interval_type: IntervalType;
  schedule: string;
  timezone: string;
  max_backups: number;
  quiesce_vm: number;
  scheduled_at: string;
  last_run: string | null;
  last_result: string | null;
  created: string;
}

export function backedUpVolumes(backup: Pick<BackupRow, 'volumes'>): BackedUpVolume[] {
  return JSON.parse(backup.volumes) as BackedUpVolume[];
}

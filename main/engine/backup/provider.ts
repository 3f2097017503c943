/**
 * The one interface every backup provider implements (R53, CloudStack's BackupProvider). A new
 * provider is one module under providers/ and one line in providers/index.ts; the framework
 * (framework.ts) owns the records, the checks and the jobs, a provider only does the work.
 */
import type { Engine } from '../engine.js';
import type { VmRow, VolumeRow } from '../vm/rows.js';
import type { OperationOptions } from '../../../drivers/types.js';
import type { BackedUpVolume, BackupOfferingRow, BackupRow, BackupType } from './rows.js';

/** An offering as the provider lists it (listBackupProviderOfferings). */
export interface ProviderOffering {
  externalId: string;
  name: string;
  description: string;
}

export interface BackupWork {
  engine: Engine;
  vm: VmRow;
  offering: BackupOfferingRow;
  /** The backup being written: its uuid names the provider's files. */
  backup: BackupRow;
  /** The VM's volumes now, root first. */
  volumes: VolumeRow[];
  /** The VM's newest complete backup, which an incremental may build on. */
  previous?: BackupRow;
  quiesce: boolean;
  options: OperationOptions;
}

/** What a provider reports once a backup is written and verified. */
export interface TakenBackup {
  externalId: string;
  type: BackupType;
  /** The backup this incremental builds on (BackupWork.previous). */
  parentId?: number;
  size: number;
  protectedSize: number;
  volumes: BackedUpVolume[];
  /** The host the backup ran on. */
  hostId?: number;
}

export interface RestoreWork {
  engine: Engine;
  vm: VmRow;
  /** The backup restored, and the chain it needs: the full first, this one last. */
  chain: BackupRow[];
  options: OperationOptions;
  /**
   * restoreVm calls it once every disk is written and before the first one replaces the VM's:
   * the framework records PLAN (the provider's own, finishRestore takes it back), so a restore cut
   * short during the replacing is finished, never left with some disks restored and some not.
   */
  beforeRenames?: (plan: string) => void;
  /**
   * restoreVolume calls it before it makes or writes anything on a host: the framework records
   * that HOSTID is to hold the new disk TARGET (and the copy written beside it), so a restore cut
   * short there (a host cut off, a Kiln killed) has them removed (discardVolumeRestore), at once or
   * when the host answers again.
   */
  beforeWrites?: (hostId: number, target: { name: string; pool?: string }) => void;
}

export interface BackupProvider {
  readonly name: string;
  readonly description: string;
  listOfferings(engine: Engine, zoneId: number): Promise<ProviderOffering[]>;
  assignVm(engine: Engine, vm: VmRow, offering: BackupOfferingRow): Promise<void>;
  removeVm(engine: Engine, vm: VmRow, offering: BackupOfferingRow): Promise<void>;
  takeBackup(work: BackupWork): Promise<TakenBackup>;
  /** Writes every backed-up volume of the chain's last backup back over the VM's volumes (the VM is stopped). */
  restoreVm(work: RestoreWork): Promise<void>;
  /**
   * Writes one backed-up volume into a new disk named DISKNAME; resolves to its size, whether a
   * file was written (the dummy writes none) and the host whose storage holds it. A failure
   * leaves no disk DISKNAME behind.
   */
  restoreVolume(work: RestoreWork, volume: BackedUpVolume, diskName: string): Promise<{ size: number; written: boolean; hostId?: number }>;
  /** Removes a backup's data; CHILD, when given, is the incremental that built on it and takes its data in first. */
  deleteBackup(engine: Engine, backup: BackupRow, child?: BackupRow): Promise<void>;
  /** Sizes as the provider has them now (metrics, reconcile); undefined where it keeps nothing to ask. */
  inspect?(engine: Engine, backup: BackupRow): Promise<{ present: boolean; size: number } | undefined>;
  /** Throws away what a backup interrupted by a restart wrote (never left looking complete). */
  discardInterrupted?(engine: Engine, backup: BackupRow): Promise<void>;
  /**
   * Throws away what a restore of VM from BACKUP, cut short (a restart, a failure, a lost host),
   * wrote aside: its disks stay as they were. Also for one whose renames began (BACKUP's
   * restore_plan) when the VM is expunged before they were finished, its disks then maybe gone.
   */
  discardRestore?(engine: Engine, backup: BackupRow, vm: VmRow): Promise<void>;
  /**
   * Removes what a restoreVolume cut short wrote on HOSTID (RestoreWork.beforeWrites): its writer
   * stopped, the copy beside TARGET and the new disk TARGET itself; one already gone counts as removed.
   */
  discardVolumeRestore?(engine: Engine, hostId: number, target: { name: string; pool?: string }): Promise<void>;
  /** Finishes a restore of VM cut short after RestoreWork.beforeRenames recorded PLAN: afterwards every disk is the restored one. */
  finishRestore?(engine: Engine, backup: BackupRow, vm: VmRow, plan: string): Promise<void>;
}

/**
 * R57: a VM with backups cannot add or remove volumes (a restore would bring back disks the VM no
 * longer has, or miss one it gained). Backups are built beside volumes (helper G, issue 12's
 * backup work); until that lands there is no `backups` table and the rule has nothing to count.
 *
 * vmBackupCount is the one place the volume commands ask. It reads a `backups` table with a
 * `vm_id` column when one exists (skipping rows with `removed` set and failed or removed ones by
 * `status`, when it has those columns); the backup work may replace its body with its own query,
 * keeping the name and signature.
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';

/** How many backups of VM VMID exist (0 while Kiln has no backups table). */
export function vmBackupCount(db: Db, vmId: number): number {
  const columns = (db.prepare(`SELECT name FROM pragma_table_info('backups')`).all() as { name: string }[]).map((c) => c.name);
  if (!columns.includes('vm_id')) return 0;
  // A backup that failed, or is being removed, cannot be restored: it does not hold the VM's disks back.
  const live = (columns.includes('removed') ? ' AND removed IS NULL' : '') + (columns.includes('status') ? ` AND status NOT IN ('Error','Failed','Removed','Expunged')` : '');
  return (db.prepare(`SELECT COUNT(*) AS n FROM backups WHERE vm_id=?${live}`).get(vmId) as { n: number }).n;
}

/** 431 naming PARAM when the VM has backups (R57). */
export function requireNoBackups(db: Db, vm: { id: number; display_name: string }, param: string): void {
  const why = backupRefusal(db, vm);
  if (why) throw ApiError.param(`${param}: ${why}`);
}

/** Why volumes cannot be added to or removed from the VM while it has backups (R57), or undefined. */
export function backupRefusal(db: Db, vm: { id: number; display_name: string }): string | undefined {
  const count = vmBackupCount(db, vm.id);
  return count > 0 ? `VM ${vm.display_name} has ${count} backup${count === 1 ? '' : 's'}; volumes cannot be added to or removed from a VM with backups, so delete them first` : undefined;
}

/**
 * Where a finished move put a VM's disks, and which of them it moved: the one rule for every path
 * that learns a move's outcome (stopped-move.ts recordMoved, after perform answered; moved-after-all.ts
 * followMovedVm, when the reconcile finds a move whose answer was lost completed after all).
 *
 * A disk the driver reports (MigrationResult.disks: a move to another endpoint gives it a new ref
 * and pool, xapi across pools) is recorded on the pool record of that name or ref in the cluster it
 * is in now: the cluster-wide record, else the destination host's own (a datastore only some hosts
 * mount). It moved when that record, or the pool it is reported on, is another than it was on; a
 * disk named in the move's volumePools moved too (the hypervisor did what Kiln asked). Kiln now
 * knows those disks by its own move, so an import's migrateallowed vouch no longer covers them
 * (import/adopted-moves.ts endVouch): a XenServer move across pools carries every disk to the
 * destination's default SR even when Kiln names none, and a disk that lands on a host's local SR
 * binds the VM to that host.
 */
import type { Engine } from '../engine.js';
import type { MigrationResult } from '../../../drivers/types.js';
import { endVouch } from '../import/adopted-moves.js';

type Reported = NonNullable<Exclude<MigrationResult, void>['disks']>;

interface Before {
  id: number;
  pool: string | null;
  pool_id: number | null;
  record_name: string | null;
  record_ref: string | null;
}

/**
 * Records DISKS (by DiskSpec.name = the volume's path) of VMID on the pools of CLUSTERID (HOSTID:
 * the destination host, whose own record is preferred over another host's), and ends the vouch for
 * the disks that moved: those whose pool changed and those VOLUMEPOOLS names. Synchronous (may run
 * inside a transaction).
 */
export function recordMovedDisks(engine: Engine, vmId: number, disks: Reported, clusterId: number | null, hostId: number | null, volumePools?: Record<string, string>): void {
  const db = engine.db;
  const before = db.prepare(
    `SELECT v.id, v.pool, v.pool_id, p.name AS record_name, p.ref AS record_ref FROM volumes v LEFT JOIN storage_pools p ON p.id=v.pool_id
     WHERE v.vm_id=? AND v.path=? AND v.removed IS NULL`,
  );
  const update = db.prepare(
    `UPDATE volumes SET ref=?, pool=?, pool_id=COALESCE((SELECT id FROM storage_pools WHERE cluster_id=? AND (ref=? OR name=?) AND removed IS NULL ORDER BY host_id IS NOT NULL, host_id IS NOT ?, id LIMIT 1), pool_id)
     WHERE id=?`,
  );
  const after = db.prepare('SELECT pool_id FROM volumes WHERE id=?').pluck();
  const byPath = db.prepare('SELECT id FROM volumes WHERE vm_id=? AND path=? AND removed IS NULL').pluck();
  const moved = new Set<number>();
  for (const disk of disks) {
    const was = before.get(vmId, disk.name) as Before | undefined;
    if (!was) continue;
    update.run(disk.ref, disk.pool, clusterId, disk.pool, disk.pool, hostId, was.id);
    const elsewhere = ![was.pool, was.record_name, was.record_ref].includes(disk.pool);
    if (elsewhere || after.get(was.id) !== was.pool_id) moved.add(was.id);
  }
  for (const path of Object.keys(volumePools ?? {})) {
    const id = byPath.get(vmId, path) as number | undefined;
    if (id !== undefined) moved.add(id);
  }
  endVouch(db, vmId, [...moved]);
}

/**
 * A VM's data disks outlive it, as CloudStack's: destroyVirtualMachine deletes only the data
 * volumes named in `volumeids`, and expunge detaches the others (they stay Ready, on the host that
 * holds them, to attach elsewhere or delete with deleteVolume). Two moves serve both commands:
 *
 * - takeOutOfDefinition: before a VM's definition goes, its kept disks leave it through the volume
 *   facet, so a hypervisor whose destroy deletes every disk the VM has (vSphere's Destroy_Task)
 *   leaves them, and one that deletes "all" of a definition's disks at expunge does too.
 * - detachKept: at expunge, their rows leave the VM (not Expunged with it).
 */
import type { Db } from '../db/database.js';
import type { HostSession } from '../../../drivers/types.js';
import { vmRef, type VmRow, type VolumeRow } from '../vm/rows.js';

/** The VM's Ready or Allocated data volumes that are not to be deleted with it. */
export function keptDataVolumes(db: Db, vmId: number, deleteIds: readonly number[] = []): VolumeRow[] {
  const rows = db.prepare(`SELECT * FROM volumes WHERE vm_id=? AND volume_type='DATADISK' AND removed IS NULL`).all(vmId) as VolumeRow[];
  return rows.filter((v) => !deleteIds.includes(v.id));
}

/** Takes the kept disks out of the VM's definition on SESSION (a stopped or destroyed VM: never live). */
export async function takeOutOfDefinition(session: HostSession, vm: VmRow, kept: readonly VolumeRow[]): Promise<void> {
  const facet = session.volumes;
  if (!facet) return;
  for (const v of kept) {
    if (v.state !== 'Ready' || !v.path) continue;
    await facet.detach(vmRef(vm), { name: v.path, ref: v.ref ?? undefined, sizeBytes: v.size, pool: v.pool ?? undefined }, { live: false }).catch((error: unknown) => {
      // A disk the definition no longer has is already where it should be.
      if ((error as { category?: string }).category !== 'not-found') throw error;
    });
  }
}

/** At expunge: the kept volumes leave the VM and stay on HOSTID's storage (the host that holds their disks). */
export function detachKept(db: Db, kept: readonly VolumeRow[], hostId: number | null): void {
  for (const v of kept) db.prepare('UPDATE volumes SET vm_id=NULL, device_id=0, attached=NULL, host_id=COALESCE(host_id, ?) WHERE id=?').run(v.state === 'Ready' ? hostId : null, v.id);
}

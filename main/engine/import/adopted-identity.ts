/**
 * Which instance on a host is a Kiln VM's own. A VM Kiln defined carries Kiln's uuid as its
 * hypervisor identity (KVM: the domain's UUID; vSphere: config.uuid; XenServer: the kiln_uuid mark
 * listInstances reports), so a namesake with another uuid is not Kiln's (another Kiln sharing the
 * host, or anyone's). A VM taken over by importUnmanagedInstance keeps the identity it had: the
 * domain's own UUID, vCenter's config.uuid, neither of them Kiln's. The import records it
 * (vm_details ADOPTED_UUID_DETAIL, hidden), and every path that removes what a VM left on a host
 * (host_cleanups, the HA pass, an expunge's stale definitions) recognises the adopted instance by
 * it, and only by it: a different instance that took the same name later is left alone.
 *
 * An import from before the record was kept has none: its leftovers are never taken for Kiln's
 * (the cleanup reports them instead), since nothing tells them from a namesake.
 */
import type { Db } from '../db/database.js';

/** vm_details (hidden): the hypervisor's own uuid of the instance the import adopted. */
export const ADOPTED_UUID_DETAIL = 'kiln.import.hypervisorUuid';

/** Records UUID (the adopted instance's own, as listInstances reports it) for VMID; nothing when the driver reported none. */
export function recordAdoptedUuid(db: Db, vmId: number, uuid: string | undefined): void {
  if (!uuid) return;
  db.prepare(`INSERT INTO vm_details (vm_id, name, value, display) VALUES (?, ?, ?, 0) ON CONFLICT(vm_id, name) DO UPDATE SET value=excluded.value`).run(vmId, ADOPTED_UUID_DETAIL, uuid);
}

/** The uuids under which VM's instance is Kiln's on its hypervisor: Kiln's own, and the one its import recorded. */
export function hypervisorUuids(db: Db, vm: { id: number; uuid: string }): string[] {
  const adopted = db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').pluck().get(vm.id, ADOPTED_UUID_DETAIL) as string | undefined;
  return adopted ? [vm.uuid, adopted] : [vm.uuid];
}

/**
 * True when INSTANCE (found on a host under VM's name or ref) is VM's own: its uuid is Kiln's or
 * the one the import adopted, and for an adopted VM its ref is the VM's too. An adopted VM's uuid
 * is not Kiln's to make unique: vCenter keeps a VM's BIOS uuid (config.uuid) when its files are
 * registered again, vcsim derives it from the name; where refs are not names (a vSphere moref, a
 * xapi OpaqueRef) a namesake never has the VM's. An instance whose driver reports no uuid is
 * taken as the VM's, as it always was (the name or ref is all there is to go by).
 */
export function isOwnInstance(db: Db, vm: { id: number; uuid: string; ref?: string | null; adopted?: number | null }, instance: { ref?: string; uuid?: string }): boolean {
  if (vm.adopted && vm.ref != null && instance.ref !== undefined && instance.ref !== vm.ref) return false;
  return sameUuid(db, vm, instance);
}

function sameUuid(db: Db, vm: { id: number; uuid: string }, instance: { uuid?: string }): boolean {
  if (instance.uuid === undefined) return true;
  const uuid = instance.uuid.toLowerCase();
  return hypervisorUuids(db, vm).some((u) => u.toLowerCase() === uuid);
}

/**
 * True when INSTANCE is known not to be VM's: it reports a uuid that is neither Kiln's nor the one
 * the import recorded. An adopted VM imported before the record was kept is never known either way
 * (its instance may carry any uuid), so nothing is decided against it here.
 */
export function isKnownStranger(db: Db, vm: { id: number; uuid: string; adopted?: number | null }, instance: { uuid?: string }): boolean {
  if (instance.uuid === undefined || sameUuid(db, vm, instance)) return false;
  return !(vm.adopted && hypervisorUuids(db, vm).length === 1);
}

/**
 * Records the uuid of the adopted VMs on HOSTID imported before the import recorded it, from
 * INSTANCES (the host's listing): while Kiln manages such a VM, the instance under its ref on its
 * host is the one it adopted. Without this its leftovers would never be recognised once it is
 * expunged while the host is cut off. Returns how many were recorded.
 */
export function backfillAdoptedUuids(db: Db, hostId: number, instances: readonly { ref: string; uuid?: string }[]): number {
  const missing = db
    .prepare(
      `SELECT v.id, COALESCE(v.ref, v.internal_name) AS ref FROM vm_instances v WHERE v.adopted=1 AND v.state IN ('Running','Stopped') AND v.removed IS NULL AND COALESCE(v.host_id, v.last_host_id)=?
         AND NOT EXISTS (SELECT 1 FROM vm_details d WHERE d.vm_id=v.id AND d.name=?)`,
    )
    .all(hostId, ADOPTED_UUID_DETAIL) as { id: number; ref: string }[];
  let recorded = 0;
  for (const vm of missing) {
    const uuid = instances.find((i) => i.ref === vm.ref)?.uuid;
    if (uuid === undefined) continue;
    recordAdoptedUuid(db, vm.id, uuid);
    recorded++;
  }
  return recorded;
}

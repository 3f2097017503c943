/**
 * Where an imported VM may go. A VM taken over by importUnmanagedInstance keeps the definition it
 * had on its hypervisor (vm_instances.adopted), and that definition lives on one host. It can
 * still go where any Kiln VM goes when its disks are reachable from the other hosts: when it was
 * imported with migrateallowed=true (the admin vouched for that), or when every disk is in a pool
 * its host reports as shared. A start on another host then first carries its stopped definition
 * there through the migration facet (live=false: KVM's migrate --offline --persistent
 * --undefinesource), and a live migration carries it anyway.
 *
 * Otherwise it starts and runs only on its own host, and a start or migration elsewhere is refused
 * up front with a 431 that says why, instead of a define that fails on the other host.
 *
 * The vouch covers the disks the admin imported, where they were, and no more. Once Kiln itself
 * moves one of them (the import's own move to tagged pools, migrateVolume, a migration with
 * volumes, a cross-cluster move, a move that failed part-way), Kiln wrote that disk's pool record
 * from its own move, and placement judges the disk by it (pool-choice.ts vmsStorageNeeds): a disk
 * now on a host's local pool binds the VM to that host. endVouch is that rule's one writer, called
 * by recordMoved (every move the hypervisor finished) and recordPartialMove (the disks a failed one
 * moved). A disk Kiln made later (an attached data disk, a restored root) was never covered. The
 * VM's definition may still go where its disks let it (adoptedPin: its disks are then either
 * vouched or on pools Kiln knows).
 */
import type { HostSession } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import { vmRef, type VmRow } from '../vm/rows.js';

/**
 * vm_details (hidden): the VM was imported with migrateallowed=true. Its value is the JSON list of
 * the volume ids the vouch still covers (the imported disks Kiln has not moved since), or 'true'
 * as an import before that list was kept wrote it: every volume of the VM not moved since.
 */
export const MIGRATE_ALLOWED_DETAIL = 'kiln.import.migrateAllowed';

/** The detail's value at import: the vouch covers VOLUMEIDS, the imported disks. */
export function vouchFor(volumeIds: readonly number[]): string {
  return JSON.stringify([...volumeIds]);
}

/** Whether the vouch VALUE (the detail's, or null: none) covers VOLUMEID. */
export function vouchCovers(value: string | null | undefined, volumeId: number): boolean {
  if (value === null || value === undefined) return false;
  if (value === 'true') return true;
  try {
    const ids: unknown = JSON.parse(value);
    return Array.isArray(ids) && ids.includes(volumeId);
  } catch {
    return false;
  }
}

/**
 * Kiln moved VOLUMEIDS of VMID to pools it recorded: the migrateallowed vouch no longer covers
 * them (see the header). A VM without the vouch, or volumes it does not cover, change nothing.
 */
export function endVouch(db: Db, vmId: number, volumeIds: readonly number[]): void {
  if (volumeIds.length === 0) return;
  const value = db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').pluck().get(vmId, MIGRATE_ALLOWED_DETAIL) as string | undefined;
  if (value === undefined) return;
  const covered = value === 'true' ? (db.prepare('SELECT id FROM volumes WHERE vm_id=? AND removed IS NULL ORDER BY id').pluck().all(vmId) as number[]) : (JSON.parse(value) as number[]);
  const left = covered.filter((id) => !volumeIds.includes(id));
  if (left.length === covered.length && value !== 'true') return;
  db.prepare('UPDATE vm_details SET value=? WHERE vm_id=? AND name=?').run(vouchFor(left), vmId, MIGRATE_ALLOWED_DETAIL);
}

export interface AdoptedPin {
  hostId: number;
  hostName: string;
  reason: string;
}

/** Why the imported VM cannot leave its host, or undefined when it can (or is no imported VM). */
export async function adoptedPin(engine: Engine, vm: VmRow): Promise<AdoptedPin | undefined> {
  if (vm.adopted !== 1) return undefined;
  const hostId = vm.host_id ?? vm.last_host_id;
  if (hostId === null) return undefined;
  const db = engine.db;
  // Vouched: each disk is either one the admin vouched for or one Kiln moved (placement judges it by its pool record).
  if (db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').pluck().get(vm.id, MIGRATE_ALLOWED_DETAIL) !== undefined) return undefined;
  const hostName = (db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(hostId) as string | undefined) ?? `#${hostId}`;
  const volumes = db.prepare('SELECT path, pool FROM volumes WHERE vm_id=? AND removed IS NULL ORDER BY device_id').all(vm.id) as { path: string | null; pool: string | null }[];
  let shared = new Set<string>();
  try {
    const inventory = await (await engine.hosts.session(hostId)).inventory();
    shared = new Set(inventory.storagePools.filter((p) => p.shared).flatMap((p) => [p.name, ...(p.ref ? [p.ref] : [])]));
  } catch {
    // A host that cannot say has shown no shared storage.
  }
  const local = volumes.filter((v) => v.pool === null || !shared.has(v.pool));
  if (local.length === 0) return undefined;
  const which = local.length === volumes.length ? 'its disks are' : `its disk${local.length === 1 ? '' : 's'} ${local.map((v) => v.path).join(', ')} ${local.length === 1 ? 'is' : 'are'}`;
  return {
    hostId,
    hostName,
    reason: `VM ${vm.display_name} was imported with its own definition on host ${hostName} and ${which} on storage that host does not report as shared, so it starts and runs only on host ${hostName}; import it with migrateallowed=true when its disks are reachable from the other hosts`,
  };
}

/** A start of PIN's VM elsewhere than its host (hostid), refused. */
export function refuseElsewhere(pin: AdoptedPin, param: string): never {
  throw ApiError.param(`${param}: ${pin.reason}`);
}

/**
 * Before an imported VM starts on TARGET: its stopped definition moves there from the host that
 * holds it (nothing to do when it is there already, or the VM is no imported one).
 */
export async function carryDefinition(engine: Engine, vm: VmRow, target: HostSession, targetHostId: number, jobUuid?: string): Promise<void> {
  if (vm.adopted !== 1 || vm.last_host_id === null || vm.last_host_id === targetHostId) return;
  if ((await target.powerState(vmRef(vm))) !== 'Missing') return;
  const source = await engine.hosts.session(vm.last_host_id);
  if (!source.migration || !target.migration) throw ApiError.param(`VM ${vm.display_name}: its hypervisor cannot move the definition it was imported with to another host`);
  const request = { vm: vmRef(vm), spec: engine.vms.spec(vm), live: false };
  await source.migration.perform(request, await target.migration.prepare(request), engine.vms.taskOptions(jobUuid));
}

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
 */
import type { HostSession } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import { vmRef, type VmRow } from '../vm/rows.js';

/** vm_details (hidden): the VM was imported with migrateallowed=true. */
export const MIGRATE_ALLOWED_DETAIL = 'kiln.import.migrateAllowed';

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
  if (db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').pluck().get(vm.id, MIGRATE_ALLOWED_DETAIL) === 'true') return undefined;
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

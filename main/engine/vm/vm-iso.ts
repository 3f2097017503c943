/**
 * A VM's CD-ROM (attachIso / detachIso). vm_instances.iso_id is the ISO in the drive: the one a VM
 * was deployed from until it is detached, or one attached later. A running VM gets the change on
 * its host at once (the image is copied into the host's storage first, as for a deploy); a stopped
 * one only in Kiln's record, which the next start defines (R9). The record changes only after the
 * host did, so a refusal leaves the VM as it was.
 */
import type { Engine } from '../engine.js';
import type { Caller } from '../registry/types.js';
import { ApiError } from '../registry/errors.js';
import { byUuid } from '../lookup.js';
import { canAccessAccount } from './access.js';
import { requireImageReady } from '../images/readiness.js';
import { stageImages } from '../images/staging.js';
import { vmRef, type TemplateRow, type VmRow } from './rows.js';

/**
 * Whether VM was deployed from an ISO (R6): it has no template. Not whether an ISO is in its drive
 * now: a VM installed from an ISO keeps being one after the ISO is detached (restore takes an ISO).
 */
export function madeFromIso(vm: Pick<VmRow, 'template_id'>): boolean {
  return vm.template_id === null;
}

/** The states in which the drive can change: CloudStack's (Running or Stopped). */
export const ISO_STATES = ['Running', 'Stopped'];

function requireIsoState(vm: VmRow, param: string): void {
  if (!ISO_STATES.includes(vm.state)) throw ApiError.param(`${param}: VM ${vm.display_name} is ${vm.state}; an ISO can be attached or detached while it is Running or Stopped`);
}

/** The ISO named by PARAM, checked as a user of VM may put it in its drive (every refusal a 431 naming PARAM). */
export function isoForVm(engine: Engine, caller: Caller, vm: VmRow, uuid: string, param: string): TemplateRow {
  const iso = byUuid<TemplateRow>(engine.db, 'template', uuid, param);
  if (!iso.is_iso) throw ApiError.param(`${param}: ${iso.name} is a template, not an ISO`);
  if (!iso.is_public) {
    if (!canAccessAccount(engine.db, caller, iso.account_id)) throw ApiError.param(`${param}: ISO ${iso.name} is not available to account ${caller.accountName}`);
    if (iso.account_id !== vm.account_id) throw ApiError.param(`${param}: ISO ${iso.name} belongs to another account than VM ${vm.display_name}`);
  }
  if (iso.zone_id !== null && iso.zone_id !== vm.zone_id) throw ApiError.param(`${param}: ISO ${iso.name} is not in the zone of VM ${vm.display_name}`);
  requireImageReady(iso, param);
  return iso;
}

/** The name of the ISO in VM's drive, for messages. */
function isoInDrive(engine: Engine, vm: VmRow): string {
  return (engine.db.prepare('SELECT name FROM templates WHERE id=?').pluck().get(vm.iso_id) as string | undefined) ?? '';
}

/** What attachIso checks before it queues its job and again when it runs: the state, and an empty drive. */
export function checkAttach(engine: Engine, vm: VmRow): void {
  requireIsoState(vm, 'virtualmachineid');
  if (vm.iso_id !== null) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} already has ISO ${isoInDrive(engine, vm)} attached; detach it first`);
}

/** What detachIso checks before it queues its job and again when it runs. */
export function checkDetach(vm: VmRow): void {
  requireIsoState(vm, 'virtualmachineid');
  if (vm.iso_id === null) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has no ISO attached`);
}

export async function attachIso(engine: Engine, caller: Caller, vm: VmRow, iso: TemplateRow, jobUuid: string): Promise<VmRow> {
  // Queued behind the VM's other jobs: check again against the VM as it is now.
  const current = engine.vms.get(vm.id);
  checkAttach(engine, current);
  if (current.state === 'Running' && current.host_id !== null) {
    const session = await engine.hosts.session(current.host_id);
    await stageImages(engine, session, { template_id: null, iso_id: iso.id });
    await session.attachIso(vmRef(current), iso.image_path!);
  }
  engine.db.prepare('UPDATE vm_instances SET iso_id=? WHERE id=?').run(iso.id, vm.id);
  engine.events.record({ type: 'VM.ISO.ATTACH', description: `ISO ${iso.name} attached to VM ${vm.display_name}`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
  return engine.vms.get(vm.id);
}

export async function detachIso(engine: Engine, caller: Caller, vm: VmRow, jobUuid: string): Promise<VmRow> {
  const current = engine.vms.get(vm.id);
  checkDetach(current);
  if (current.state === 'Running' && current.host_id !== null) {
    const session = await engine.hosts.session(current.host_id);
    await session.detachIso(vmRef(current));
  }
  const name = isoInDrive(engine, current);
  engine.db.prepare('UPDATE vm_instances SET iso_id=NULL WHERE id=?').run(vm.id);
  engine.events.record({ type: 'VM.ISO.DETACH', description: `ISO ${name} detached from VM ${vm.display_name}`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
  return engine.vms.get(vm.id);
}

/**
 * Changing a VM after deploy: edit (R12), details (R30), offering change (R15), live scaling
 * (R16–R18), restore (R29) and live migration between hosts, which scaling also uses (R17).
 */
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import { vmRef, type OfferingRow, type TemplateRow, type VmRow } from './rows.js';
import { validHostname } from './vm-service.js';
import { HOSTNAME_RULE, ruleMessage } from '../registry/param-rules.js';
import { recreateRootDisk } from './root-disk.js';
import type { PlacementHost } from '../placement/types.js';
import { offeringTags, requestForVm } from '../placement/request.js';
import { removeSnapshotsOf, snapshotsOf } from './vm-snapshots.js';
import { recordMoved } from './stopped-move.js';
import { stageImages } from '../images/staging.js';
import { onPrivateVlan, publishPrivateVlanPeers } from './private-vlan-peers.js';
import { madeFromIso } from './vm-iso.js';

/** States in which guest-visible settings may change (updateVirtualMachine declares them per parameter). */
export const STOPPED_STATES = ['Stopped', 'Created'];
/** R18: these guests cannot be hot-scaled from below 3 GB to above it. */
const THREE_GB = 3072;
export const KNOWN_DETAILS: Record<string, string[]> = {
  rootdisksize: [],
  cpuOvercommitRatio: [],
  memoryOvercommitRatio: [],
  'Message.ReservedCapacityFreed.Flag': ['true', 'false'],
};
/** Details Kiln keeps for itself; never shown, never editable. */
const INTERNAL_PREFIX = 'kiln.';

export interface VmUpdate {
  displayName?: string;
  name?: string;
  group?: string;
  haEnabled?: boolean;
  osTypeId?: number;
  dynamicallyScalable?: boolean;
  details?: Record<string, string>;
  cleanupDetails?: boolean;
  userData?: string;
}

function requireStopped(vm: VmRow, what: string): void {
  if (!STOPPED_STATES.includes(vm.state)) throw ApiError.param(`${what}: VM ${vm.display_name} is ${vm.state}; stop it first`);
}

/** R12 and R30. Fields the guest or hypervisor sees need a stopped VM; labels do not. */
export function updateVm(engine: Engine, caller: Caller, vm: VmRow, change: VmUpdate): VmRow {
  const db = engine.db;
  const isAdmin = caller.role !== 'User';
  if (change.name !== undefined) {
    requireStopped(vm, 'name');
    if (!validHostname(change.name)) throw ApiError.param(ruleMessage('name', change.name, HOSTNAME_RULE));
  }
  if (change.osTypeId !== undefined) requireStopped(vm, 'ostypeid');
  if (change.dynamicallyScalable !== undefined) requireStopped(vm, 'isdynamicallyscalable');
  if (change.details !== undefined || change.cleanupDetails) requireStopped(vm, change.details !== undefined ? 'details' : 'cleanupdetails');
  const offering = db.prepare('SELECT * FROM service_offerings WHERE id=?').get(vm.service_offering_id) as OfferingRow;
  if (change.haEnabled && offering.offer_ha !== 1) throw ApiError.param(`haenable: offering ${offering.name} does not offer HA; change the offering first`);
  const hidden = new Set(isAdmin ? [] : engine.settings.list('user.vm.blacklisted.details'));
  const readOnly = new Set(isAdmin ? [] : engine.settings.list('user.vm.readonly.details'));
  for (const key of Object.keys(change.details ?? {})) {
    if (key.startsWith(INTERNAL_PREFIX)) throw ApiError.param(`details: ${key} is reserved by Kiln`);
    if (hidden.has(key) || readOnly.has(key)) throw ApiError.param(`details: ${key} is read-only for this account`);
  }
  db.transaction(() => {
    const set = (column: string, value: unknown) => db.prepare(`UPDATE vm_instances SET ${column}=? WHERE id=?`).run(value, vm.id);
    if (change.displayName !== undefined) set('display_name', change.displayName);
    if (change.name !== undefined) {
      const clash = db.prepare(`SELECT 1 FROM vm_instances WHERE hostname=? AND account_id=? AND zone_id=? AND id<>? AND state NOT IN ('Destroyed','Expunged')`).get(change.name, vm.account_id, vm.zone_id, vm.id);
      if (clash) throw ApiError.param(`name: a VM named ${change.name} already exists in this account and zone`);
      set('hostname', change.name);
    }
    if (change.group !== undefined) set('vm_group', change.group === '' ? null : change.group);
    if (change.haEnabled !== undefined) set('ha_enabled', change.haEnabled ? 1 : 0);
    if (change.osTypeId !== undefined) set('os_type_id', change.osTypeId);
    if (change.dynamicallyScalable !== undefined) set('is_dynamically_scalable', change.dynamicallyScalable ? 1 : 0);
    if (change.userData !== undefined) set('user_data', change.userData);
    // Details: the caller's visible, writable keys are replaced by what it sent (the UI sends the whole set).
    if (change.cleanupDetails || change.details !== undefined) {
      const existing = db.prepare('SELECT name FROM vm_details WHERE vm_id=?').all(vm.id) as { name: string }[];
      for (const { name } of existing) {
        if (name.startsWith(INTERNAL_PREFIX) || hidden.has(name) || readOnly.has(name)) continue;
        db.prepare('DELETE FROM vm_details WHERE vm_id=? AND name=?').run(vm.id, name);
      }
      for (const [name, value] of Object.entries(change.details ?? {})) {
        db.prepare('INSERT INTO vm_details (vm_id, name, value) VALUES (?,?,?) ON CONFLICT(vm_id, name) DO UPDATE SET value=excluded.value').run(vm.id, name, value);
      }
    }
    engine.events.record({ type: 'VM.UPDATE', description: `VM ${vm.display_name} (${vm.uuid}) updated: ${Object.keys(change).filter((k) => change[k as keyof VmUpdate] !== undefined).join(', ')}`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
  })();
  return engine.vms.get(vm.id);
}

/**
 * R15: a stopped VM takes the new offering's CPU and memory at its next start. Its memory
 * snapshots cannot be kept across the change (R35), so they are deleted first.
 */
export async function changeOffering(engine: Engine, caller: Caller, vm: VmRow, offering: OfferingRow, resources: { cpuNumber: number; cpuSpeed: number; memory: number }): Promise<VmRow> {
  requireStopped(vm, 'changeServiceForVirtualMachine');
  await removeSnapshotsOf(engine, vm, { caller, note: `the offering changed to ${offering.name}` }, 'DiskAndMemory');
  engine.db.transaction(() => {
    engine.db.prepare('UPDATE vm_instances SET service_offering_id=?, cpu_number=?, cpu_speed=?, memory=? WHERE id=?').run(offering.id, resources.cpuNumber, resources.cpuSpeed, resources.memory, vm.id);
    engine.events.record({ type: 'VM.UPGRADE', description: `VM ${vm.display_name} (${vm.uuid}) offering changed to ${offering.name} (${resources.cpuNumber} vCPU, ${resources.memory} MB)`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
    engine.events.usage({ type: 'VM.UPGRADE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: vm.id, resourceName: vm.instance_name, offeringId: offering.id });
  })();
  return engine.vms.get(vm.id);
}

/** Checks that a running VM may be scaled to these resources at all (R16, R18); throws 431 if not. */
export function checkScalable(engine: Engine, vm: VmRow, target: { cpuNumber: number; memory: number }): void {
  if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; scaleVirtualMachine needs a Running VM (use changeServiceForVirtualMachine on a stopped one)`);
  if (!engine.settings.bool('enable.dynamic.scale.vm', vm.zone_id)) throw ApiError.param('enable.dynamic.scale.vm is false in this zone; stop the VM and change its offering instead');
  if (vm.is_dynamically_scalable !== 1) throw ApiError.param(`VM ${vm.display_name} is not dynamically scalable (its template needs the tools and isdynamicallyscalable=true)`);
  if (target.cpuNumber < vm.cpu_number || target.memory < vm.memory) throw ApiError.param('serviceofferingid: a running VM can only be scaled up; stop it to scale down');
  if (target.cpuNumber === vm.cpu_number && target.memory === vm.memory) throw ApiError.param('serviceofferingid: the VM already has this CPU and memory');
  const os = engine.db.prepare('SELECT g.display_name, g.is_64bit, c.name AS category FROM guest_os g JOIN guest_os_categories c ON c.id=g.category_id WHERE g.id=?').get(vm.os_type_id) as { display_name: string; is_64bit: number; category: string };
  const linux64 = os.is_64bit === 1 && os.category !== 'Windows';
  const win7x32 = /^Windows 7/.test(os.display_name) && os.is_64bit === 0;
  const startMemory = Number((engine.db.prepare(`SELECT value FROM vm_details WHERE vm_id=? AND name='kiln.startMemory'`).get(vm.id) as { value: string } | undefined)?.value ?? vm.memory);
  if ((linux64 || win7x32) && startMemory < THREE_GB && target.memory > THREE_GB) {
    throw ApiError.param(`serviceofferingid: ${os.display_name} started with ${startMemory} MB cannot be scaled past 3 GB while running (R18); stop it and change the offering`);
  }
}

/**
 * R16/R17: scale on the current host when it has room, else live-migrate within the cluster to
 * one that does, then scale. Retries scale.retry times; when nothing fits the VM keeps running
 * unchanged and the job fails with 533.
 */
export async function scaleVm(engine: Engine, caller: Caller, vmId: number, offering: OfferingRow, target: { cpuNumber: number; cpuSpeed: number; memory: number }, jobUuid?: string): Promise<VmRow> {
  const retries = Math.max(0, engine.settings.int('scale.retry'));
  checkScalable(engine, engine.vms.get(vmId), target);
  await removeSnapshotsOf(engine, engine.vms.get(vmId), { caller, jobUuid, note: `the offering changed to ${offering.name}` }, 'DiskAndMemory');
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    let vm = engine.vms.get(vmId);
    checkScalable(engine, vm, target);
    const request = requestForVm(engine.db, vm, { cpuNumber: target.cpuNumber, cpuSpeed: target.cpuSpeed, memory: target.memory, hostTags: offeringTags(offering) });
    const here = engine.planner.plan({ ...request, hostId: vm.host_id ?? undefined });
    engine.vms.lastPlacement.set(vm.id, here);
    if (!here.host) {
      const elsewhere = engine.planner.plan({ ...request, clusterId: vm.cluster_id ?? undefined, excludeHostIds: vm.host_id !== null ? [vm.host_id] : [] });
      // The explanation covers both questions: why not here, and why that host. The current host is
      // judged once (the second plan only lists it as excluded).
      const considered = [...here.considered, ...elsewhere.considered.filter((v) => !here.considered.some((h) => h.hostId === v.hostId))];
      engine.vms.lastPlacement.set(vm.id, { ...elsewhere, considered });
      if (!elsewhere.host) {
        throw ApiError.capacity(`no host in the cluster can hold VM ${vm.display_name} at ${target.cpuNumber} vCPU / ${target.memory} MB; it keeps running as before (${considered.map((v) => `${v.hostName}: ${v.reason}`).join('; ')})`, { placement: considered });
      }
      vm = await migrateVm(engine, caller, vm, elsewhere.host, jobUuid);
    }
    try {
      const session = await engine.hosts.session(vm.host_id!);
      await session.scale(vmRef(vm), { cpuNumber: target.cpuNumber, memoryMiB: target.memory }, true, engine.vms.taskOptions(jobUuid));
      engine.db.prepare('UPDATE vm_instances SET service_offering_id=?, cpu_number=?, cpu_speed=?, memory=? WHERE id=?').run(offering.id, target.cpuNumber, target.cpuSpeed, target.memory, vm.id);
      engine.events.record({ type: 'VM.DYNAMIC.SCALE', description: `VM ${vm.display_name} (${vm.uuid}) scaled live to ${offering.name} (${target.cpuNumber} vCPU, ${target.memory} MB)`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
      engine.events.usage({ type: 'VM.DYNAMIC.SCALE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: vm.id, resourceName: vm.instance_name, offeringId: offering.id });
      return engine.vms.get(vm.id);
    } catch (error) {
      lastError = error;
      engine.log.warn(`scale ${vm.uuid} attempt ${attempt + 1} of ${retries + 1} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw lastError;
}

/** Live migration of a running VM to another host (R17, R20); the VM is Migrating meanwhile. */
export async function migrateVm(engine: Engine, caller: Caller, vm: VmRow, target: PlacementHost, jobUuid?: string, volumePools?: Record<string, string>): Promise<VmRow> {
  if (vm.state !== 'Running' || vm.host_id === null) throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; only a Running VM can be migrated live`);
  const source = await engine.hosts.session(vm.host_id);
  const destination = await engine.hosts.session(target.id);
  if (!source.capabilities.liveMigration || !source.migration || !destination.migration) throw ApiError.param('this hypervisor cannot migrate live');
  const migration = source.migration;
  const snapshots = snapshotsOf(engine, vm.id).length;
  if (snapshots > 0 && !source.capabilities.migrateWithSnapshots) {
    throw ApiError.param(`VM ${vm.display_name} has ${snapshots} VM snapshot${snapshots === 1 ? '' : 's'}; ${vm.hypervisor} cannot migrate a VM with snapshots (their metadata stays on the host), so delete them first`);
  }
  // The destination needs the template's image under the VM's disks (a first VM there).
  await stageImages(engine, destination, vm);
  // ... and the zone's private-VLAN ports, before the VM's own arrive there (private-vlan-peers.ts).
  if (onPrivateVlan(engine, vm.id)) await publishPrivateVlanPeers(engine, vm.zone_id, { required: target.id });
  engine.vms.transition(vm, 'Migrating', { caller, jobUuid, note: `to host ${target.name}` });
  try {
    // Two phases: the destination prepares (and says how to reach it), the source moves the VM.
    const request = { vm: vmRef(vm), spec: engine.vms.spec(vm), live: true, volumePools };
    // A move to another endpoint's pool makes new objects there (xapi across pools): record their refs.
    recordMoved(engine, vm, await migration.perform(request, await destination.migration.prepare(request), engine.vms.taskOptions(jobUuid)), target, volumePools);
  } catch (error) {
    // Settle on where the hosts say the guest runs: a migration can fail after the guest moved
    // (its answer lost), or take the guest down with it.
    const text = error instanceof Error ? error.message : String(error);
    const onSource = await source.powerState(vmRef(vm)).catch(() => undefined);
    const onTarget = onSource === 'Running' ? undefined : await destination.powerState(vmRef(vm)).catch(() => undefined);
    if (onTarget === 'Running') {
      engine.vms.transition(engine.vms.get(vm.id), 'Running', { caller, jobUuid, hostId: target.id, note: `migration reported a failure, but the guest runs on host ${target.name}: ${text}` });
      engine.db.prepare('UPDATE vm_instances SET last_host_id=?, pod_id=?, cluster_id=? WHERE id=?').run(target.id, target.pod_id, target.cluster_id, vm.id);
    } else if (onSource === 'Running' || onSource === undefined) {
      engine.vms.transition(engine.vms.get(vm.id), 'Running', { caller, jobUuid, note: `migration failed: ${text}` });
    } else {
      engine.vms.transition(engine.vms.get(vm.id), 'Stopped', { caller, jobUuid, hostId: null, note: `migration failed and the guest runs on neither host: ${text}` });
      engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(vm.host_id, vm.id);
    }
    throw error;
  }
  const current = engine.vms.transition(engine.vms.get(vm.id), 'Running', { caller, jobUuid, hostId: target.id, note: `migrated to host ${target.name}` });
  engine.db.prepare('UPDATE vm_instances SET last_host_id=?, pod_id=?, cluster_id=? WHERE id=?').run(target.id, target.pod_id, target.cluster_id, vm.id);
  return current;
}

/**
 * R70: a VM holding a GPU moves cold, as CloudStack moves it (it refuses live migration of GPU
 * VMs; xapi's VM_HAS_VGPU): stopped on its host, then started on TARGET, which placement judged
 * with the offering's GPU (a free slot of the type in its group). Stop and start each read their
 * host's GPU capacity again and record their events; a start that fails leaves the VM Stopped.
 */
export async function coldMigrateVm(engine: Engine, caller: Caller, vm: VmRow, target: PlacementHost, jobUuid?: string): Promise<VmRow> {
  const stopped = await engine.vms.stop(caller, vm, false, jobUuid);
  return engine.vms.start(caller, stopped, { hostId: target.id }, jobUuid);
}

/** Whether a VM's offering gives it a GPU (pciDevice/vgpuType): such a VM migrates cold (R70). */
export function holdsGpu(engine: Engine, vm: VmRow): boolean {
  return requestForVm(engine.db, vm, {}).gpu !== undefined;
}

/** R29: a fresh root disk from a new template (template→template, ISO→ISO) or from the current one. */
export async function restoreVm(engine: Engine, caller: Caller, vm: VmRow, template: TemplateRow | undefined, jobUuid?: string): Promise<VmRow> {
  const currentImageId = vm.template_id ?? vm.iso_id;
  const image = template ?? (currentImageId !== null ? (engine.db.prepare('SELECT * FROM templates WHERE id=?').get(currentImageId) as TemplateRow) : undefined);
  if (!image) throw ApiError.param('templateid: the VM has no image to restore from; give templateid');
  const wasIso = madeFromIso(vm);
  if (template && template.is_iso === 1 && !wasIso) throw ApiError.param('templateid: the VM was created from a template; it can be restored from a template, not an ISO');
  if (template && template.is_iso === 0 && wasIso) throw ApiError.param('templateid: the VM was created from an ISO; it can be restored from an ISO, not a template');
  const wasRunning = vm.state === 'Running';
  const hostId = vm.host_id;
  let current = wasRunning ? await engine.vms.stop(caller, vm, true, jobUuid) : vm;
  if (!STOPPED_STATES.includes(current.state)) throw ApiError.param(`VM ${vm.display_name} is ${current.state}; it can be restored when Running or Stopped`);
  await recreateRootDisk(engine, current, image.is_iso ? undefined : image);
  engine.db.prepare(image.is_iso ? 'UPDATE vm_instances SET iso_id=? WHERE id=?' : 'UPDATE vm_instances SET template_id=? WHERE id=?').run(image.id, vm.id);
  engine.events.record({ type: 'VM.RESTORE', description: `VM ${vm.display_name} (${vm.uuid}) restored from ${image.name}`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
  current = engine.vms.get(vm.id);
  if (wasRunning) current = await engine.vms.start(caller, current, { hostId: hostId ?? undefined }, jobUuid);
  return current;
}


/**
 * VM snapshots (R32–R36): the disks, and for a running VM optionally its memory, taken with the
 * hypervisor's own snapshots. Kiln's rows mirror the hypervisor's tree (parent, current) so the
 * list answers without asking the host, and every change to the tree goes through here so the
 * two never disagree: create, revert, delete, the oldest removed beyond `vmsnapshot.max`,
 * memory snapshots dropped when the offering changes, and all of them on destroy.
 */
import { randomUUID } from 'node:crypto';
import { tagsForPage } from '../tags/tag-query.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { ApiObject, Caller } from '../registry/types.js';
import { requireFacet, type HostSession, type SnapshotFacet } from '../../../drivers/types.js';
import { csDate } from '../format.js';
import { byUuid } from '../lookup.js';
import { requireAccountAccess } from './access.js';
import { requestForVm } from '../placement/request.js';
import { vmRef, type VmRow } from './rows.js';
import { resetsOnReboot } from './root-disk.js';
import { stageImages } from '../images/staging.js';

export type VmSnapshotType = 'Disk' | 'DiskAndMemory';

export interface VmSnapshotRow {
  id: number;
  uuid: string;
  vm_id: number;
  name: string;
  display_name: string;
  description: string | null;
  type: VmSnapshotType;
  state: 'Allocated' | 'Creating' | 'Ready' | 'Reverting' | 'Expunging' | 'Error' | 'Removed';
  parent_id: number | null;
  is_current: number;
  service_offering_id: number;
  cpu_number: number;
  cpu_speed: number;
  memory: number;
  account_id: number;
  domain_id: number;
  zone_id: number;
  created: string;
  removed: string | null;
  metadata: string | null;
  /** The driver's ref of the snapshot (migration 13); NULL on rows from before. */
  ref: string | null;
}

const BUSY = ['Allocated', 'Creating', 'Reverting', 'Expunging'];
/** VM states in which its snapshots may be taken, reverted to or deleted. */
export const SNAPSHOT_VM_STATES = ['Running', 'Stopped'];
/** VM states in which a snapshot may save memory (there is none to save otherwise). */
export const MEMORY_SNAPSHOT_VM_STATES = ['Running'];
const NAME_MAX = 255;

/** The VM's snapshots that still exist, oldest first. */
export function snapshotsOf(engine: Engine, vmId: number): VmSnapshotRow[] {
  return engine.db.prepare('SELECT * FROM vm_snapshots WHERE vm_id=? AND removed IS NULL ORDER BY id').all(vmId) as VmSnapshotRow[];
}

/** The snapshot a caller names, with its VM, checked for access. */
export function snapshotForCaller(engine: Engine, caller: Caller, uuid: string, param = 'vmsnapshotid'): { snapshot: VmSnapshotRow; vm: VmRow } {
  const snapshot = byUuid<VmSnapshotRow>(engine.db, 'vmSnapshot', uuid, param);
  requireAccountAccess(engine.db, caller, snapshot.account_id, `VM snapshot ${snapshot.uuid}`);
  return { snapshot, vm: engine.vms.get(snapshot.vm_id) };
}

/** One snapshot task per VM at a time: the seed's "clicking again while one runs has no effect". */
function requireIdle(engine: Engine, vm: VmRow): void {
  const busy = snapshotsOf(engine, vm.id).find((s) => BUSY.includes(s.state));
  if (busy) throw ApiError.param(`VM ${vm.display_name} has a VM snapshot task in progress (${busy.display_name} is ${busy.state}); try again when it ends`);
}

function requireVmState(vm: VmRow, what: string): void {
  if (!SNAPSHOT_VM_STATES.includes(vm.state)) throw ApiError.param(`${what}: VM ${vm.display_name} is ${vm.state}; it must be Running or Stopped`);
}

/** The host that holds the VM's disks and snapshot metadata: where it runs, or last ran. */
function snapshotHost(vm: VmRow): number {
  const hostId = vm.host_id ?? vm.last_host_id;
  if (hostId === null) throw ApiError.param(`VM ${vm.display_name} has never run on a host, so it has no disks to snapshot yet; start it once first`);
  return hostId;
}

export interface SnapshotRequest {
  displayName?: string;
  description?: string;
  withMemory: boolean;
  quiesce: boolean;
}

/**
 * Checks everything that can be checked before any work (R32, R35) and writes the row as
 * Allocated; the job then takes it. Nothing is written when a check fails.
 */
export async function allocateSnapshot(engine: Engine, vm: VmRow, request: SnapshotRequest): Promise<VmSnapshotRow> {
  requireVmState(vm, 'virtualmachineid');
  if (request.withMemory && !MEMORY_SNAPSHOT_VM_STATES.includes(vm.state)) throw ApiError.param(`snapshotmemory: VM ${vm.display_name} is ${vm.state}; memory can be saved only from a Running VM`);
  if (request.displayName !== undefined && (request.displayName.trim() === '' || request.displayName.length > NAME_MAX)) throw ApiError.param(`name: give 1 to ${NAME_MAX} characters`);
  if (request.description !== undefined && request.description.length > NAME_MAX) throw ApiError.param(`description: at most ${NAME_MAX} characters`);
  if (resetsOnReboot(engine, vm)) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} gets a fresh root disk on every reboot (reset on reboot), so a snapshot of it would not survive the next reboot`);
  requireIdle(engine, vm);
  engine.vms.assertHostReachable(vm);
  const hostId = snapshotHost(vm);
  const session = await engine.hosts.session(hostId);
  if (!session.snapshots) throw ApiError.param(`virtualmachineid: ${vm.hypervisor} hosts take no VM snapshots`);
  if (vm.state === 'Running' && !request.withMemory && !session.capabilities.diskSnapshotsWhileRunning) {
    throw ApiError.param(`snapshotmemory: ${vm.hypervisor} takes a disk-only snapshot only of a stopped VM; set snapshotmemory=true or stop VM ${vm.display_name} first`);
  }
  if (request.withMemory && !session.capabilities.memorySnapshots) throw ApiError.param(`snapshotmemory: ${vm.hypervisor} cannot save a VM's memory in a snapshot`);
  if (request.quiesce && !session.capabilities.quiesceSnapshots) throw ApiError.param(`quiescevm: ${vm.hypervisor} cannot quiesce the guest (no guest agent); leave quiescevm unset`);
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return engine.db.transaction(() => {
    // The VM snapshot may have been taken by another request between the checks and here.
    requireIdle(engine, vm);
    let name = `${vm.instance_name}_VS_${stamp}`;
    for (let n = 2; engine.db.prepare('SELECT 1 FROM vm_snapshots WHERE name=?').get(name); n++) name = `${vm.instance_name}_VS_${stamp}_${n}`;
    const displayName = request.displayName ?? name;
    if (engine.db.prepare('SELECT 1 FROM vm_snapshots WHERE vm_id=? AND display_name=? AND removed IS NULL').get(vm.id, displayName)) {
      throw ApiError.param(`name: VM ${vm.display_name} already has a VM snapshot named ${displayName}`);
    }
    const id = Number(
      engine.db
        .prepare(
          `INSERT INTO vm_snapshots (uuid, vm_id, name, display_name, description, type, state, service_offering_id, cpu_number, cpu_speed, memory, account_id, domain_id, zone_id, created)
           VALUES (?,?,?,?,?,?,'Allocated',?,?,?,?,?,?,?,?)`,
        )
        .run(randomUUID(), vm.id, name, displayName, request.description ?? null, request.withMemory ? 'DiskAndMemory' : 'Disk', vm.service_offering_id, vm.cpu_number, vm.cpu_speed, vm.memory, vm.account_id, vm.domain_id, vm.zone_id, now())
        .lastInsertRowid,
    );
    return row(engine, id);
  })();
}

function row(engine: Engine, id: number): VmSnapshotRow {
  return engine.db.prepare('SELECT * FROM vm_snapshots WHERE id=?').get(id) as VmSnapshotRow;
}

function setState(engine: Engine, id: number, state: VmSnapshotRow['state']): void {
  engine.db.prepare('UPDATE vm_snapshots SET state=? WHERE id=?').run(state, id);
}

function record(engine: Engine, vm: VmRow, snapshot: VmSnapshotRow, type: string, description: string, context: { caller?: Caller; jobUuid?: string; level?: 'INFO' | 'ERROR' }): void {
  engine.events.record({ type, level: context.level, description: `VM snapshot ${snapshot.display_name} of VM ${vm.display_name}: ${description}`, userId: context.caller?.userId, accountId: snapshot.account_id, domainId: snapshot.domain_id, resourceType: 'VMSnapshot', resourceUuid: snapshot.uuid, jobUuid: context.jobUuid });
}

/** The job half of createVMSnapshot: take it on the host, make it current, enforce vmsnapshot.max. */
export async function takeSnapshot(engine: Engine, caller: Caller, snapshotId: number, jobUuid?: string): Promise<VmSnapshotRow> {
  let snapshot = row(engine, snapshotId);
  const vm = engine.vms.get(snapshot.vm_id);
  setState(engine, snapshot.id, 'Creating');
  const waitSeconds = engine.settings.int('vmsnapshot.create.wait');
  let session: HostSession | undefined;
  try {
    requireVmState(vm, 'virtualmachineid');
    if (snapshot.type === 'DiskAndMemory' && vm.state !== 'Running') throw ApiError.param(`snapshotmemory: VM ${vm.display_name} is ${vm.state} now; memory can be saved only from a Running VM`);
    session = await engine.hosts.session(snapshotHost(vm));
    // A stopped VM may have no definition on its host (recovered after destroy); its disks do, so define it from the database.
    if ((await session.powerState(vmRef(vm))) === 'Missing') {
      await stageImages(engine, session, vm);
      await session.define(engine.vms.spec(vm));
    }
    const snapshots = snapshotFacet(session);
    const { ref } = await snapshots.create(vmRef(vm), { name: snapshot.name, description: snapshot.description ?? undefined, withMemory: snapshot.type === 'DiskAndMemory', timeoutMs: waitSeconds * 1000 }, engine.vms.taskOptions(jobUuid));
    const taken = (await snapshots.list(vmRef(vm))).find((s) => s.ref === ref);
    engine.db.prepare('UPDATE vm_snapshots SET metadata=?, ref=? WHERE id=?').run(taken?.metadata ?? null, ref, snapshot.id);
  } catch (error) {
    // Nothing half-written: a snapshot that timed out is removed from the host if it got there, and the row is gone.
    if (session?.snapshots) await session.snapshots.remove(vmRef(vm), snapshot.name).catch(() => undefined);
    engine.db.prepare(`UPDATE vm_snapshots SET state='Error', removed=? WHERE id=?`).run(now(), snapshot.id);
    record(engine, vm, snapshot, 'VMSNAPSHOT.CREATE', `failed: ${error instanceof Error ? error.message : String(error)}`, { caller, jobUuid, level: 'ERROR' });
    throw error;
  }
  engine.db.transaction(() => {
    const parent = engine.db.prepare(`SELECT id FROM vm_snapshots WHERE vm_id=? AND is_current=1 AND removed IS NULL`).get(vm.id) as { id: number } | undefined;
    engine.db.prepare('UPDATE vm_snapshots SET is_current=0 WHERE vm_id=?').run(vm.id);
    engine.db.prepare(`UPDATE vm_snapshots SET state='Ready', is_current=1, parent_id=? WHERE id=?`).run(parent?.id ?? null, snapshot.id);
    record(engine, vm, snapshot, 'VMSNAPSHOT.CREATE', `created (${snapshot.type === 'DiskAndMemory' ? 'disks and memory' : 'disks'})`, { caller, jobUuid });
    for (const type of ['VMSNAPSHOT.CREATE', 'VMSNAPSHOT.ON_PRIMARY']) engine.events.usage({ type, accountId: vm.account_id, zoneId: vm.zone_id, resourceId: snapshot.id, resourceName: snapshot.name, offeringId: vm.service_offering_id });
  })();
  snapshot = row(engine, snapshot.id);
  // R35: beyond vmsnapshot.max the oldest go, as the seed's cleanup does.
  const max = Math.max(1, engine.settings.int('vmsnapshot.max'));
  const ready = snapshotsOf(engine, vm.id).filter((s) => s.state === 'Ready');
  for (const old of ready.slice(0, Math.max(0, ready.length - max))) {
    await removeSnapshot(engine, { caller, jobUuid, note: `the oldest beyond vmsnapshot.max=${max}` }, old.id);
  }
  return row(engine, snapshot.id);
}

/** Sync checks for revert; the VM must be Stopped for a disk-only snapshot. */
export function checkRevert(engine: Engine, snapshot: VmSnapshotRow, vm: VmRow): void {
  if (snapshot.state !== 'Ready') throw ApiError.param(`vmsnapshotid: VM snapshot ${snapshot.display_name} is ${snapshot.state}; only a Ready snapshot can be reverted to`);
  requireVmState(vm, 'vmsnapshotid');
  if (snapshot.type === 'Disk' && vm.state !== 'Stopped') throw ApiError.param(`vmsnapshotid: ${snapshot.display_name} holds disks only; stop VM ${vm.display_name} before reverting to it`);
  requireIdle(engine, vm);
  engine.vms.assertHostReachable(vm);
  snapshotHost(vm);
}

/**
 * Reverts the VM to the snapshot. A memory snapshot leaves the VM Running (starting it on its
 * host if it was stopped, when the host has room); a disk snapshot leaves it Stopped. The VM takes
 * back the CPU, memory and offering it had then, which is what the hypervisor now runs.
 */
export async function revertToSnapshot(engine: Engine, caller: Caller, snapshotId: number, jobUuid?: string): Promise<VmRow> {
  const snapshot = row(engine, snapshotId);
  let vm = engine.vms.get(snapshot.vm_id);
  checkRevert(engine, snapshot, vm);
  const hostId = snapshotHost(vm);
  const starts = snapshot.type === 'DiskAndMemory' && vm.state === 'Stopped';
  if (starts) {
    const request = requestForVm(engine.db, vm, { hostId, cpuNumber: snapshot.cpu_number, cpuSpeed: snapshot.cpu_speed, memory: snapshot.memory });
    const outcome = engine.planner.plan(request);
    engine.vms.lastPlacement.set(vm.id, outcome);
    if (!outcome.host) {
      throw ApiError.capacity(`VM snapshot ${snapshot.display_name} holds a running VM, and its host cannot take it back now: ${outcome.considered.map((v) => `${v.hostName}: ${v.reason}`).join('; ')}`, { placement: outcome.considered });
    }
  }
  const session = await engine.hosts.session(hostId);
  setState(engine, snapshot.id, 'Reverting');
  if (starts) vm = engine.vms.transition(vm, 'Starting', { caller, jobUuid, hostId, note: `reverting to VM snapshot ${snapshot.display_name}` });
  try {
    await carrySnapshots(engine, vm, session);
    await snapshotFacet(session).revert(vmRef(vm), snapshotRef(snapshot), engine.vms.taskOptions(jobUuid));
  } catch (error) {
    setState(engine, snapshot.id, 'Ready');
    if (starts) engine.vms.transition(engine.vms.get(vm.id), 'Stopped', { caller, jobUuid, hostId: null, note: 'revert failed' });
    record(engine, vm, snapshot, 'VMSNAPSHOT.REVERTTO', `revert failed: ${error instanceof Error ? error.message : String(error)}`, { caller, jobUuid, level: 'ERROR' });
    throw error;
  }
  engine.db.transaction(() => {
    engine.db.prepare('UPDATE vm_snapshots SET is_current=0 WHERE vm_id=?').run(vm.id);
    engine.db.prepare(`UPDATE vm_snapshots SET state='Ready', is_current=1 WHERE id=?`).run(snapshot.id);
    engine.db.prepare('UPDATE vm_instances SET service_offering_id=?, cpu_number=?, cpu_speed=?, memory=? WHERE id=?').run(snapshot.service_offering_id, snapshot.cpu_number, snapshot.cpu_speed, snapshot.memory, vm.id);
    record(engine, vm, snapshot, 'VMSNAPSHOT.REVERTTO', 'reverted to', { caller, jobUuid });
  })();
  if (starts) {
    vm = engine.vms.transition(engine.vms.get(vm.id), 'Running', { caller, jobUuid, note: `reverted to VM snapshot ${snapshot.display_name}` });
    engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostId, vm.id);
  }
  return engine.vms.get(vm.id);
}

/** Sync checks for delete. */
export function checkDelete(engine: Engine, snapshot: VmSnapshotRow, vm: VmRow): void {
  if (snapshot.state !== 'Ready') throw ApiError.param(`vmsnapshotid: VM snapshot ${snapshot.display_name} is ${snapshot.state}; it can be deleted when Ready`);
  requireVmState(vm, 'vmsnapshotid');
  requireIdle(engine, vm);
  engine.vms.assertHostReachable(vm);
}

/**
 * Deletes one snapshot on the host and in the database; its children move to its parent, which
 * becomes current if the deleted one was (as libvirt does). A caller that brings SESSION has
 * already made sure the host knows the VM's snapshots.
 */
export async function removeSnapshot(engine: Engine, context: { caller?: Caller; jobUuid?: string; note?: string }, snapshotId: number, session?: HostSession): Promise<void> {
  const snapshot = row(engine, snapshotId);
  const vm = engine.vms.get(snapshot.vm_id);
  setState(engine, snapshot.id, 'Expunging');
  try {
    let host = session;
    if (!host) {
      host = await engine.hosts.session(snapshotHost(vm));
      // The host may not know it (its record did not follow a move): give it back first, so the
      // snapshot's data in the disk is deleted too rather than left behind.
      await carrySnapshots(engine, vm, host).catch(() => undefined);
    }
    await snapshotFacet(host).remove(vmRef(vm), snapshotRef(snapshot), engine.vms.taskOptions(context.jobUuid));
  } catch (error) {
    // Already gone from the host (its metadata went with an undefined domain): the row goes too.
    const gone = error instanceof Error && (error as Error & { category?: string }).category === 'not-found';
    if (!gone) {
      setState(engine, snapshot.id, 'Ready');
      record(engine, vm, snapshot, 'VMSNAPSHOT.DELETE', `delete failed: ${error instanceof Error ? error.message : String(error)}`, { ...context, level: 'ERROR' });
      throw error;
    }
  }
  engine.db.transaction(() => {
    engine.db.prepare('UPDATE vm_snapshots SET parent_id=? WHERE parent_id=? AND removed IS NULL').run(snapshot.parent_id, snapshot.id);
    if (snapshot.is_current === 1 && snapshot.parent_id !== null) engine.db.prepare('UPDATE vm_snapshots SET is_current=1 WHERE id=?').run(snapshot.parent_id);
    engine.db.prepare(`UPDATE vm_snapshots SET state='Removed', is_current=0, removed=? WHERE id=?`).run(now(), snapshot.id);
    record(engine, vm, snapshot, 'VMSNAPSHOT.DELETE', `deleted${context.note ? ` (${context.note})` : ''}`, context);
    for (const type of ['VMSNAPSHOT.DELETE', 'VMSNAPSHOT.OFF_PRIMARY']) engine.events.usage({ type, accountId: vm.account_id, zoneId: vm.zone_id, resourceId: snapshot.id, resourceName: snapshot.name });
  })();
}

/**
 * Deletes the VM's snapshots (newest first, so no re-parenting is needed): all of them when the
 * VM is destroyed (R36), the memory ones when its offering changes (R35).
 */
export async function removeSnapshotsOf(engine: Engine, vm: VmRow, context: { caller?: Caller; jobUuid?: string; note: string }, type?: VmSnapshotType): Promise<number> {
  const doomed = snapshotsOf(engine, vm.id).filter((s) => type === undefined || s.type === type).reverse();
  if (doomed.length === 0) return 0;
  const busy = doomed.find((s) => BUSY.includes(s.state));
  if (busy) throw ApiError.param(`VM ${vm.display_name} has a VM snapshot task in progress (${busy.display_name} is ${busy.state}); try again when it ends`);
  const hostId = vm.host_id ?? vm.last_host_id;
  const session = hostId !== null ? await engine.hosts.session(hostId) : undefined;
  if (session) await carrySnapshots(engine, vm, session).catch(() => undefined);
  for (const snapshot of doomed) await removeSnapshot(engine, context, snapshot.id, session);
  return doomed.length;
}

/** Refuses what would make the VM's snapshots unusable (R35): changing its disks while they exist. */
export function requireNoSnapshots(engine: Engine, vm: VmRow, what: string): void {
  const why = snapshotRefusal(engine, vm);
  if (why) throw ApiError.param(`${what}: ${why}`);
}

/** Why the VM's volumes cannot change while it has VM snapshots (R35), or undefined when it has none. */
export function snapshotRefusal(engine: Engine, vm: Pick<VmRow, 'id' | 'display_name'>): string | undefined {
  const count = snapshotsOf(engine, vm.id).length;
  return count > 0 ? `VM ${vm.display_name} has ${count} VM snapshot${count === 1 ? '' : 's'}; its volumes cannot change while they exist, so delete them first` : undefined;
}

/** The `vmsnapshot` object as CloudStack's VMSnapshotResponse shapes it. */
export function snapshotResponse(engine: Engine, snapshot: VmSnapshotRow): ApiObject {
  return snapshotResponses(engine, [snapshot])[0]!;
}

/** The responses of a page of snapshots: their VMs, owners and parents, and their tags, in one statement each. */
export function snapshotResponses(engine: Engine, snapshots: readonly VmSnapshotRow[]): ApiObject[] {
  const ids = snapshots.map((s) => s.id);
  const related = rowsFor<{ id: number; vmuuid: string; vmname: string; hypervisor: string; zoneuuid: string; zonename: string; account: string; domainuuid: string; domain: string; parentuuid: string | null; parentname: string | null }>(
    engine.db,
    `SELECT s.id, v.uuid AS vmuuid, v.display_name AS vmname, v.hypervisor, z.uuid AS zoneuuid, z.name AS zonename, a.name AS account, d.uuid AS domainuuid, d.name AS domain,
            p.uuid AS parentuuid, p.display_name AS parentname
     FROM vm_snapshots s JOIN vm_instances v ON v.id=s.vm_id JOIN zones z ON z.id=s.zone_id JOIN accounts a ON a.id=s.account_id
     JOIN domains d ON d.id=s.domain_id LEFT JOIN vm_snapshots p ON p.id=s.parent_id WHERE s.id ${PAGE_IDS}`,
    ids,
    'id',
  );
  const tags = tagsForPage(engine.db, 'VMSnapshot', ids);
  return snapshots.map((snapshot) => {
    const j = related.get(snapshot.id)![0]!;
    return {
      id: snapshot.uuid,
      name: snapshot.name,
      displayname: snapshot.display_name,
      description: snapshot.description ?? undefined,
      state: snapshot.state,
      type: snapshot.type,
      current: snapshot.is_current === 1,
      parent: j.parentuuid ?? undefined,
      parentName: j.parentname ?? undefined,
      virtualmachineid: j.vmuuid,
      virtualmachinename: j.vmname,
      hypervisor: j.hypervisor,
      zoneid: j.zoneuuid,
      zonename: j.zonename,
      account: j.account,
      domainid: j.domainuuid,
      domain: j.domain,
      created: csDate(snapshot.created),
      tags: tags.get(snapshot.id) ?? [],
    };
  });
}

/**
 * After a restart: snapshot tasks that were running when Kiln stopped are settled honestly. One
 * being taken is dropped (with an event naming it, in case the host finished it); one being
 * reverted to or deleted is Ready again, and the next delete finds out whether the host still has it.
 */
export function settleInterruptedSnapshots(engine: Engine): number {
  const stuck = engine.db.prepare(`SELECT * FROM vm_snapshots WHERE removed IS NULL AND state IN ('Allocated','Creating','Reverting','Expunging')`).all() as VmSnapshotRow[];
  for (const snapshot of stuck) {
    const vm = engine.vms.get(snapshot.vm_id);
    if (snapshot.state === 'Allocated' || snapshot.state === 'Creating') {
      engine.db.prepare(`UPDATE vm_snapshots SET state='Error', removed=? WHERE id=?`).run(now(), snapshot.id);
      record(engine, vm, snapshot, 'VMSNAPSHOT.CREATE', `interrupted: Kiln stopped while it was being taken; the host may hold a snapshot named ${snapshot.name}`, { level: 'ERROR' });
    } else {
      setState(engine, snapshot.id, 'Ready');
      record(engine, vm, snapshot, snapshot.state === 'Reverting' ? 'VMSNAPSHOT.REVERTTO' : 'VMSNAPSHOT.DELETE', 'interrupted: Kiln stopped during the task; check the VM before relying on it', { level: 'ERROR' });
    }
  }
  return stuck.length;
}

/**
 * Gives the host the VM now starts on the records of its snapshots (the disks holding them are
 * on shared storage), so revert and delete work wherever the VM runs.
 */
export async function carrySnapshots(engine: Engine, vm: VmRow, session: HostSession): Promise<void> {
  const snapshots = snapshotsOf(engine, vm.id).filter((s) => s.metadata !== null);
  if (snapshots.length === 0) return;
  // Ordered by id: a parent is always older than its children.
  // Only drivers whose snapshot records live with the host (libvirt) need them carried.
  await session.snapshots?.carry?.(vmRef(vm), snapshots.map((s) => ({ name: s.name, metadata: s.metadata! })), snapshots.find((s) => s.is_current === 1)?.name);
}

function snapshotFacet(session: HostSession): SnapshotFacet {
  return requireFacet(session, 'snapshots', 'VM snapshots');
}

/** The driver's ref of a snapshot; rows from before refs (migration 13) by name, which is the ref on KVM. */
function snapshotRef(snapshot: Pick<VmSnapshotRow, 'ref' | 'name'>): string {
  return snapshot.ref ?? snapshot.name;
}

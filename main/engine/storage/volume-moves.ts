/**
 * Volumes moved to other storage pools through the driver's storage motion (the migration facet
 * with the volumes' new pools), for migrateVolume and migrateVirtualMachineWithVolume:
 *  - a Running VM's volumes to other pools of its own host, live (hypervisors whose storage motion
 *    includes running VMs: the capability liveStorageMotion; KVM's block copy);
 *  - a Stopped VM's volumes to pools of its host, or to another host's local pool, the VM (its
 *    definition) moving to that host with them (KVM streams the disks between the hosts).
 * Kiln records the new pools, and a new host, only after the hypervisor moved the disks, so a
 * failure leaves every row as it was. A running VM's move to another host is migrateVm's.
 */
import { DriverError, type DriverCapabilities } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import { stageImages } from '../images/staging.js';
import { recordMoved } from '../vm/stopped-move.js';
import { endVouch } from '../import/adopted-moves.js';
import { vmRef, type VmRow } from '../vm/rows.js';

export interface VolumeMove {
  volume: { id: number; uuid: string; name: string; path: string | null };
  pool: { id: number; ref: string; name: string };
}

/**
 * Whether a volume of VM may go to another host's local pool (true), or why not: the hypervisor
 * must move a stopped VM's disks across hosts (storageMotionAcrossHosts; without it, undefined:
 * no more to say), only a Stopped VM moves with it, and only when none of its other volumes is
 * local storage of its host (the VM would then have disks on two hosts). One rule for
 * migrateVolume and findStoragePoolsForMigration (pool-records.ts migrationRefusal).
 */
export function acrossHosts(engine: Engine, vm: Pick<VmRow, 'id' | 'state' | 'display_name'>, volumeId: number, capabilities: Pick<DriverCapabilities, 'storageMotionAcrossHosts'>): true | string | undefined {
  if (!capabilities.storageMotionAcrossHosts) return undefined;
  if (vm.state !== 'Stopped') return `VM ${vm.display_name} is ${vm.state}; migrateVirtualMachineWithVolume moves a running VM to another host with its volumes`;
  const local = engine.db
    .prepare(`SELECT v.name, h.name AS host FROM volumes v JOIN storage_pools p ON p.id=v.pool_id LEFT JOIN hosts h ON h.id=p.host_id WHERE v.vm_id=? AND v.id<>? AND v.removed IS NULL AND p.scope='HOST'`)
    .get(vm.id, volumeId) as { name: string; host: string | null } | undefined;
  if (local) return `volume ${local.name} of VM ${vm.display_name} is local storage of host ${local.host ?? '?'} and would stay there; move the VM with both volumes with migrateVirtualMachineWithVolume`;
  return true;
}

/** Moves the volumes of VM (Running: on its own host, live; Stopped: to TARGET's pools, TARGET may be its own host). */
export async function moveVolumes(engine: Engine, caller: Caller, vm: VmRow, target: { id: number; name: string; pod_id: number | null; cluster_id: number }, moves: VolumeMove[], jobUuid: string): Promise<VmRow> {
  const db = engine.db;
  const current = engine.vms.get(vm.id);
  const running = current.state === 'Running';
  if (!running && current.state !== 'Stopped') throw ApiError.param(`volumeid: VM ${current.display_name} is ${current.state}; its volumes move while it is Running or Stopped`);
  if (running !== (vm.state === 'Running')) throw ApiError.param(`volumeid: VM ${current.display_name} is ${current.state} now (it was ${vm.state}); ask again`);
  const fromId = running ? current.host_id! : current.last_host_id!;
  if (running && target.id !== fromId) throw ApiError.param(`hostid: a running VM moves to another host with migrateVirtualMachineWithVolume`);
  const source = await engine.hosts.session(fromId);
  const destination = target.id === fromId ? source : await engine.hosts.session(target.id);
  if (!source.capabilities.storageMotion || !source.migration || !destination.migration) throw ApiError.param(`volumeid: the hypervisor of VM ${current.display_name} cannot move disks between storage pools`);
  if (running && source.capabilities.liveStorageMotion === false) throw ApiError.param(`livemigrate: the hypervisor of VM ${current.display_name} moves disks only while the VM is stopped; stop it first`);
  // A definition made afresh on another host needs its images there (an ISO, a template's copy).
  if (target.id !== fromId) await stageImages(engine, destination, current);
  const request = { vm: vmRef(current), spec: engine.vms.spec(current), live: running, volumePools: Object.fromEntries(moves.map((m) => [m.volume.path ?? '', m.pool.ref])) };
  const how = `${running ? ' while the VM ran' : ''}${target.id !== fromId ? ` on host ${target.name}, the VM with it` : ''}`;
  try {
    recordMoved(engine, current, await source.migration.perform(request, await destination.migration.prepare(request), engine.vms.taskOptions(jobUuid)), undefined, request.volumePools);
  } catch (error) {
    throw recordPartialMove(engine, caller, current, moves, error, jobUuid);
  }
  db.transaction(() => {
    recordPools(engine, caller, current, moves, how, jobUuid);
    if (target.id !== fromId) db.prepare('UPDATE vm_instances SET last_host_id=?, pod_id=?, cluster_id=? WHERE id=?').run(target.id, target.pod_id, target.cluster_id, current.id);
  })();
  return engine.vms.get(current.id);
}

/** Records MOVES done: each volume's new pool and a VOLUME.MIGRATE event (HOW: how it moved, for its text). */
function recordPools(engine: Engine, caller: Caller, vm: VmRow, moves: VolumeMove[], how: string, jobUuid: string): void {
  for (const m of moves) {
    engine.db.prepare('UPDATE volumes SET pool=?, pool_id=? WHERE id=?').run(m.pool.ref, m.pool.id, m.volume.id);
    engine.events.record({
      type: 'VOLUME.MIGRATE', description: `volume ${m.volume.name} (${m.volume.uuid}) of VM ${vm.display_name} moved to storage pool ${m.pool.name}${how}`,
      userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'Volume', resourceUuid: m.volume.uuid, jobUuid,
    });
  }
}

/**
 * After a storage motion that failed: the disks the hypervisor reports moved all the same
 * (DriverErrorDetails.moved, e.g. KVM's pivots part-way) are recorded in their new pools, as the
 * host has them, and the error the job ends with says which volumes moved and which did not.
 * Any other failure is returned as it was (nothing moved, nothing recorded).
 */
export function recordPartialMove(engine: Engine, caller: Caller, vm: VmRow, moves: VolumeMove[], error: unknown, jobUuid: string): unknown {
  const reported = error instanceof DriverError ? (error.details.moved ?? []) : [];
  const done = moves.filter((m) => reported.some((r) => r.name === m.volume.path && (r.pool === m.pool.ref || r.pool === m.pool.name)));
  if (done.length === 0) return error;
  const failure = error as DriverError;
  engine.db.transaction(() => {
    recordPools(engine, caller, vm, done, ' before the rest of the move failed', jobUuid);
    endVouch(engine.db, vm.id, done.map((m) => m.volume.id));
  })();
  const left = moves.filter((m) => !done.includes(m));
  const words = (list: VolumeMove[], how: (m: VolumeMove) => string) => list.map((m) => `${m.volume.name} ${how(m)}`).join(', ');
  return new DriverError(
    `${failure.message}. Volumes moved: ${words(done, (m) => `to storage pool ${m.pool.name}`)}; ${left.length ? `not moved: ${words(left, () => 'stays where it was')}` : 'none left to move'}`,
    failure.category,
    failure.details,
  );
}

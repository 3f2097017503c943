/**
 * R48's storage half for importUnmanagedInstance: every disk of the VM must sit on a pool whose
 * tags include its offering's (the root disk: the service offering's storage tags; a data disk:
 * its disk offering's, from datadiskofferinglist). Checked before the job: without
 * migrateallowed a conflict is a 431 naming the offering, the tag and the pool; with it the job
 * moves the disks to pools that have the tags (and the VM to another host when its host tags or
 * the pools ask for it), live when the VM runs, through the driver's migration facet, which must
 * be able to move disks (the capability storageMotion), else that too is a 431 up front.
 */
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import { vmRef, type VmRow } from '../vm/rows.js';
import { migrateVm } from '../vm/vm-changes.js';
import { DbPlacementState } from '../placement/db-state.js';
import { explainShort } from '../placement/planner.js';
import { requestForVm } from '../placement/request.js';
import { missingTags, parseTags, poolText, type StoragePoolRow } from './pool-records.js';
import { poolForNeed } from './need-pool.js';
import { mapVolumes, syncClusterPools } from './pool-sync.js';
import { recordPartialMove } from './volume-moves.js';
import { recordMoved } from '../vm/stopped-move.js';

/** A disk of the imported VM that has to move to a pool with these tags. */
export interface StorageMove {
  diskId: string;
  /** Its device id in the import (plan.disks order). */
  deviceId: number;
  need: string[];
  /** "service offering big" / "disk offering fast". */
  offering: string;
  /** The pool it is on now, by name. */
  from: string;
}

/** What of an ImportPlan the check reads. */
export interface TaggedImport {
  cluster: { id: number; name: string };
  vm: { host: { id: number; name: string }; info: { name: string; powerState?: string; disks: { id: string; datastore?: string }[] } };
  offering: { name: string; storage_tags: string };
  disks: { id: string; type: 'ROOT' | 'DATADISK'; diskOfferingId: number | null }[];
}

/** Each disk of the import whose offering asks for storage tags (the root disk: the service offering's; a data disk: its disk offering's), with the parameter that chose it. */
export function diskTagNeeds(db: Db, plan: Pick<TaggedImport, 'offering' | 'disks'>): { disk: TaggedImport['disks'][number]; deviceId: number; need: string[]; offering: string; param: string }[] {
  return plan.disks.map((disk, deviceId) => {
    if (disk.type === 'ROOT') return { disk, deviceId, need: parseTags(plan.offering.storage_tags), offering: `service offering ${plan.offering.name}`, param: 'serviceofferingid' };
    const offering = db.prepare('SELECT name, tags FROM disk_offerings WHERE id=?').get(disk.diskOfferingId) as { name: string; tags: string } | undefined;
    return { disk, deviceId, need: parseTags(offering?.tags), offering: `disk offering ${offering?.name ?? '?'}`, param: 'datadiskofferinglist' };
  }).filter((w) => w.need.length > 0);
}

/**
 * The moves R48 asks for (none: every disk is on a pool with its tags). Throws the 431s described above.
 * importUnmanagedInstance and the CSV bulk run (planImport) serve this rule, and importVm
 * local/shared (the disk in its pool), which has no move to offer, so REMEDY replaces the advice to
 * pass migrateallowed. (importVm external copies onto the host the planner picks, whose default
 * pool the storage-tags filter judges: external.ts targetHost, need-pool.ts.) A disk
 * whose storage is not given is on its host's default pool (as pool-sync's mapVolumes reads it).
 */
export async function planStorageMoves(engine: Engine, plan: TaggedImport, migrateAllowed: boolean, remedy?: string): Promise<StorageMove[]> {
  const db = engine.db;
  const wanted = diskTagNeeds(db, plan);
  if (wanted.length === 0) return [];
  await syncClusterPools(engine, plan.cluster.id);
  const pools = db.prepare('SELECT * FROM storage_pools WHERE cluster_id=? AND removed IS NULL').all(plan.cluster.id) as StoragePoolRow[];
  const hostId = plan.vm.host.id;
  const moves: StorageMove[] = [];
  for (const w of wanted) {
    const onHost = pools.filter((p) => p.scope === 'CLUSTER' || p.host_id === hostId);
    const where = plan.vm.info.disks.find((d) => d.id === w.disk.id)?.datastore ?? onHost.find((p) => p.is_default === 1)?.ref ?? '';
    const pool = onHost.find((p) => p.ref === where) ?? onHost.find((p) => p.name === where);
    const missing = pool ? missingTags(w.need, pool) : w.need;
    if (missing.length === 0) continue;
    const tagWord = `storage tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
    const poolWords = pool ? `pool ${pool.name}` : `storage ${where || '(unknown)'}, which Kiln has no pool record of,`;
    if (!migrateAllowed || remedy !== undefined) {
      const advice = remedy ?? `pass migrateallowed=true to move the disk to a pool that has ${missing.length > 1 ? 'them' : 'it'}`;
      throw ApiError.param(`${w.param}: ${w.offering} needs ${tagWord}, which ${poolWords} holding disk ${w.disk.id} of VM ${plan.vm.info.name} lacks; ${advice}`);
    }
    if (!pools.some((p) => p.enabled === 1 && p.present === 1 && missingTags(w.need, p).length === 0)) {
      throw ApiError.param(`${w.param}: ${w.offering} needs ${tagWord} for disk ${w.disk.id} of VM ${plan.vm.info.name}, and no enabled storage pool of cluster ${plan.cluster.name} has ${missing.length > 1 ? 'them' : 'it'} (${pools.map(poolText).join('; ') || 'none'}); tag one with updateStoragePool`);
    }
    moves.push({ diskId: w.disk.id, deviceId: w.deviceId, need: w.need, offering: w.offering, from: pool?.name ?? where });
  }
  if (moves.length > 0) {
    const session = await engine.hosts.session(hostId);
    if (!session.capabilities.storageMotion || !session.migration) {
      throw ApiError.param(`migrateallowed: disk ${moves[0]!.diskId} of VM ${plan.vm.info.name} must move to a pool with ${moves[0]!.need.join(', ')} (${moves[0]!.offering}), but the hypervisor of host ${plan.vm.host.name} cannot move disks between storage pools`);
    }
    if (plan.vm.info.powerState === 'Running' && session.capabilities.liveStorageMotion === false) {
      throw ApiError.param(`migrateallowed: disk ${moves[0]!.diskId} of VM ${plan.vm.info.name} must move to a pool with ${moves[0]!.need.join(', ')} (${moves[0]!.offering}), but the hypervisor of host ${plan.vm.host.name} moves disks between storage pools only while the VM is stopped; stop it on the hypervisor first`);
    }
  }
  return moves;
}

/**
 * The job's half: moves the imported VM's disks (and the VM, when MOVEHOST) to pools with their
 * tags. A failure leaves the imported VM where it is, settled, and says so.
 */
export async function moveToTaggedStorage(engine: Engine, caller: Caller, vm: VmRow, moves: StorageMove[], options: { moveHost: boolean; offering: string; jobUuid: string }): Promise<VmRow> {
  const db = engine.db;
  const fromId = vm.host_id ?? vm.last_host_id!;
  const here = db.prepare('SELECT name FROM hosts WHERE id=?').get(fromId) as { name: string };
  // The import wrote each disk's pool as the driver named it; the records' ids follow from that.
  if (vm.cluster_id !== null) mapVolumes(db, [vm.cluster_id]);
  // The planner judges each host by the pool every disk would be on there, disks free to move
  // (need-pool.ts): the VM's own host when that works (and its host tags need no move), else the
  // best other host of its cluster (host tags, room, affinity). One state for the verdict and the
  // choice below, so each disk goes to the very pool the verdict found.
  const state = new DbPlacementState(db, engine.settings, vm.id);
  const request = requestForVm(db, vm, { clusterId: vm.cluster_id ?? undefined, moveDisks: true });
  let outcome = options.moveHost ? undefined : engine.planner.plan({ ...request, hostId: fromId }, state);
  if (!outcome?.host) outcome = engine.planner.plan({ ...request, excludeHostIds: [fromId] }, state);
  const target = outcome.host;
  if (!target) {
    throw ApiError.capacity(`VM ${vm.display_name} was imported on host ${here.name}, but no host of its cluster${options.moveHost ? ` has offering ${options.offering}'s host tags, room for it and` : ''} has storage pools with the tags its disks need (${explainShort(outcome)}); it stays where it is, on pool ${moves[0]!.from}`, { placement: outcome.considered });
  }
  const pools = state.storagePools(target);
  const chosen = moves.map((move) => {
    const volume = db.prepare('SELECT id, uuid, name, path FROM volumes WHERE vm_id=? AND device_id=? AND removed IS NULL').get(vm.id, move.deviceId) as { id: number; uuid: string; name: string; path: string };
    const need = request.storageNeeds?.find((n) => n.volume === volume.name) ?? { volume: volume.name, tags: move.need, offering: move.offering };
    return { volume, pool: poolForNeed(need, pools, true).pool! };
  });
  const volumePools = Object.fromEntries(chosen.map((c) => [c.volume.path, c.pool.ref]));
  let moved: VmRow;
  try {
    if (vm.state === 'Running') {
      moved = await migrateVm(engine, caller, vm, target, options.jobUuid, volumePools);
    } else {
      // A stopped VM's definition and disks move offline (the hypervisor's cold relocate).
      const source = await engine.hosts.session(fromId);
      const destination = fromId === target.id ? source : await engine.hosts.session(target.id);
      const request = { vm: vmRef(vm), spec: engine.vms.spec(vm), live: false, volumePools };
      recordMoved(engine, vm, await source.migration!.perform(request, await destination.migration!.prepare(request), engine.vms.taskOptions(options.jobUuid)), target, volumePools);
      db.prepare('UPDATE vm_instances SET last_host_id=?, pod_id=?, cluster_id=? WHERE id=?').run(target.id, target.pod_id, target.cluster_id, vm.id);
      moved = engine.vms.get(vm.id);
    }
  } catch (error) {
    // Disks the hypervisor moved before failing stay where it put them.
    throw recordPartialMove(engine, caller, vm, chosen, error, options.jobUuid);
  }
  db.transaction(() => {
    for (const c of chosen) db.prepare('UPDATE volumes SET pool=?, pool_id=? WHERE id=?').run(c.pool.ref, c.pool.id, c.volume.id);
    engine.events.record({
      type: 'VOLUME.MIGRATE',
      description: `VM ${vm.display_name} (${vm.uuid}): ${chosen.map((c) => `disk ${c.volume.path} to pool ${c.pool.name}`).join(', ')} (storage tags, migrateallowed=true)${target.id !== fromId ? `, VM to host ${target.name}` : ''}`,
      userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid: options.jobUuid,
    });
  })();
  return moved;
}

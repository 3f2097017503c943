/**
 * A stopped VM moved with its volumes to a storage pool of another cluster: CloudStack's
 * migrateVirtualMachine with `storageid` for a Stopped VM (its storage migration), where the
 * primary storage belongs to a cluster (a XenServer pool's SR is its pool's). The destination is
 * a host of that cluster; the driver moves the halted VM there (prepare on the destination,
 * perform on the source with live=false; XenServer: host.migrate_receive, then VM.migrate_send of
 * the halted VM, its disks onto the pool). The VM stays Stopped; Kiln records its new last host,
 * cluster, refs and volume pools, so its next start is there. Within its own cluster a stopped
 * VM needs no move (its next start may go to any host that sees its storage), so that is a 431.
 */
import type { Engine } from '../engine.js';
import type { Caller } from '../registry/types.js';
import type { Args } from '../registry/params.js';
import { ApiError } from '../registry/errors.js';
import { byUuid } from '../lookup.js';
import { PLACEMENT_COLUMNS, type PlacementHost } from '../placement/types.js';
import { stageImages } from '../images/staging.js';
import { snapshotsOf } from './vm-snapshots.js';
import { recordMovedDisks } from './moved-disks.js';
import { vmRef, type VmRow } from './rows.js';
import type { MigrationResult } from '../../../drivers/types.js';

interface PoolRow {
  id: number;
  uuid: string;
  name: string;
  ref: string;
  cluster_id: number;
  host_id: number | null;
  enabled: number;
}

export interface StoppedMove {
  vm: VmRow;
  pool: PoolRow;
  host: PlacementHost;
}

/** Every refusal before a job (431 naming the parameter). */
export function planStoppedMove(engine: Engine, caller: Caller, args: Args): StoppedMove {
  const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
  if (args.uuid('hostid')) throw ApiError.param('hostid: give hostid or storageid, not both (a Stopped VM moves by its storage, a Running one to a host)');
  if (vm.state !== 'Stopped') throw ApiError.param(`storageid: VM ${vm.display_name} is ${vm.state}; only a Stopped VM moves with its storage (a Running one migrates to hostid)`);
  const pool = byUuid<PoolRow>(engine.db, 'storagePool', args.uuid('storageid')!, 'storageid');
  if (pool.enabled !== 1) throw ApiError.param(`storageid: storage pool ${pool.name} is disabled`);
  const from = vm.last_host_id;
  if (from === null || vm.ref === null) throw ApiError.param(`storageid: VM ${vm.display_name} has never been started; its volumes are made where it first starts`);
  const source = engine.db.prepare('SELECT cluster_id FROM hosts WHERE id=?').pluck().get(from) as number;
  if (pool.cluster_id === source) throw ApiError.param(`storageid: storage pool ${pool.name} is in the cluster VM ${vm.display_name} is in already; its next start may use any host there`);
  if (snapshotsOf(engine, vm.id).length > 0) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has VM snapshots; they stay with the source pool, so delete them first`);
  const host = engine.db
    .prepare(`SELECT ${PLACEMENT_COLUMNS.join(', ')} FROM hosts WHERE cluster_id=? AND (? IS NULL OR id=?) AND state='Up' AND resource_state='Enabled' AND removed IS NULL ORDER BY id LIMIT 1`)
    .get(pool.cluster_id, pool.host_id, pool.host_id) as PlacementHost | undefined;
  if (!host) throw ApiError.capacity(`storage pool ${pool.name}: no host of its cluster is Up and enabled to receive VM ${vm.display_name}`);
  return { vm, pool, host };
}

/**
 * Records where a migration put the VM's objects (a move to another endpoint's pool makes new ones).
 * VOLUMEPOOLS: the disks (by path) Kiln asked the move to take to other pools. The disks it moved
 * (those, and those the driver reports on another pool: xapi across pools carries every disk) are
 * Kiln's own from now on: an import's migrateallowed vouch no longer covers them (moved-disks.ts).
 */
export function recordMoved(engine: Engine, vm: VmRow, moved: MigrationResult, to?: { cluster_id: number; id?: number }, volumePools?: Record<string, string>): void {
  if (moved && moved.ref) engine.db.prepare('UPDATE vm_instances SET ref=? WHERE id=?').run(moved.ref, vm.id);
  // A disk carried to another cluster is on that cluster's pool record from now on (placement judges it there), as moved-after-all.ts records it.
  recordMovedDisks(engine, vm.id, (moved && moved.disks) || [], to?.cluster_id ?? vm.cluster_id, to?.id ?? null, volumePools);
}

export async function moveStoppedVm(engine: Engine, caller: Caller, plan: StoppedMove, jobUuid: string): Promise<VmRow> {
  const vm = engine.vms.get(plan.vm.id);
  if (vm.state !== 'Stopped') throw ApiError.param(`storageid: VM ${vm.display_name} is ${vm.state}; only a Stopped VM moves with its storage`);
  const source = await engine.hosts.session(vm.last_host_id!);
  const destination = await engine.hosts.session(plan.host.id);
  if (!source.capabilities.crossClusterMigration || !source.migration || !destination.migration) {
    throw ApiError.param(`storageid: the hypervisor of VM ${vm.display_name} cannot move a VM to another cluster`);
  }
  await stageImages(engine, destination, vm);
  const spec = engine.vms.spec(vm);
  const volumePools = Object.fromEntries(spec.disks.map((d) => [d.name, plan.pool.ref]));
  const request = { vm: vmRef(vm), spec, live: false, volumePools };
  // Nothing in Kiln changes before the hypervisor moved the VM: a failure leaves it Stopped where it was.
  const moved = await source.migration.perform(request, await destination.migration.prepare(request), engine.vms.taskOptions(jobUuid));
  recordMoved(engine, vm, moved, plan.host, volumePools);
  engine.db.prepare('UPDATE vm_instances SET last_host_id=?, pod_id=?, cluster_id=? WHERE id=?').run(plan.host.id, plan.host.pod_id, plan.host.cluster_id, vm.id);
  engine.events.record({
    type: 'VM.MIGRATE', description: `VM ${vm.display_name} (${vm.uuid}) moved stopped with its volumes to storage pool ${plan.pool.name} (host ${plan.host.name})`,
    userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid,
  });
  return engine.vms.get(vm.id);
}

/**
 * Where a running VM may migrate (R20): every other host judged by the placement filters, plus
 * the migration rules: a hypervisor without the crossClusterMigration capability keeps the VM in
 * its cluster, and a VM on local disk cannot move live.
 */
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import type { Args } from '../registry/params.js';
import { byUuid } from '../lookup.js';
import type { HostRow } from '../hosts/host-manager.js';
import type { OfferingRow, VmRow } from '../vm/rows.js';
import { requestForVm } from './request.js';
import { vmsStorageNeeds } from '../storage/pool-choice.js';
import type { HostVerdict, PlacementHost, PlacementOutcome } from './types.js';

/** MOVING: volume ids whose disks move with the VM (migrateto), so their current pool does not bind the destination. */
export function migrationOutcome(engine: Engine, vm: VmRow, target?: PlacementHost, moving: ReadonlySet<number> = new Set()): PlacementOutcome {
  const offering = engine.db.prepare('SELECT storage_type FROM service_offerings WHERE id=?').get(vm.service_offering_id) as Pick<OfferingRow, 'storage_type'>;
  // The hypervisor's capabilities decide, not its name: without cross-cluster migration the VM
  // stays in its cluster (KVM and the simulator today; XenServer and VMware could leave it).
  const capabilities = engine.hosts.knownDriver(vm.hypervisor)?.capabilities;
  const sameClusterOnly = !(capabilities?.crossClusterMigration ?? false);
  // A move to another cluster that copies the disks along is judged by where they land (storage-tags filter).
  const carryDisks = !sameClusterOnly && capabilities?.crossClusterCarriesDisks && vm.cluster_id !== null ? { fromClusterId: vm.cluster_id } : undefined;
  const request = requestForVm(engine.db, vm, {
    hostId: target?.id, clusterId: sameClusterOnly && !target ? vm.cluster_id ?? undefined : undefined, ...(carryDisks ? { carryDisks } : {}),
    ...(moving.size ? { storageNeeds: vmsStorageNeeds(engine.db, [vm.id], moving).get(vm.id) ?? [] } : {}),
  });
  const outcome = engine.planner.plan(request);
  const extra = (v: HostVerdict, host: PlacementHost | undefined): string | undefined => {
    if (!host) return undefined;
    if (host.id === vm.host_id) return SAME_HOST_REASON;
    if (sameClusterOnly && host.cluster_id !== vm.cluster_id) return clusterOnlyReason(vm);
    if (offering.storage_type === 'local') return `the VM uses local storage; ${vm.hypervisor} cannot move it live`;
    if (host.hypervisor !== vm.hypervisor) return `hypervisor is ${host.hypervisor}`;
    return v.suitable ? undefined : v.reason;
  };
  const hosts = new Map(engine.planner.candidates(request).map((h) => [h.uuid, h]));
  const considered = outcome.considered.map((v) => {
    const reason = extra(v, hosts.get(v.hostId));
    return reason ? { ...v, suitable: false, reason } : v;
  });
  const allowed = new Set(considered.filter((v) => v.suitable).map((v) => v.hostName));
  const order = outcome.order.filter((name) => allowed.has(name));
  const host = order.length ? [...hosts.values()].find((h) => h.name === order[0]) : undefined;
  return { ...outcome, considered, order, host };
}

/** Why the VM's own host is never a destination (findHostsForMigration's reason, migrate's refusal). */
export const SAME_HOST_REASON = 'the VM already runs on this host';

/** Why a host in another cluster is not offered (findHostsForMigration says it for hosts the planner never judged). */
export function clusterOnlyReason(vm: VmRow): string {
  return `${vm.hypervisor} migrates only within the cluster`;
}

/**
 * The checks both migrate commands make before any job: the VM is the caller's to see, Running,
 * on a reachable host, and a destination (given as hostid, or chosen) passes every rule.
 */
export function planMigration(engine: Engine, caller: Caller, args: Args): { vm: VmRow; chosen: PlacementHost; outcome: PlacementOutcome } {
  const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
  if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; only a Running VM can be migrated`);
  engine.vms.assertHostReachable(vm);
  const target = args.uuid('hostid') ? byUuid<HostRow>(engine.db, 'host', args.uuid('hostid')!, 'hostid') : undefined;
  if (!target && args.bool('autoselect') === false) throw ApiError.param('hostid: required when autoselect=false');
  // A bad argument, not a shortage: CloudStack answers 431 (InvalidParameterValueException) here.
  if (target && target.id === vm.host_id) throw ApiError.param(`hostid: cannot migrate VM ${vm.display_name} to host ${target.name}: ${SAME_HOST_REASON}; choose another host`);
  // migrateVirtualMachineWithVolume: the volumes named in migrateto move to pools the destination reaches.
  const moving = new Set((args.map('migrateto') ?? []).flatMap((e) => {
    const id = engine.db.prepare('SELECT id FROM volumes WHERE uuid=? AND vm_id=? AND removed IS NULL').pluck().get(e['volume'] ?? '', vm.id) as number | undefined;
    return id === undefined ? [] : [id];
  }));
  const outcome = migrationOutcome(engine, vm, target, moving);
  if (!outcome.host) {
    const why = outcome.considered.filter((v) => !target || v.hostId === target.uuid).map((v) => `${v.hostName}: ${v.reason}`).join('; ');
    throw ApiError.capacity(`Cannot migrate VM ${vm.display_name}: ${why || 'no other host in its cluster'}`, { placement: outcome.considered });
  }
  return { vm, chosen: outcome.host, outcome };
}

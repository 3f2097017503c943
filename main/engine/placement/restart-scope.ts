/**
 * Where a VM may restart once its host has failed: one rule for checkClusterHeadroom's what-if
 * (headroom.ts, R14) and the HA restart (ha-monitor.ts, R13), so what headroom promises is what HA
 * does.
 *
 * - A made disk on a host's local pool (HOST scope) binds the VM to that host: a start carries no
 *   disks, so with the host gone the VM restarts nowhere else. The reason names the volume, the pool
 *   and the host; headroom reports it as the VM's, and HA logs it instead of trying other hosts.
 *   Unless the record has an identity (a vSphere datastore only some hosts mount, each its own
 *   record): the hosts with a record of the same store may take the VM, as the storage-tags filter judges.
 * - Otherwise the VM restarts among the other hosts of its cluster: its disks are on the cluster's
 *   storage (a shared pool, a KVM pool the zone names in details sharedPools), which hosts of other
 *   clusters do not reach. The planner's filters then judge each of them (capacity, tags, affinity).
 */
import type { PlacementRequest } from './types.js';

export type RestartScope = { bound: string; request?: undefined } | { bound?: undefined; request: PlacementRequest };

/** REQUEST (the VM's own, request.ts) narrowed to a restart after FAILED went down, or why the VM cannot restart away from it. */
export function restartScope(request: PlacementRequest, failed: { id: number; cluster_id: number }): RestartScope {
  // A request whose disks may move (moveDisks) is never an HA restart's; it is kept for symmetry with the filter.
  // A host's record of a store other hosts report too (the driver's pool identity: a datastore some of the cluster's hosts mount)
  // binds nothing by itself: the storage-tags filter lets in the hosts that have a record of it.
  const local = request.moveDisks ? undefined : request.storageNeeds?.find((n) => n.local?.hostId === failed.id && !n.poolIdentity);
  if (local?.local) return { bound: localDiskBinding(local.volume, local.local) };
  return { request: { ...request, clusterId: failed.cluster_id } };
}

/** "volume ROOT-3 is on local storage pool loc-disk of host h1, which only that host reaches; …" */
export function localDiskBinding(volume: string, local: { pool: string; host: string }): string {
  return `volume ${volume} is on local storage pool ${local.pool} of host ${local.host}, which only that host reaches; the VM can restart only there (move the volume to shared storage first: migrateVolume)`;
}

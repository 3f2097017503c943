/**
 * R48's storage half at placement: a host passes only if each of the VM's tagged volumes has a pool
 * there with every tag its offerings ask for, judged by the pool the disk would actually be on
 * (storage/need-pool.ts): a disk not made yet, an enabled pool with the tags; a made one, the pool
 * it is on, which the host must reach and which must have them (or, when the request lets disks
 * move, the pool with the tags the move will use). Another tagged pool of the host does not carry
 * a disk that is somewhere else; a host that does not reach a disk on another host's local pool
 * says so, pointing to the moves. A move to another cluster that carries the disks (the request's
 * carryDisks) judges each made disk on the destination's default pool, where it would land
 * (storage/need-pool.ts carriedPool). The planner then never picks a
 * host whose disk creation would fail (pool-choice.ts placeTaggedVolumes, which still gives the
 * volume its pool on the chosen host after a fresh read of the pools).
 *
 * It reads the pool records only, never a host: tags exist only on records (updateStoragePool
 * writes them), so a pool Kiln has not read yet cannot have the tags anyway. A host whose driver
 * has no primaryStorage facet is judged as placeTaggedVolumes judges it: by the records of its
 * cluster (a cluster pool another host of it reports counts); with none it reaches no pool and a
 * tagged volume cannot go there ("pools: none recorded").
 */
import { carriedPool, poolForNeed } from '../../storage/need-pool.js';
import type { Filter } from '../types.js';

export const storageTags: Filter = {
  name: 'storage-tags',
  check({ host }, request, state) {
    const needs = request.storageNeeds ?? [];
    if (needs.length === 0) return undefined;
    const pools = state.storagePools(host);
    // A move to another cluster that carries the disks (XenServer's migrate_send) lands each made one on this host's default pool.
    const carried = request.carryDisks !== undefined && request.carryDisks.fromClusterId !== host.cluster_id;
    for (const need of needs) {
      if (carried && need.poolId !== undefined) {
        const judged = carriedPool(need, pools);
        if (judged.refusal) return judged.refusal;
        continue;
      }
      // A disk on a host's local pool stays there: only that host (whose records hold the pool) can run it, enabled or not.
      // A start carries no disk, so a host of another cluster does not reach it either.
      if (need.local && !request.moveDisks && !pools.some((p) => p.id === need.poolId)) {
        return `volume ${need.volume} is on local storage pool ${need.local.pool} of host ${need.local.host}, which this host does not reach; move the volume first (migrateVolume, or migrateVirtualMachineWithVolume with migrateto)`;
      }
      // An untagged need is there for its disk's locality alone, judged above.
      if (need.tags.length === 0) continue;
      // The pool this disk would be on from this host (the one a move would use), or why there is none.
      const judged = poolForNeed(need, pools, request.moveDisks);
      if (judged.refusal) return judged.refusal;
    }
    return undefined;
  },
};

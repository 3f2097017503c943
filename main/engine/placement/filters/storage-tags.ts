/**
 * R48's storage half at placement: a host passes only if each of the VM's tagged volumes has a pool
 * there with every tag its offerings ask for, judged by the pool the disk would actually be on
 * (storage/need-pool.ts): a disk not made yet, an enabled pool with the tags; a made one, the pool
 * it is on, which the host must reach and which must have them (or, when the request lets disks
 * move, the pool with the tags the move will use). Another tagged pool of the host does not carry
 * a disk that is somewhere else. Tagged or not, a made disk binds its VM to the hosts that reach its
 * pool (a local pool: its host; a cluster's: that cluster's hosts; and the hosts of any cluster
 * whose record of the same store, by the driver's pool identity, they report), and a host that does not says
 * so, naming the disk, the pool and the host's cluster. A move to another cluster that carries the disks (the request's
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
import { carriedPool, poolForNeed, reachesPool, sameStore, unreachedPool } from '../../storage/need-pool.js';
import type { StoragePoolRow } from '../../storage/pool-records.js';
import type { Filter } from '../types.js';

export const storageTags: Filter = {
  name: 'storage-tags',
  check({ host }, request, state) {
    const needs = request.storageNeeds ?? [];
    if (needs.length === 0) return undefined;
    // Read only for a verdict that needs them (a tag, a carried disk, the words of a refusal): a VM whose made disks are
    // all on this host's cluster's pools passes without reading them.
    let read: StoragePoolRow[] | undefined;
    const pools = () => (read ??= state.storagePools(host));
    // A move to another cluster that carries the disks (XenServer's migrate_send) lands each made one on this host's default pool.
    const carried = request.carryDisks !== undefined && request.carryDisks.fromClusterId !== host.cluster_id;
    for (const need of needs) {
      if (carried && need.poolId !== undefined) {
        const judged = carriedPool(need, pools());
        if (judged.refusal) return judged.refusal;
        continue;
      }
      // A made disk stays on its pool (a start carries none, nor a move without carryDisks): only a host that reaches
      // that pool can run the VM, enabled or not. A local pool: its one host; a cluster's pool: the hosts of that cluster.
      // A host of another cluster that reports the very store (the driver's pool identity: a datastore both clusters mount) reaches it too.
      if (need.poolId !== undefined && !request.moveDisks && !reachesPool(need, host) && !sameStore(need, pools())) return unreachedPool(need, pools(), state.clusterName(host.cluster_id));
      // An untagged need is there for its disk's pool alone, judged above.
      if (need.tags.length === 0) continue;
      // The pool this disk would be on from this host (the one a move would use), or why there is none.
      const judged = poolForNeed(need, pools(), request.moveDisks);
      if (judged.refusal) return judged.refusal;
    }
    return undefined;
  },
};

/**
 * The pool a tagged volume would be on if its VM ran on a host, or why it cannot be: one rule for
 * the storage-tags placement filter (each host's verdict at deploy, start, findHostsForMigration,
 * migrateVirtualMachine, importVm's choice of the host that receives a copy) and for the moves that
 * follow a verdict (an import with migrateallowed moves each disk to the very pool chosen here).
 *
 * - A disk not made yet gets the first enabled (Up) pool the host reaches with every tag (most free
 *   space first; pool-choice.ts placeTaggedVolumes makes it there at the start).
 * - A disk copied onto the host's default pool (importVm importsource=external) is judged on that pool.
 * - A made disk a move to another cluster carries (XenServer's migrate_send copies it onto the
 *   destination's default pool) is judged on that pool too, not on the pool it leaves.
 * - A made disk is judged on the pool it is on: the host must reach it (a pool of its cluster, or
 *   its own local one, or a record of the host's with the same store's identity: a datastore
 *   another cluster mounts too; tagged or not, unreachedPool says why not) and it must have the tags
 *   (on the host's record of that store).
 *   Only when disks may move (storage motion) does a host that fails that offer a pool with the tags
 *   instead, the one the move will use. Another tagged pool the host happens to have does not carry
 *   a disk that is somewhere else.
 *
 * A made disk staying on its pool is not refused for the pool being Disabled: disabling stops new
 * disks there (CloudStack's rule), not the use of the ones it has.
 */
import type { StorageNeed } from '../placement/types.js';
import { missingTags, parseTags, poolState, type StoragePoolRow } from './pool-records.js';
import { suitablePool } from './pool-choice.js';

export type NeedPool = { pool: StoragePoolRow; refusal?: undefined } | { pool?: undefined; refusal: string };

/** "kiln, fast-1 has ssd, old (Disabled)": what a host reaches, for the verdict. */
export function poolsWords(pools: readonly StoragePoolRow[]): string {
  if (pools.length === 0) return 'none recorded';
  return pools
    .map((p) => {
      const tags = parseTags(p.tags);
      const state = poolState(p);
      return `${p.name}${tags.length ? ` has ${tags.join(' ')}` : ''}${state === 'Up' ? '' : ` (${state})`}`;
    })
    .join(', ');
}

const tagWords = (tags: readonly string[]) => `storage tag${tags.length > 1 ? 's' : ''} ${tags.join(', ')}`;

/**
 * The host's default pool among POOLS for a disk that lands there (GOES: "ROOT-3 would be copied
 * onto the host's default pool"), or why it cannot: none recorded, not Up (a new disk there), or
 * without NEED's tags.
 */
function onDefaultPool(need: StorageNeed, pools: StoragePoolRow[], goes: string, why = ''): NeedPool {
  const pool = pools.find((p) => p.is_default === 1);
  if (!pool) return { refusal: `${goes}${why}, and it has none recorded (pools: ${poolsWords(pools)})` };
  const missing = missingTags(need.tags, pool);
  if (poolState(pool) !== 'Up') return { refusal: `${goes} ${pool.name}${why}, which is ${poolState(pool)}` };
  if (missing.length) return { refusal: `${goes} ${pool.name}${why}, which lacks ${tagWords(missing)} of ${need.offering}` };
  return { pool };
}

/** Where a made disk lands on a host of another cluster when the move carries it (PlacementRequest.carryDisks), or why it cannot. */
export function carriedPool(need: StorageNeed, pools: StoragePoolRow[]): NeedPool {
  return onDefaultPool(need, pools, `volume ${need.volume} would be carried onto this host's default pool`, ' (a move to another cluster copies its disks there)');
}

/** Whether HOST reaches the pool NEED's made disk is on: a local pool's own host, or any host of a cluster pool's cluster. */
export function reachesPool(need: StorageNeed, host: { id: number; cluster_id: number }): boolean {
  return need.local ? need.local.hostId === host.id : need.poolClusterId === host.cluster_id;
}

/**
 * The record among POOLS (a host's: its cluster's and its own local ones) of the very store NEED's
 * made disk is on, when the driver says which records are one store (storage_pools.identity: a
 * vSphere datastore both clusters' hosts mount) and this host reports it now (not Down): the disk
 * stays where it is and the VM runs there (vMotion without storage motion). Undefined: no such record.
 */
export function sameStore(need: StorageNeed, pools: readonly StoragePoolRow[]): StoragePoolRow | undefined {
  if (!need.poolIdentity) return undefined;
  return pools.find((p) => p.identity === need.poolIdentity && p.present === 1);
}

/**
 * Why a host that does not reach the pool NEED's made disk is on cannot run its VM with the disk
 * staying there (a start, or a move that carries no disk): another host's local pool, or a pool of
 * another cluster (a CLUSTER-scoped record is reached by the hosts of its cluster only). POOLS are
 * the host's, HOSTCLUSTER its cluster's name when the caller knows it.
 */
export function unreachedPool(need: StorageNeed, pools: StoragePoolRow[], hostCluster?: string): string {
  if (need.local) return `volume ${need.volume} is on local storage pool ${need.local.pool} of host ${need.local.host}, which this host does not reach; move the volume first (migrateVolume, or migrateVirtualMachineWithVolume with migrateto)`;
  const tagged = need.tags.length ? ` (${need.offering}, ${tagWords(need.tags)})` : '';
  return `volume ${need.volume}${tagged} is on ${need.poolName ? `pool ${need.poolName}, which` : 'a pool that'} this host${hostCluster ? ` (cluster ${hostCluster})` : ''} does not reach (it reaches ${poolsWords(pools)})`;
}

/** NEED's pool among POOLS (the host's, any state, most free space first), or the refusal naming the volume and the tags that failed. */
export function poolForNeed(need: StorageNeed, pools: StoragePoolRow[], moveDisks = false): NeedPool {
  if (need.onDefaultPool) return onDefaultPool(need, pools, `${need.volume} would be copied onto the host's default pool`);
  if (need.poolId !== undefined) {
    // The disk's own record, or this host's record of the same store (another cluster's view of it).
    const on = pools.find((p) => p.id === need.poolId) ?? sameStore(need, pools);
    const missing = on ? missingTags(need.tags, on) : need.tags;
    if (on && poolState(on) !== 'Down' && missing.length === 0) return { pool: on };
    if (!moveDisks) {
      if (!on) return { refusal: unreachedPool(need, pools) };
      if (poolState(on) === 'Down') return { refusal: `volume ${need.volume} is on pool ${on.name}, which is Down` };
      return { refusal: `volume ${need.volume} is on pool ${on.name}, which lacks ${tagWords(missing)} of ${need.offering}` };
    }
  }
  const pool = suitablePool(pools.filter((p) => poolState(p) === 'Up'), need.tags);
  if (pool) return { pool };
  return { refusal: `no enabled pool with ${tagWords(need.tags)} for volume ${need.volume} (${need.offering}; pools: ${poolsWords(pools)})` };
}

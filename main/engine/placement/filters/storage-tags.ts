/**
 * R48's storage half at placement: a host passes only if, for each of the VM's tagged volumes, it
 * reaches an enabled pool (Up) with every tag the volume's offerings ask for, or (a disk already
 * made) reaches the pool that disk is on, so a start keeps it there. The planner then never picks a
 * host whose disk creation would fail (pool-choice.ts placeTaggedVolumes, which still gives the
 * volume its pool on the chosen host after a fresh read of the pools).
 *
 * It reads the pool records only, never a host: tags exist only on records (updateStoragePool
 * writes them), so a pool Kiln has not read yet cannot have the tags anyway. A host whose driver
 * has no primaryStorage facet is judged as placeTaggedVolumes judges it: by the records of its
 * cluster (a cluster pool another host of it reports counts); with none it reaches no pool and a
 * tagged volume cannot go there ("pools: none recorded").
 */
import { missingTags, parseTags, poolState, type StoragePoolRow } from '../../storage/pool-records.js';
import type { Filter } from '../types.js';

/** "kiln, fast-1 has ssd, old (Disabled)": what the host reaches, for the verdict. */
function poolsWords(pools: StoragePoolRow[]): string {
  if (pools.length === 0) return 'none recorded';
  return pools
    .map((p) => {
      const tags = parseTags(p.tags);
      const state = poolState(p);
      return `${p.name}${tags.length ? ` has ${tags.join(' ')}` : ''}${state === 'Up' ? '' : ` (${state})`}`;
    })
    .join(', ');
}

export const storageTags: Filter = {
  name: 'storage-tags',
  check({ host }, request, state) {
    const needs = request.storageNeeds ?? [];
    if (needs.length === 0) return undefined;
    const pools = state.storagePools(host);
    const usable = pools.filter((p) => poolState(p) === 'Up');
    for (const need of needs) {
      // A disk on a host's local pool stays there: only that host (whose records hold the pool) can run it, enabled or not.
      if (need.local) {
        if (pools.some((p) => p.id === need.poolId)) continue;
        return `volume ${need.volume} is on local storage pool ${need.local.pool} of host ${need.local.host}, which this host does not reach; move the volume first (migrateVolume, or migrateVirtualMachineWithVolume with migrateto)`;
      }
      if (need.poolId !== undefined && usable.some((p) => p.id === need.poolId)) continue;
      if (usable.some((p) => missingTags(need.tags, p).length === 0)) continue;
      return `no enabled pool with storage tag${need.tags.length > 1 ? 's' : ''} ${need.tags.join(', ')} for volume ${need.volume} (${need.offering}; pools: ${poolsWords(pools)})`;
    }
    return undefined;
  },
};

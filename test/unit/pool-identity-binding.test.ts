/**
 * The storage-tags filter on a made disk whose pool record has an identity (the driver's
 * PrimaryStoragePool.identity: a vSphere datastore hosts of two clusters mount, one record per
 * cluster): a host of the other cluster that has a record of the same store, reported now, reaches
 * the disk (a compute-only move), and a tag is judged on that host's record of it; a host whose
 * cluster has no such record, or only one its hosts no longer report (Down), is refused with the
 * words that name the disk, the pool and what the host reaches. Records without an identity are
 * their own store even when their refs are equal (two KVM clusters' pools named "kiln").
 */
import { describe, expect, it } from 'vitest';
import { storageTags } from '../../main/engine/placement/filters/storage-tags.js';
import { restartScope } from '../../main/engine/placement/restart-scope.js';
import type { Candidate, PlacementRequest, PlacementState, StorageNeed } from '../../main/engine/placement/types.js';
import type { StoragePoolRow } from '../../main/engine/storage/pool-records.js';

const pool = (id: number, clusterId: number, over: Partial<StoragePoolRow> = {}): StoragePoolRow => ({
  id, uuid: `p-${id}`, name: 'LocalDS_0', zone_id: 1, pod_id: 1, cluster_id: clusterId, host_id: null, ref: 'datastore-11', type: 'VMFS', scope: 'CLUSTER', hypervisor: 'VMware',
  capacity_bytes: 100, used_bytes: 10, allocated_bytes: null, is_default: 0, identity: 'vcenter X datastore datastore-11', tags: '', enabled: 1, present: 1, last_seen: null, created: '', removed: null, ...over,
});

const clusters: Record<number, string> = { 1: 'C0', 2: 'C1' };
const state = (pools: StoragePoolRow[]): PlacementState => ({
  storagePools: (host: { id: number; cluster_id: number }) => pools.filter((p) => p.cluster_id === host.cluster_id && (p.scope === 'CLUSTER' || p.host_id === host.id)),
  clusterName: (id: number) => clusters[id] ?? `#${id}`,
}) as unknown as PlacementState;
const host = (id: number, clusterId: number) => ({ host: { id, cluster_id: clusterId, name: `h${id}` } }) as unknown as Candidate;
const request = (need: Partial<StorageNeed>): PlacementRequest => ({
  zoneId: 1, cpuNumber: 1, cpuSpeed: 100, memory: 1, hostTags: [], accountId: 1,
  storageNeeds: [{ volume: 'ROOT-7', tags: [], offering: 'service offering Small', poolId: 1, poolClusterId: 1, poolName: 'LocalDS_0 of cluster C0', ...need }],
});

describe('a made disk on a store two clusters share (pool identity)', () => {
  const shared = [pool(1, 1), pool(2, 2)];
  const identity = 'vcenter X datastore datastore-11';

  it('a host of the other cluster with a record of the same store passes; its own cluster passes as before', () => {
    expect(storageTags.check(host(20, 2), request({ poolIdentity: identity }), state(shared))).toBeUndefined();
    expect(storageTags.check(host(10, 1), request({ poolIdentity: identity }), state(shared))).toBeUndefined();
  });

  it('without an identity, equal refs in two clusters are two stores: the other cluster is refused, saying why', () => {
    const kvm = [pool(1, 1, { identity: null, name: 'kiln', ref: 'kiln' }), pool(2, 2, { identity: null, name: 'kiln', ref: 'kiln' })];
    expect(storageTags.check(host(20, 2), request({ poolName: 'kiln of cluster C0' }), state(kvm)))
      .toBe('volume ROOT-7 is on pool kiln of cluster C0, which this host (cluster C1) does not reach (it reaches kiln)');
  });

  it('a cluster whose record of the store is Down, or that has only other stores, is refused with the same words', () => {
    const down = [pool(1, 1), pool(2, 2, { present: 0 })];
    expect(storageTags.check(host(20, 2), request({ poolIdentity: identity }), state(down)))
      .toBe('volume ROOT-7 is on pool LocalDS_0 of cluster C0, which this host (cluster C1) does not reach (it reaches LocalDS_0 (Down))');
    const other = [pool(1, 1), pool(2, 2, { name: 'C1-only', ref: 'datastore-12', identity: 'vcenter X datastore datastore-12' })];
    expect(storageTags.check(host(20, 2), request({ poolIdentity: identity }), state(other)))
      .toBe('volume ROOT-7 is on pool LocalDS_0 of cluster C0, which this host (cluster C1) does not reach (it reaches C1-only)');
  });

  it('a host-scoped record of the store on the destination host itself (a datastore only that host of its cluster mounts) reaches it; another host of that cluster does not', () => {
    const pools = [pool(1, 1), pool(2, 2, { scope: 'HOST', host_id: 20 })];
    expect(storageTags.check(host(20, 2), request({ poolIdentity: identity }), state(pools))).toBeUndefined();
    expect(storageTags.check(host(21, 2), request({ poolIdentity: identity }), state(pools)))
      .toBe('volume ROOT-7 is on pool LocalDS_0 of cluster C0, which this host (cluster C1) does not reach (it reaches none recorded)');
  });

  it('a tagged disk is judged on the destination\'s record of the store: its tags there', () => {
    const need = { poolIdentity: identity, tags: ['ssd'], offering: 'service offering Fast' };
    expect(storageTags.check(host(20, 2), request(need), state([pool(1, 1, { tags: 'ssd' }), pool(2, 2, { tags: 'ssd' })]))).toBeUndefined();
    expect(storageTags.check(host(20, 2), request(need), state([pool(1, 1, { tags: 'ssd' }), pool(2, 2)])))
      .toBe('volume ROOT-7 is on pool LocalDS_0, which lacks storage tag ssd of service offering Fast');
  });

  it('an HA restart: a host-scoped record of a store other hosts report too binds the VM to no host (the filter judges them); one without an identity still binds it', () => {
    const local = { pool: 'LocalDS_0', host: 'h20', hostId: 20, clusterId: 2 };
    const scoped = restartScope(request({ poolIdentity: identity, local, poolId: 2, poolClusterId: 2 }), { id: 20, cluster_id: 2 });
    expect(scoped.request?.clusterId).toBe(2);
    const pools = [pool(2, 2, { scope: 'HOST', host_id: 20 }), pool(3, 2, { scope: 'HOST', host_id: 21 })];
    const need = scoped.request!;
    expect(storageTags.check(host(21, 2), need, state(pools))).toBeUndefined();
    expect(storageTags.check(host(22, 2), need, state(pools))).toMatch(/^volume ROOT-7 is on local storage pool LocalDS_0 of host h20, which this host does not reach/);
    expect(restartScope(request({ local, poolId: 2, poolClusterId: 2 }), { id: 20, cluster_id: 2 }).bound).toMatch(/^volume ROOT-7 is on local storage pool LocalDS_0 of host h20, which only that host reaches/);
  });
});

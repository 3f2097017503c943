/**
 * Storage-pool records filled from what the drivers publish (PrimaryStorageFacet). The engine never
 * asks which hypervisor a host runs: a host whose session has the facet reports its pools, one
 * without it has none in Kiln. A host's pools are recorded when its session opens (HostManager's
 * refresh), again every storage.stats.interval (refreshOpenPools, from the background tasks), and
 * before a job places or moves a disk by them (syncClusterPools). A list (listStoragePools,
 * findStoragePoolsForMigration) only reads the records: it never connects or waits on a host.
 *
 * A pool stays recorded when its hosts stop reporting it (present=0, state Down): its tags and
 * enabled flag are the admin's and come back with it. After each read, the free-text volumes.pool
 * (the driver's name for where a disk is) is mapped onto the records as volumes.pool_id; a disk
 * without a pool is on the host's default pool. A pool's identity (PrimaryStoragePool.identity) is
 * recorded with it: records of several clusters with one identity are one store (need-pool.ts).
 */
import { randomUUID } from 'node:crypto';
import type { PrimaryStoragePool } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import type { StoragePoolRow } from './pool-records.js';
import { PAGE_IDS } from '../registry/list-page.js';
import { withDeadline } from '../hosts/fan-out.js';

interface HostReport {
  hostId: number;
  clusterId: number;
  pools: PrimaryStoragePool[];
}

/**
 * Which hosts a sync reads: 'connect' connects a host that has no session yet (a job about to
 * place a disk); 'open' reads only hosts whose session is open, the others keep their recorded
 * pools (the periodic refresh: it never connects, which Kiln does at start, in the background).
 */
export type PoolSessions = 'connect' | 'open';

/**
 * The pools one host reported, recorded as syncAllPools records them: what the refresh at a
 * session's opening hands over (it read them beside the host's capacity).
 */
export function recordHostPools(db: Db, hostId: number, clusterId: number, pools: PrimaryStoragePool[]): void {
  recordPools(db, [{ hostId, clusterId, pools }]);
}

/**
 * The periodic refresh: every host whose session is open is read, each under host.check.timeout,
 * so a host that does not answer (a cut link: the session stays open, its commands hang) holds
 * back neither the others' records nor the next run; its own records stay as last read.
 */
export async function refreshOpenPools(engine: Engine): Promise<void> {
  await syncAllPools(engine, undefined, 'open', Math.max(1, engine.settings.int('host.check.timeout')) * 1000);
}

/** Reads the pools of every Up host of CLUSTERID that publishes them, and records them. Hosts that fail to answer are skipped. */
export async function syncClusterPools(engine: Engine, clusterId: number, sessions: PoolSessions = 'connect'): Promise<void> {
  await syncAllPools(engine, [clusterId], sessions);
}

/**
 * The pools of every Up host of CLUSTERIDS (all clusters when undefined), asked in parallel and
 * recorded in one batch: the same few statements however many clusters, hosts, pools and volumes
 * there are, so a list that refreshes before it answers (listStoragePools) stays bounded.
 */
export async function syncAllPools(engine: Engine, clusterIds?: number[], sessions: PoolSessions = 'connect', deadlineMs?: number): Promise<void> {
  const db = engine.db;
  const hosts = (
    clusterIds
      ? db.prepare(`SELECT id, cluster_id FROM hosts WHERE cluster_id ${PAGE_IDS} AND removed IS NULL AND state='Up' ORDER BY id`).all(JSON.stringify(clusterIds))
      : db.prepare(`SELECT id, cluster_id FROM hosts WHERE removed IS NULL AND state='Up' ORDER BY id`).all()
  ) as { id: number; cluster_id: number }[];
  const reports = await Promise.all(
    hosts.map(async (host): Promise<HostReport | undefined> => {
      try {
        const session = sessions === 'open' ? engine.hosts.openSession(host.id) : await engine.hosts.session(host.id);
        if (!session?.primaryStorage) return undefined;
        const read = session.primaryStorage.pools();
        return { hostId: host.id, clusterId: host.cluster_id, pools: await (deadlineMs === undefined ? read : withDeadline(read, deadlineMs, `the pools of host ${host.id}`)) };
      } catch {
        // A host that cannot answer now changes nothing; its pools keep their last state.
        return undefined;
      }
    }),
  );
  const answered = reports.filter((r): r is HostReport => r !== undefined);
  if (answered.length === 0) return;
  recordPools(db, answered);
}

type ExistingPool = Pick<StoragePoolRow, 'id' | 'cluster_id' | 'host_id' | 'ref' | 'name' | 'type' | 'scope' | 'capacity_bytes' | 'used_bytes' | 'allocated_bytes' | 'is_default' | 'identity' | 'present'>;

/** The columns a report sets, in the order the batch statements read them from JSON. */
interface PoolReport {
  name: string; type: string; scope: string; capacity: number; used: number; allocated: number | null; isDefault: number; identity: string | null;
}

/** REPORTS (clusters with at least one host that answered) written in one transaction of a fixed number of statements. */
function recordPools(db: Db, reports: HostReport[]): void {
  const clusterIds = [...new Set(reports.map((r) => r.clusterId))];
  const at = now();
  db.transaction(() => {
    const clusters = new Map(
      (db.prepare(`SELECT id, zone_id, pod_id, hypervisor FROM clusters WHERE id ${PAGE_IDS}`).all(JSON.stringify(clusterIds)) as { id: number; zone_id: number; pod_id: number; hypervisor: string }[]).map((c) => [c.id, c]),
    );
    const existing = db
      .prepare(`SELECT id, cluster_id, host_id, ref, name, type, scope, capacity_bytes, used_bytes, allocated_bytes, is_default, identity, present FROM storage_pools WHERE cluster_id ${PAGE_IDS} AND removed IS NULL ORDER BY id`)
      .all(JSON.stringify(clusterIds)) as ExistingPool[];
    const key = (clusterId: number, hostId: number | null, ref: string) => JSON.stringify([clusterId, hostId ?? 0, ref]);
    const byKey = new Map<string, ExistingPool>();
    for (const pool of existing) if (!byKey.has(key(pool.cluster_id, pool.host_id, pool.ref))) byKey.set(key(pool.cluster_id, pool.host_id, pool.ref), pool);
    // The first host to report a pool decides its record; later reports of it (a cluster's pool seen by every host) change nothing.
    const seen = new Set<string>();
    const updates: (PoolReport & { id: number })[] = [];
    const inserts: (PoolReport & { uuid: string; zoneId: number; podId: number; clusterId: number; hostId: number | null; ref: string; hypervisor: string })[] = [];
    for (const report of reports) {
      for (const pool of report.pools) {
        const hostId = pool.scope === 'HOST' ? report.hostId : null;
        const k = key(report.clusterId, hostId, pool.ref);
        if (seen.has(k)) continue;
        seen.add(k);
        const values: PoolReport = { name: pool.name, type: pool.type, scope: pool.scope, capacity: pool.capacityBytes, used: pool.usedBytes, allocated: pool.allocatedBytes ?? null, isDefault: pool.isDefault ? 1 : 0, identity: pool.identity ?? null };
        const row = byKey.get(k);
        if (!row) {
          const cluster = clusters.get(report.clusterId)!;
          inserts.push({ ...values, uuid: randomUUID(), zoneId: cluster.zone_id, podId: cluster.pod_id, clusterId: report.clusterId, hostId, ref: pool.ref, hypervisor: cluster.hypervisor });
        } else if (changed(row, values)) {
          // Only a pool whose report changed is written (a read that finds everything as it was writes nothing).
          updates.push({ ...values, id: row.id });
        }
      }
    }
    db.prepare(
      `UPDATE storage_pools SET name=j.value->>'name', type=j.value->>'type', scope=j.value->>'scope', capacity_bytes=j.value->>'capacity', used_bytes=j.value->>'used',
         allocated_bytes=j.value->>'allocated', is_default=j.value->>'isDefault', identity=j.value->>'identity', present=1, last_seen=? FROM json_each(?) j WHERE storage_pools.id=j.value->>'id'`,
    ).run(at, JSON.stringify(updates));
    db.prepare(
      `INSERT INTO storage_pools (uuid, name, zone_id, pod_id, cluster_id, host_id, ref, type, scope, hypervisor, capacity_bytes, used_bytes, allocated_bytes, is_default, identity, last_seen, created)
       SELECT j.value->>'uuid', j.value->>'name', j.value->>'zoneId', j.value->>'podId', j.value->>'clusterId', j.value->>'hostId', j.value->>'ref', j.value->>'type', j.value->>'scope',
         j.value->>'hypervisor', j.value->>'capacity', j.value->>'used', j.value->>'allocated', j.value->>'isDefault', j.value->>'identity', ?, ? FROM json_each(?) j ORDER BY j.key`,
    ).run(at, at, JSON.stringify(inserts));
    // What the hosts that answered no longer report is Down (a cluster's pool: no answering host has it).
    const answered = new Set(reports.map((r) => r.hostId));
    const gone = existing.filter((p) => p.present === 1 && !seen.has(key(p.cluster_id, p.host_id, p.ref)) && (p.host_id === null || answered.has(p.host_id))).map((p) => p.id);
    db.prepare(`UPDATE storage_pools SET present=0 WHERE id ${PAGE_IDS}`).run(JSON.stringify(gone));
    mapVolumes(db, clusterIds);
  })();
}

function changed(row: ExistingPool, report: PoolReport): boolean {
  return row.name !== report.name || row.type !== report.type || row.scope !== report.scope || row.capacity_bytes !== report.capacity || row.used_bytes !== report.used
    || row.allocated_bytes !== report.allocated || row.is_default !== report.isDefault || row.identity !== report.identity || row.present !== 1;
}

/**
 * volumes.pool_id from volumes.pool: the record of the cluster whose ref or name is the volume's
 * pool text, the one of the volume's host for a local pool; a made disk without pool text is on
 * its host's default pool. Volumes not made yet (Allocated, Creating) have none until one is chosen.
 * A cluster without pool records keeps its volumes' pool_id as it is. Three statements for all CLUSTERIDS.
 * VOLUMEIDS: only these volumes (the ones an import just wrote), looked up by id rather than every
 * volume of the clusters (a bulk import's rows each read the whole cluster's; bench csv-bulk).
 */
export function mapVolumes(db: Db, clusterIds: readonly number[], volumeIds?: readonly number[]): void {
  const pools = db.prepare(`SELECT * FROM storage_pools WHERE cluster_id ${PAGE_IDS} AND removed IS NULL ORDER BY id`).all(JSON.stringify(clusterIds)) as StoragePoolRow[];
  const byCluster = new Map<number, StoragePoolRow[]>();
  for (const pool of pools) byCluster.set(pool.cluster_id, [...(byCluster.get(pool.cluster_id) ?? []), pool]);
  const volumes = db
    .prepare(
      `SELECT v.id, v.pool, v.state, v.pool_id, COALESCE(vm.host_id, vm.last_host_id, v.host_id) AS host_id,
         CASE WHEN vm.id IS NULL THEN h.cluster_id ELSE vm.cluster_id END AS cluster_id FROM volumes v
         LEFT JOIN vm_instances vm ON vm.id=v.vm_id
         LEFT JOIN hosts h ON h.id=COALESCE(vm.host_id, vm.last_host_id, v.host_id)
       WHERE v.removed IS NULL AND (CASE WHEN vm.id IS NULL THEN h.cluster_id ELSE vm.cluster_id END) ${PAGE_IDS}${volumeIds ? ` AND v.id ${PAGE_IDS}` : ''}`,
    )
    .all(...[JSON.stringify(clusterIds), ...(volumeIds ? [JSON.stringify(volumeIds)] : [])]) as { id: number; pool: string | null; state: string; pool_id: number | null; host_id: number | null; cluster_id: number }[];
  const moves: [number, number | null][] = [];
  for (const v of volumes) {
    const clusterPools = byCluster.get(v.cluster_id);
    if (!clusterPools) continue;
    const onHost = clusterPools.filter((p) => p.scope === 'CLUSTER' || (v.host_id !== null && p.host_id === v.host_id));
    const match = v.pool !== null ? onHost.find((p) => p.ref === v.pool) ?? onHost.find((p) => p.name === v.pool) : v.state !== 'Allocated' && v.state !== 'Creating' ? onHost.find((p) => p.is_default === 1) : undefined;
    const id = match?.id ?? null;
    if (id !== v.pool_id) moves.push([v.id, id]);
  }
  db.prepare(`UPDATE volumes SET pool_id=j.value->>1 FROM json_each(?) j WHERE volumes.id=j.value->>0`).run(JSON.stringify(moves));
}

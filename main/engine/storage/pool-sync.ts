/**
 * Storage-pool records filled from what the drivers publish (PrimaryStorageFacet). The engine never
 * asks which hypervisor a host runs: a host whose session has the facet reports its pools, one
 * without it has none in Kiln. A cluster is read on demand (listStoragePools, a placement that needs
 * tags), so hosts that never use tags cost nothing.
 *
 * A pool stays recorded when its hosts stop reporting it (present=0, state Down): its tags and
 * enabled flag are the admin's and come back with it. After each read, the free-text volumes.pool
 * (the driver's name for where a disk is) is mapped onto the records as volumes.pool_id; a disk
 * without a pool is on the host's default pool.
 */
import { randomUUID } from 'node:crypto';
import type { PrimaryStoragePool } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import type { StoragePoolRow } from './pool-records.js';

interface HostReport {
  hostId: number;
  pools: PrimaryStoragePool[];
}

/** Reads the pools of every Up host of CLUSTERID that publishes them, and records them. Hosts that fail to answer are skipped. */
export async function syncClusterPools(engine: Engine, clusterId: number): Promise<void> {
  const db = engine.db;
  const hosts = db.prepare(`SELECT id FROM hosts WHERE cluster_id=? AND removed IS NULL AND state='Up' ORDER BY id`).pluck().all(clusterId) as number[];
  const reports = await Promise.all(
    hosts.map(async (hostId): Promise<HostReport | undefined> => {
      try {
        const session = await engine.hosts.session(hostId);
        return session.primaryStorage ? { hostId, pools: await session.primaryStorage.pools() } : undefined;
      } catch {
        // A host that cannot answer now changes nothing; its pools keep their last state.
        return undefined;
      }
    }),
  );
  const answered = reports.filter((r): r is HostReport => r !== undefined);
  if (answered.length === 0) return;
  recordPools(db, clusterId, answered);
}

/** Every cluster that has a host (listStoragePools without a cluster), one after another. */
export async function syncAllPools(engine: Engine, clusterIds?: number[]): Promise<void> {
  const ids = clusterIds ?? (engine.db.prepare(`SELECT DISTINCT cluster_id FROM hosts WHERE removed IS NULL`).pluck().all() as number[]);
  await Promise.all(ids.map((id) => syncClusterPools(engine, id)));
}

function recordPools(db: Db, clusterId: number, reports: HostReport[]): void {
  const cluster = db.prepare('SELECT id, zone_id, pod_id, hypervisor FROM clusters WHERE id=?').get(clusterId) as { id: number; zone_id: number; pod_id: number; hypervisor: string };
  const at = now();
  db.transaction(() => {
    const seen = new Set<number>();
    const find = db.prepare(`SELECT id FROM storage_pools WHERE cluster_id=? AND IFNULL(host_id, 0)=? AND ref=? AND removed IS NULL`).pluck();
    // Only a pool whose report changed is written (a read that finds everything as it was writes nothing).
    const update = db.prepare(
      `UPDATE storage_pools SET name=@name, type=@type, scope=@scope, capacity_bytes=@capacity, used_bytes=@used, allocated_bytes=@allocated, is_default=@isDefault, present=1, last_seen=@at WHERE id=@id
         AND (name IS NOT @name OR type IS NOT @type OR scope IS NOT @scope OR capacity_bytes IS NOT @capacity OR used_bytes IS NOT @used OR allocated_bytes IS NOT @allocated OR is_default IS NOT @isDefault OR present<>1)`,
    );
    const insert = db.prepare(
      `INSERT INTO storage_pools (uuid, name, zone_id, pod_id, cluster_id, host_id, ref, type, scope, hypervisor, capacity_bytes, used_bytes, allocated_bytes, is_default, last_seen, created)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    for (const report of reports) {
      for (const pool of report.pools) {
        const hostId = pool.scope === 'HOST' ? report.hostId : null;
        const existing = find.get(clusterId, hostId ?? 0, pool.ref) as number | undefined;
        if (existing !== undefined) {
          if (!seen.has(existing)) update.run({ name: pool.name, type: pool.type, scope: pool.scope, capacity: pool.capacityBytes, used: pool.usedBytes, allocated: pool.allocatedBytes ?? null, isDefault: pool.isDefault ? 1 : 0, at, id: existing });
          seen.add(existing);
        } else {
          const id = Number(insert.run(randomUUID(), pool.name, cluster.zone_id, cluster.pod_id, clusterId, hostId, pool.ref, pool.type, pool.scope, cluster.hypervisor, pool.capacityBytes, pool.usedBytes, pool.allocatedBytes ?? null, pool.isDefault ? 1 : 0, at, at).lastInsertRowid);
          seen.add(id);
        }
      }
    }
    // What the hosts that answered no longer report is Down (a cluster's pool: no answering host has it).
    const answered = new Set(reports.map((r) => r.hostId));
    const rows = db.prepare('SELECT id, host_id FROM storage_pools WHERE cluster_id=? AND removed IS NULL AND present=1').all(clusterId) as { id: number; host_id: number | null }[];
    for (const row of rows) {
      if (!seen.has(row.id) && (row.host_id === null || answered.has(row.host_id))) db.prepare('UPDATE storage_pools SET present=0 WHERE id=?').run(row.id);
    }
    mapVolumes(db, clusterId);
  })();
}

/**
 * volumes.pool_id from volumes.pool: the record of the cluster whose ref or name is the volume's
 * pool text, the one of the volume's host for a local pool; a made disk without pool text is on
 * its host's default pool. Volumes not made yet (Allocated, Creating) have none until one is chosen.
 */
export function mapVolumes(db: Db, clusterId: number): void {
  const pools = db.prepare('SELECT * FROM storage_pools WHERE cluster_id=? AND removed IS NULL').all(clusterId) as StoragePoolRow[];
  if (pools.length === 0) return;
  const volumes = db
    .prepare(
      `SELECT v.id, v.pool, v.state, v.pool_id, COALESCE(vm.host_id, vm.last_host_id, v.host_id) AS host_id FROM volumes v
         LEFT JOIN vm_instances vm ON vm.id=v.vm_id
         LEFT JOIN hosts h ON h.id=COALESCE(vm.host_id, vm.last_host_id, v.host_id)
       WHERE v.removed IS NULL AND (vm.cluster_id=? OR (vm.id IS NULL AND h.cluster_id=?))`,
    )
    .all(clusterId, clusterId) as { id: number; pool: string | null; state: string; pool_id: number | null; host_id: number | null }[];
  const set = db.prepare('UPDATE volumes SET pool_id=? WHERE id=?');
  for (const v of volumes) {
    const onHost = pools.filter((p) => p.scope === 'CLUSTER' || (v.host_id !== null && p.host_id === v.host_id));
    const match = v.pool !== null ? onHost.find((p) => p.ref === v.pool) ?? onHost.find((p) => p.name === v.pool) : v.state !== 'Allocated' && v.state !== 'Creating' ? onHost.find((p) => p.is_default === 1) : undefined;
    const id = match?.id ?? null;
    if (id !== v.pool_id) set.run(id, v.id);
  }
}

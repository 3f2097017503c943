/**
 * Primary storage records (CloudStack's storage_pool, migration 36): what a row holds, how tags are
 * read and compared, and the listStoragePools / findStoragePoolsForMigration response object.
 * One tag rule serves placement, import and the views: a volume's required tags must all be on
 * the pool (CloudStack's "offering tags are a subset of the pool's tags").
 */
import type { Db } from '../db/database.js';
import { csDate } from '../format.js';

export interface StoragePoolRow {
  id: number;
  uuid: string;
  name: string;
  zone_id: number;
  pod_id: number | null;
  cluster_id: number;
  /** HOST scope: the one host that reaches the pool; NULL for a cluster's pool. */
  host_id: number | null;
  ref: string;
  type: string;
  scope: 'CLUSTER' | 'HOST';
  hypervisor: string;
  capacity_bytes: number;
  used_bytes: number;
  allocated_bytes: number | null;
  is_default: number;
  /** The store across records (PrimaryStoragePool.identity): records with one identity are one store, reached by each record's hosts. NULL: unknown. */
  identity?: string | null;
  tags: string;
  enabled: number;
  /** 0: the last read of the cluster's hosts did not report it (state Down). */
  present: number;
  /** When its report last changed (a read that finds it as it was writes nothing). */
  last_seen: string | null;
  created: string;
  removed: string | null;
}

/** "a, b,,c" -> ['a','b','c']: a comma-separated tag list as CloudStack stores it. */
export function parseTags(text: string | null | undefined): string[] {
  return [...new Set((text ?? '').split(',').map((t) => t.trim()).filter(Boolean))];
}

/** The REQUIRED tags POOL lacks (none: the pool suits). */
export function missingTags(required: readonly string[], pool: Pick<StoragePoolRow, 'tags'>): string[] {
  const have = new Set(parseTags(pool.tags));
  return required.filter((t) => !have.has(t));
}

/** CloudStack's pool state: Disabled by the admin, Down when its hosts no longer report it, else Up. */
export function poolState(pool: Pick<StoragePoolRow, 'enabled' | 'present'>): 'Up' | 'Disabled' | 'Down' {
  if (pool.enabled !== 1) return 'Disabled';
  return pool.present === 1 ? 'Up' : 'Down';
}

/** Pools a volume on HOSTID may use: the cluster's own and the host's local ones, Up, most free space first. */
export function poolsReachableFrom(db: Db, hostId: number): StoragePoolRow[] {
  return db
    .prepare(
      `SELECT p.* FROM storage_pools p JOIN hosts h ON h.id=? WHERE p.removed IS NULL AND p.enabled=1 AND p.present=1
         AND p.cluster_id=h.cluster_id AND (p.scope='CLUSTER' OR p.host_id=h.id) ORDER BY (p.capacity_bytes - p.used_bytes) DESC, p.id`,
    )
    .all(hostId) as StoragePoolRow[];
}

/** "pool kiln (tags ssd)" / "pool kiln (no tags)", for refusals that say what there is. */
/**
 * Why a volume whose disk is on HOST cannot move to POOL (undefined: it can): the pool is not Up,
 * it is another host's local storage, or it lacks a storage tag of the volume's offering (NEED).
 * One rule for findStoragePoolsForMigration's notsuitablereason and migrateVolume's refusal.
 * ACROSSHOSTS (storage/volume-moves.ts acrossHosts): true when the volume may go to another host's local
 * pool (its VM moving there with it), else why not.
 */
export function migrationRefusal(pool: Pick<StoragePoolRow, 'enabled' | 'present' | 'scope' | 'host_id' | 'tags'> & { hostname: string | null }, host: { id: number; name: string }, need: { tags: string[]; offering?: string }, acrossHosts?: true | string): string | undefined {
  const missing = missingTags(need.tags, pool);
  const state = poolState(pool);
  if (state !== 'Up') return `the pool is ${state}`;
  if (pool.scope === 'HOST' && pool.host_id !== host.id && acrossHosts !== true) return `it is local storage of host ${pool.hostname}, and the volume's disk is on host ${host.name}${acrossHosts ? ` (${acrossHosts})` : ''}`;
  if (missing.length) return `it lacks storage tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${need.offering}`;
  return undefined;
}

export function poolText(pool: Pick<StoragePoolRow, 'name' | 'tags'>): string {
  const tags = parseTags(pool.tags);
  return `${pool.name} (${tags.length ? `tags ${tags.join(', ')}` : 'no tags'})`;
}

/** The columns poolView reads besides the row's own: the names of its zone, pod, cluster and host. */
export const POOL_SELECT = `p.*, z.uuid AS zoneuuid, z.name AS zonename, pd.uuid AS poduuid, pd.name AS podname, c.uuid AS clusteruuid, c.name AS clustername, h.uuid AS hostuuid, h.name AS hostname`;
export const POOL_FROM = `FROM storage_pools p JOIN zones z ON z.id=p.zone_id LEFT JOIN pods pd ON pd.id=p.pod_id JOIN clusters c ON c.id=p.cluster_id LEFT JOIN hosts h ON h.id=p.host_id`;

export type PoolViewRow = StoragePoolRow & { zoneuuid: string; zonename: string; poduuid: string | null; podname: string | null; clusteruuid: string; clustername: string; hostuuid: string | null; hostname: string | null };

/** CloudStack's StoragePoolResponse; disksizeallocated is the volumes Kiln placed there when the hypervisor does not say. */
export function poolView(row: PoolViewRow, allocatedByVolumes: number): Record<string, unknown> {
  return {
    id: row.uuid,
    name: row.name,
    zoneid: row.zoneuuid,
    zonename: row.zonename,
    ...(row.poduuid ? { podid: row.poduuid, podname: row.podname } : {}),
    clusterid: row.clusteruuid,
    clustername: row.clustername,
    // Kiln: the one host of a local (HOST-scoped) pool.
    ...(row.hostuuid ? { hostid: row.hostuuid, hostname: row.hostname } : {}),
    type: row.type,
    scope: row.scope,
    hypervisor: row.hypervisor,
    state: poolState(row),
    path: row.ref,
    disksizetotal: row.capacity_bytes,
    disksizeused: row.used_bytes,
    disksizeallocated: row.allocated_bytes ?? allocatedByVolumes,
    ...(row.tags ? { tags: parseTags(row.tags).join(',') } : {}),
    istagarule: false,
    managed: false,
    created: csDate(row.created),
  };
}

/** Bytes of the live volumes recorded on each pool (pool_id), for disksizeallocated. */
export function allocatedBytes(db: Db, poolIds: number[]): Map<number, number> {
  if (poolIds.length === 0) return new Map();
  const rows = db
    .prepare(`SELECT pool_id, SUM(size) AS bytes FROM volumes WHERE removed IS NULL AND pool_id IN (${poolIds.map(() => '?').join(',')}) GROUP BY pool_id`)
    .all(...poolIds) as { pool_id: number; bytes: number }[];
  return new Map(rows.map((r) => [r.pool_id, r.bytes]));
}

/**
 * Storage tags as updateStoragePool and the offerings take them: comma-separated words of letters,
 * digits and `_ . : -` (empty clears). Published by listApis, so the UI refuses the same values.
 */
export const STORAGE_TAGS_RULE = {
  pattern: '^(?:[A-Za-z0-9_.:-]{1,64}(?: *, *[A-Za-z0-9_.:-]{1,64})*)?$',
  message: 'is not a list of storage tags: comma-separated words of letters, digits and _ . : - (at most 64 characters each)',
};

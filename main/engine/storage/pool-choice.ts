/**
 * Storage tags when a volume is placed (CloudStack's storage allocators with tags): a volume's
 * required tags — its disk offering's, and for a root disk the service offering's storage tags —
 * must all be on the pool it goes to. A volume without required tags keeps going where the driver
 * puts it by default (no pool named), as before; only a tagged one is given a pool here, before its
 * disk is made (the VM's define at start, or an attach that creates it).
 */
import { MIGRATE_ALLOWED_DETAIL, vouchCovers } from '../import/adopted-moves.js';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import { missingTags, parseTags, poolsReachableFrom, poolText, type StoragePoolRow } from './pool-records.js';
import { syncClusterPools } from './pool-sync.js';
import type { StorageNeed } from '../placement/types.js';
import { PAGE_IDS } from '../registry/list-page.js';

/** What a volume needs of its pool, and which offering says so (for refusals that name it). */
export interface VolumeTags {
  tags: string[];
  /** "disk offering fast" / "service offering big". */
  offering?: string;
}

interface TagRow {
  volume_type: string;
  disk_offering: string | null;
  disk_tags: string | null;
  service_offering: string | null;
  service_tags: string | null;
}

const TAG_SELECT = `SELECT v.id, v.vm_id, v.name, v.state, v.pool_id, v.device_id, v.volume_type, d.name AS disk_offering, d.tags AS disk_tags, s.name AS service_offering, s.storage_tags AS service_tags
  FROM volumes v LEFT JOIN disk_offerings d ON d.id=v.disk_offering_id LEFT JOIN vm_instances vm ON vm.id=v.vm_id LEFT JOIN service_offerings s ON s.id=vm.service_offering_id`;

/** A volume's required tags from its offerings: its disk offering's, and a root disk's service offering's as well. */
export function tagsOf(row: TagRow): VolumeTags {
  const disk = parseTags(row.disk_tags);
  const service = row.volume_type === 'ROOT' ? parseTags(row.service_tags) : [];
  const tags = [...new Set([...service, ...disk])];
  const offering = service.length ? `service offering ${row.service_offering}` : disk.length ? `disk offering ${row.disk_offering}` : undefined;
  return { tags, ...(offering ? { offering } : {}) };
}

/** The storage tags VOLUMEID requires: its disk offering's, and a root disk's service offering's as well. */
export function requiredTags(db: Db, volumeId: number): VolumeTags {
  const row = db.prepare(`${TAG_SELECT} WHERE v.id=?`).get(volumeId) as TagRow | undefined;
  return row ? tagsOf(row) : { tags: [] };
}

/**
 * What placement must find on a host for VMID's volumes (one statement for all of them): each
 * tagged volume, with the pool a made disk already sits on (a disk not made yet has none).
 */
export function vmStorageNeeds(db: Db, vmId: number): StorageNeed[] {
  return vmsStorageNeeds(db, [vmId]).get(vmId) ?? [];
}

/**
 * vmStorageNeeds of several VMs in one statement, by VM id: each tagged volume, and each made disk
 * on a recorded pool, tagged or not: a host's local pool (HOST scope), which only that host
 * reaches, or a cluster's pool, which only that cluster's hosts reach; so the VM starts or moves
 * only there unless the disk moves (a VM without either has none).
 */
export function vmsStorageNeeds(db: Db, vmIds: readonly number[], except: ReadonlySet<number> = new Set()): Map<number, StorageNeed[]> {
  const rows = db
    .prepare(`SELECT t.*, p.scope AS pool_scope, p.name AS pool_name, p.cluster_id AS pool_cluster, p.host_id AS pool_host_id, p.identity AS pool_identity, pc.name AS pool_cluster_name, ph.name AS pool_host, vd.value AS vouched FROM (${TAG_SELECT} WHERE v.vm_id ${PAGE_IDS} AND v.removed IS NULL) t
      LEFT JOIN storage_pools p ON p.id=t.pool_id LEFT JOIN clusters pc ON pc.id=p.cluster_id LEFT JOIN hosts ph ON ph.id=p.host_id
      LEFT JOIN vm_details vd ON vd.vm_id=t.vm_id AND vd.name=? ORDER BY t.vm_id, t.device_id`)
    .all(JSON.stringify(vmIds), MIGRATE_ALLOWED_DETAIL) as (TagRow & { id: number; vm_id: number; name: string; state: string; pool_id: number | null; pool_scope: string | null; pool_name: string | null; pool_cluster: number | null; pool_cluster_name: string | null; pool_host: string | null; pool_host_id: number | null; pool_identity: string | null; vouched: string | null })[];
  const needs = new Map<number, StorageNeed[]>();
  for (const row of rows) {
    // A volume whose disk is being moved (migrateto) needs its new pool, which the move names.
    if (except.has(row.id)) continue;
    const need = tagsOf(row);
    // An imported VM whose admin vouched that its disks are reachable from the other hosts
    // (migrateallowed=true, adopted-moves.ts) is not bound by where they are recorded, the same
    // statement that lets adoptedPin let it go; its tags are judged as an unplaced disk's. Only
    // the disks the vouch still covers: one Kiln has moved since is where Kiln's move put it.
    const made = row.state !== 'Allocated' && row.state !== 'Creating' && row.pool_id !== null && !vouchCovers(row.vouched, row.id);
    const local = made && row.pool_scope === 'HOST' ? { pool: row.pool_name ?? '', host: row.pool_host ?? '', hostId: row.pool_host_id ?? 0, clusterId: row.pool_cluster ?? 0 } : undefined;
    // A made disk binds its VM to the hosts that reach its pool, tagged or not (pool records are CLUSTER or HOST scoped; there is no ZONE-wide one to let every cluster in).
    if (need.tags.length === 0 && !(made && row.pool_scope !== null)) continue;
    needs.set(row.vm_id, [...(needs.get(row.vm_id) ?? []), { volume: row.name, tags: need.tags, offering: need.offering ?? '', ...(made ? { poolId: row.pool_id!, ...(row.pool_cluster !== null ? { poolClusterId: row.pool_cluster } : {}), ...(row.pool_identity ? { poolIdentity: row.pool_identity } : {}), ...(row.pool_name ? { poolName: `${row.pool_name}${row.pool_cluster_name ? ` of cluster ${row.pool_cluster_name}` : ''}` } : {}) } : {}), ...(local ? { local } : {}) }]);
  }
  return needs;
}

/** The needs of a VM not written yet (deploy's check before anything is): its root disk, and its data disk. */
export function offeringStorageNeeds(service: { name: string; storage_tags: string }, disk: { name: string; tags: string } | undefined, rootFromDisk: boolean): StorageNeed[] {
  const root = tagsOf({ volume_type: 'ROOT', service_offering: service.name, service_tags: service.storage_tags, disk_offering: rootFromDisk ? disk?.name ?? null : null, disk_tags: rootFromDisk ? disk?.tags ?? null : null });
  const data = disk && !rootFromDisk ? tagsOf({ volume_type: 'DATADISK', service_offering: null, service_tags: null, disk_offering: disk.name, disk_tags: disk.tags }) : { tags: [] };
  return [
    ...(root.tags.length ? [{ volume: 'the root volume', tags: root.tags, offering: root.offering ?? '' }] : []),
    ...(data.tags.length ? [{ volume: 'the data volume', tags: data.tags, offering: data.offering ?? '' }] : []),
  ];
}

/** The pool of POOLS with every tag of REQUIRED (the first: most free space), or undefined. */
export function suitablePool(pools: StoragePoolRow[], required: readonly string[]): StoragePoolRow | undefined {
  return pools.find((p) => missingTags(required, p).length === 0);
}

/**
 * Gives each of VM's volumes that is not made yet and has required tags a pool on HOST that has
 * them (volumes.pool = the pool's ref, pool_id). ONLY limits it to those volume ids. Throws 533
 * naming the volume, the offering, the tags and the pools there are when no pool suits; nothing
 * is written then.
 */
export async function placeTaggedVolumes(engine: Engine, vmId: number, host: { id: number; name: string; cluster_id: number }, only?: number[]): Promise<void> {
  const db = engine.db;
  // Not made yet: no pool chosen, or (a start that failed on another host) another host's local pool.
  const unmade = `SELECT id, name FROM volumes WHERE vm_id=? AND removed IS NULL AND state IN ('Allocated','Creating')
    AND (pool IS NULL OR pool_id IN (SELECT id FROM storage_pools WHERE scope='HOST' AND host_id<>?)) ORDER BY device_id`;
  const candidates = (db.prepare(unmade).all(vmId, host.id) as { id: number; name: string }[])
    .filter((v) => !only || only.includes(v.id))
    .map((v) => ({ ...v, need: requiredTags(db, v.id) }))
    .filter((v) => v.need.tags.length > 0);
  if (candidates.length === 0) return;
  await syncClusterPools(engine, host.cluster_id);
  const pools = poolsReachableFrom(db, host.id);
  const choices = candidates.map((v) => {
    const pool = suitablePool(pools, v.need.tags);
    if (!pool) {
      throw ApiError.capacity(
        `volume ${v.name} needs storage tag${v.need.tags.length > 1 ? 's' : ''} ${v.need.tags.join(', ')} (${v.need.offering}), and no enabled storage pool host ${host.name} reaches has ${v.need.tags.length > 1 ? 'them all' : 'it'} (${pools.length ? `it has ${pools.map(poolText).join('; ')}` : 'it reports none'}); tag a pool with updateStoragePool`,
      );
    }
    return { volumeId: v.id, pool };
  });
  const set = db.prepare('UPDATE volumes SET pool=?, pool_id=? WHERE id=?');
  db.transaction(() => {
    for (const c of choices) set.run(c.pool.ref, c.pool.id, c.volumeId);
  })();
}

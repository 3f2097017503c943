import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';
import { byUuid } from '../../lookup.js';
import { allocatedBytes, POOL_FROM, POOL_SELECT, poolView, type PoolViewRow } from '../../storage/pool-records.js';
import { mapVolumes } from '../../storage/pool-sync.js';

export default defineCommand({
  name: 'listStoragePools',
  description: 'Lists primary storage pools: what the hosts of each cluster report (libvirt pools, datastores, SRs), with their tags and state.',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'storagepool',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the storage pool' },
    { name: 'name', type: 'string', description: 'the name of the storage pool' },
    { name: 'zoneid', type: 'uuid', description: 'the Zone ID for the storage pool' },
    { name: 'podid', type: 'uuid', description: 'the Pod ID for the storage pool' },
    { name: 'clusterid', type: 'uuid', description: 'list storage pools belonging to the specific cluster' },
    { name: 'hostid', type: 'uuid', description: 'Kiln: the pools a host reaches (its cluster\'s and its own local ones)' },
    { name: 'scope', type: 'string', description: 'the scope of the storage pool: CLUSTER or HOST' },
    { name: 'status', type: 'string', description: 'the state of the storage pool: Up, Disabled or Down' },
    { name: 'path', type: 'string', description: 'the storage pool path (the hypervisor\'s name for it)' },
  ],
  handler({ engine }, args, page) {
    const db = engine.db;
    const cluster = args.uuid('clusterid') ? byUuid<{ id: number }>(db, 'cluster', args.uuid('clusterid')!, 'clusterid') : undefined;
    const host = args.uuid('hostid') ? byUuid<{ id: number; cluster_id: number }>(db, 'host', args.uuid('hostid')!, 'hostid') : undefined;
    // The pools as the hosts' last refresh recorded them (at their session's opening, then every
    // storage.stats.interval, and before a job placed a disk): a list never connects or waits on a
    // host, so one that does not answer now still has its pools listed at once. Only the volumes'
    // pool text is mapped onto the records here (the database alone), so a disk made since shows
    // in its pool's allocated size.
    const clusterIds = cluster ? [cluster.id] : host ? [host.cluster_id] : (db.prepare('SELECT DISTINCT cluster_id FROM storage_pools WHERE removed IS NULL').pluck().all() as number[]);
    mapVolumes(db, clusterIds);
    const status = args.str('status');
    const w = where(['p.removed IS NULL'], [
      ['p.uuid', args.uuid('id')], ['p.name', args.str('name')], ['z.uuid', args.uuid('zoneid')], ['pd.uuid', args.uuid('podid')], ['p.cluster_id', cluster?.id],
      ['p.scope', args.str('scope')?.toUpperCase()], ['p.ref', args.str('path')], ['p.name', args.str('keyword'), 'like'],
    ]);
    const clauses = [w.sql];
    const values = [...w.values];
    if (host) {
      clauses.push(`AND p.cluster_id=? AND (p.scope='CLUSTER' OR p.host_id=?)`);
      values.push(host.cluster_id, host.id);
    }
    if (status) {
      clauses.push(`AND (CASE WHEN p.enabled<>1 THEN 'Disabled' WHEN p.present=1 THEN 'Up' ELSE 'Down' END)=?`);
      values.push(status);
    }
    return queryPage<PoolViewRow>(db, page, { select: POOL_SELECT, from: `${POOL_FROM} ${clauses.join(' ')}`, values, orderBy: 'p.cluster_id, p.id' }, (rows) => {
      const allocated = allocatedBytes(db, rows.map((r) => r.id));
      return rows.map((r) => poolView(r, allocated.get(r.id) ?? 0));
    });
  },
});

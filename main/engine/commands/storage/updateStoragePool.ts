import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { allocatedBytes, parseTags, POOL_FROM, POOL_SELECT, poolView, STORAGE_TAGS_RULE, type PoolViewRow, type StoragePoolRow } from '../../storage/pool-records.js';

export default defineCommand({
  name: 'updateStoragePool',
  description: 'Updates a primary storage pool: its storage tags (replacing the current ones; empty clears them) and whether new volumes may be placed on it.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'storagepool',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the Id of the storage pool' },
    { name: 'tags', type: 'string', rule: STORAGE_TAGS_RULE, description: 'comma-separated list of tags for the storage pool (replaces the current ones; empty clears)' },
    { name: 'enabled', type: 'boolean', description: 'false to disable the pool for use (new volumes are not placed there), true to enable it again' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const pool = byUuid<StoragePoolRow>(db, 'storagePool', args.uuid('id')!, 'id');
    if (!args.has('tags') && args.bool('enabled') === undefined) throw ApiError.param('tags: give tags or enabled to change');
    const changes: string[] = [];
    db.transaction(() => {
      if (args.has('tags')) {
        const tags = parseTags(args.str('tags') ?? '').join(',');
        db.prepare('UPDATE storage_pools SET tags=? WHERE id=?').run(tags, pool.id);
        changes.push(tags ? `tags ${tags}` : 'no tags');
      }
      const enabled = args.bool('enabled');
      if (enabled !== undefined) {
        db.prepare('UPDATE storage_pools SET enabled=? WHERE id=?').run(enabled ? 1 : 0, pool.id);
        changes.push(enabled ? 'enabled' : 'disabled');
      }
      engine.events.record({ type: 'STORAGE.POOL.UPDATE', description: `storage pool ${pool.name} (${pool.uuid}): ${changes.join(', ')}`, userId: caller.userId, accountId: caller.accountId });
    })();
    const row = db.prepare(`SELECT ${POOL_SELECT} ${POOL_FROM} WHERE p.id=?`).get(pool.id) as PoolViewRow;
    return poolView(row, allocatedBytes(db, [pool.id]).get(pool.id) ?? 0);
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { requireAccountAccess } from '../../vm/access.js';
import { findTaggedResource, taggableType, taggedLabel, TAGGABLE_TYPE_NAMES } from '../../tags/resource-types.js';

export default defineCommand({
  name: 'deleteTags',
  description: `Deleting resource tag(s) on ${TAGGABLE_TYPE_NAMES.join(', ')}; without tags, every tag of the resources`,
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'resourceids', type: 'list', of: 'uuid', required: true, description: 'Delete tags for resource id(s)' },
    { name: 'resourcetype', type: 'string', required: true, description: `Delete tag by resource type: ${TAGGABLE_TYPE_NAMES.join(', ')}` },
    { name: 'tags', type: 'map', description: 'Delete tags matching key/value pairs (tags[0].key=k, optionally tags[0].value=v)' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const type = taggableType(args.str('resourcetype')!);
    const resources = args.list('resourceids')!.map((uuid) => findTaggedResource(db, type, uuid));
    if (resources.length === 0) throw ApiError.param('resourceids: give at least one resource');
    const wanted = (args.map('tags') ?? []).map((e) => {
      if (!e['key']) throw ApiError.param('tags: each tag needs a key (tags[i].key)');
      return { key: e['key'], value: e['value'] || undefined };
    });
    const rows = resources.flatMap((r) =>
      (db.prepare('SELECT id, key, value, account_id FROM resource_tags WHERE resource_type=? AND resource_id=?').all(type.name, r.id) as { id: number; key: string; value: string; account_id: number }[])
        .filter((t) => wanted.length === 0 || wanted.some((w) => w.key === t.key && (w.value === undefined || w.value === t.value)))
        .map((t) => ({ ...t, resource: r })),
    );
    if (rows.length === 0) throw ApiError.param('tags: Unable to find any tags which conform to specified delete parameters.');
    for (const t of rows) requireAccountAccess(db, caller, t.account_id, `the tags of ${type.name} ${t.resource.uuid}`);
    const del = db.prepare('DELETE FROM resource_tags WHERE id=?');
    db.transaction(() => {
      for (const t of rows) del.run(t.id);
      for (const r of resources) {
        const keys = rows.filter((t) => t.resource === r).map((t) => t.key);
        if (keys.length) engine.events.record({ type: 'DELETE_TAGS', description: `tags ${keys.join(', ')} deleted from ${taggedLabel(type, r)}`, userId: caller.userId, accountId: r.account_id, domainId: r.domain_id, resourceType: type.name, resourceUuid: r.uuid });
      }
    })();
    return { instanceType: type.name, instanceId: resources[0]!.uuid, run: async () => undefined };
  },
});

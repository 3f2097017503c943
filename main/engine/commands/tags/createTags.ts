import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { requireAccountAccess } from '../../vm/access.js';
import { findTaggedResource, taggableType, taggedLabel, TAGGABLE_TYPE_NAMES } from '../../tags/resource-types.js';

const MAX = 255;

export default defineCommand({
  name: 'createTags',
  description: `Creates resource tag(s) on ${TAGGABLE_TYPE_NAMES.join(', ')}`,
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'resourceids', type: 'list', of: 'uuid', required: true, description: 'list of resources to create the tags for' },
    { name: 'resourcetype', type: 'string', required: true, description: `type of the resource: ${TAGGABLE_TYPE_NAMES.join(', ')}` },
    { name: 'tags', type: 'map', required: true, description: 'Map of tags (key/value pairs): tags[0].key=k&tags[0].value=v' },
    { name: 'customer', type: 'string', description: 'identifies client specific tag. When the value is not null, the tag can\'t be used by cloudStack code internally' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const type = taggableType(args.str('resourcetype')!);
    const pairs = args.map('tags')!.map((e) => {
      const key = e['key'] ?? '';
      const value = e['value'] ?? '';
      if (!key) throw ApiError.param('tags: each tag needs a key (tags[i].key)');
      if (!value) throw ApiError.param(`tags: Value for the key ${key} is either null or empty`);
      if (key.length > MAX || value.length > MAX) throw ApiError.param(`tags: key and value are at most ${MAX} characters (key ${key.slice(0, 32)})`);
      return { key, value };
    });
    const seen = new Set<string>();
    for (const p of pairs) {
      if (seen.has(p.key)) throw ApiError.param(`tags: key ${p.key} is given twice`);
      seen.add(p.key);
    }
    const resources = args.list('resourceids')!.map((uuid) => findTaggedResource(db, type, uuid));
    if (resources.length === 0) throw ApiError.param('resourceids: give at least one resource');
    for (const r of resources) requireAccountAccess(db, caller, r.account_id, `${type.name} ${r.uuid}`);
    const exists = db.prepare('SELECT 1 FROM resource_tags WHERE resource_type=? AND resource_id=? AND key=?');
    for (const r of resources) {
      for (const p of pairs) {
        if (exists.get(type.name, r.id, p.key)) throw ApiError.param(`tags: tag ${p.key} already exists on ${type.name} ${r.uuid}; delete it first to change its value`);
      }
    }
    // Written at once, all or none, so a refused call leaves no tag behind; the job reports success.
    const insert = db.prepare('INSERT INTO resource_tags (uuid, key, value, resource_type, resource_id, resource_uuid, account_id, domain_id, customer, created) VALUES (?,?,?,?,?,?,?,?,?,?)');
    const customer = args.str('customer') || null;
    db.transaction(() => {
      for (const r of resources) {
        // A tag belongs to the resource's owner, as in CloudStack, whoever created it.
        for (const p of pairs) insert.run(randomUUID(), p.key, p.value, type.name, r.id, r.uuid, r.account_id, r.domain_id, customer, now());
        engine.events.record({ type: 'CREATE_TAGS', description: `tags ${pairs.map((p) => p.key).join(', ')} created on ${taggedLabel(type, r)}`, userId: caller.userId, accountId: r.account_id, domainId: r.domain_id, resourceType: type.name, resourceUuid: r.uuid });
      }
    })();
    return { instanceType: type.name, instanceId: resources[0]!.uuid, run: async () => undefined };
  },
});

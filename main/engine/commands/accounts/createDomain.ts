import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { domainView } from './views.js';

export default defineCommand({
  name: 'createDomain',
  description: 'Creates a domain under ROOT or under a parent domain',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'domain',
  params: [
    { name: 'name', type: 'string', required: true, description: 'creates domain with this name' },
    { name: 'parentdomainid', type: 'uuid', description: 'assigns new domain a parent domain by domain ID of the parent; defaults to ROOT' },
  ],
  handler({ engine }, args) {
    const name = args.str('name')!;
    if (!/^[^/]+$/.test(name)) throw ApiError.param('name: a domain name cannot contain /');
    const parent = args.uuid('parentdomainid')
      ? byUuid<{ id: number; path: string }>(engine.db, 'domain', args.uuid('parentdomainid')!, 'parentdomainid')
      : (engine.db.prepare('SELECT id, path FROM domains WHERE parent_id IS NULL').get() as { id: number; path: string });
    const path = `${parent.path}${name}/`;
    if (engine.db.prepare('SELECT 1 FROM domains WHERE path=?').get(path)) throw ApiError.param(`name: domain ${name} already exists there`);
    const id = Number(engine.db.prepare('INSERT INTO domains (uuid, name, parent_id, path, created) VALUES (?,?,?,?,?)').run(randomUUID(), name, parent.id, path, now()).lastInsertRowid);
    return domainView(engine.db, id);
  },
});

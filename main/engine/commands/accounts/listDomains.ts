import { defineCommand, ADMINS } from '../../registry/types.js';
import { where } from '../../sql.js';
import { domainSubtree } from '../../vm/access.js';
import { domainView } from './views.js';

export default defineCommand({
  name: 'listDomains',
  description: 'Lists domains the caller may see',
  kind: 'list',
  roles: ADMINS,
  response: 'domain',
  params: [
    { name: 'id', type: 'uuid', description: 'List domain by domain ID.' },
    { name: 'name', type: 'string', description: 'List domain by domain name.' },
  ],
  handler({ engine, caller }, args) {
    const scope = domainSubtree('path', caller.role === 'Admin' ? '/' : caller.domainPath);
    const w = where([scope.sql], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    const rows = engine.db.prepare(`SELECT id FROM domains ${w.sql} ORDER BY id`).all(...scope.values, ...w.values) as { id: number }[];
    return rows.map((r) => domainView(engine.db, r.id));
  },
});

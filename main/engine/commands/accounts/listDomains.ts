import { defineCommand, ADMINS } from '../../registry/types.js';
import { where } from '../../sql.js';
import { domainSubtree } from '../../vm/access.js';
import { domainViews } from './views.js';
import { queryPage } from '../../registry/list-page.js';

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
  handler({ engine, caller }, args, page) {
    const scope = domainSubtree('path', caller.role === 'Admin' ? '/' : caller.domainPath);
    const w = where([scope.sql], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    return queryPage<{ id: number }>(engine.db, page, { select: 'id', from: `FROM domains ${w.sql}`, values: [...scope.values, ...w.values], orderBy: 'id' }, (rows) => domainViews(engine.db, rows.map((r) => r.id)));
  },
});

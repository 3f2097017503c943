import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { accountViews } from './views.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listAccounts',
  description: 'Lists accounts and provides detailed account information for listed accounts',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'account',
  params: [
    { name: 'id', type: 'uuid', description: 'list account by account ID' },
    { name: 'name', type: 'string', description: 'list account by account name' },
    { name: 'domainid', type: 'uuid', description: 'list only resources belonging to the domain specified' },
    { name: 'state', type: 'string', description: 'list accounts by state' },
    { name: 'listall', type: 'boolean', description: 'list all accounts the caller may see' },
  ],
  handler({ engine, caller }, args, page) {
    const scope = accountScope(caller, 'a.id');
    const w = where(['a.removed IS NULL', scope.sql], [['a.uuid', args.uuid('id')], ['a.name', args.str('name')], ['d.uuid', args.uuid('domainid')], ['a.state', args.str('state'), 'ieq'], ['a.name', args.str('keyword'), 'like']]);
    return queryPage<{ id: number }>(engine.db, page, { select: 'a.id', from: `FROM accounts a JOIN domains d ON d.id=a.domain_id ${w.sql}`, values: [...scope.values, ...w.values], orderBy: 'a.id' }, (rows) =>
      accountViews(engine.db, rows.map((r) => r.id)),
    );
  },
});

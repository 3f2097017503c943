import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { userViews } from './views.js';
import { queryPage } from '../../registry/list-page.js';

const ROLE_OF_TYPE: Record<string, string> = { '0': 'User', '1': 'Admin', '2': 'DomainAdmin' };

export default defineCommand({
  name: 'listUsers',
  description: 'Lists user accounts (with their state: a user disabled after too many failed logins shows as disabled)',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'user',
  params: [
    { name: 'id', type: 'uuid', description: 'List user by ID.' },
    { name: 'username', type: 'string', description: 'List user by the username' },
    { name: 'accounttype', type: 'integer', description: 'List users by account type: 0 user, 1 root admin, 2 domain admin' },
    { name: 'state', type: 'string', description: 'List users by state of the user account (enabled, disabled)' },
    ...ACCOUNT_LIST_PARAMS,
  ],
  handler({ engine, caller }, args, page) {
    const scope = accountScope(caller, 'u.account_id');
    const type = args.int('accounttype');
    const w = where(['u.removed IS NULL', 'a.removed IS NULL', scope.sql], [
      ['u.uuid', args.uuid('id')], ['u.username', args.str('username')], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')],
      ['a.role', type === undefined ? undefined : (ROLE_OF_TYPE[String(type)] ?? '-')], ['u.state', args.str('state'), 'ieq'], ['u.username', args.str('keyword'), 'like'],
    ]);
    return queryPage<{ id: number }>(
      engine.db,
      page,
      { select: 'u.id', from: `FROM users u JOIN accounts a ON a.id=u.account_id JOIN domains d ON d.id=a.domain_id ${w.sql}`, values: [...scope.values, ...w.values], orderBy: 'u.id' },
      (rows) => userViews(engine.db, rows.map((r) => r.id)),
    );
  },
});

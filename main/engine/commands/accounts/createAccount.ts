import { defineCommand, ADMINS } from '../../registry/types.js';
import type { Role } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { isInDomain } from '../../vm/access.js';
import { passwordProblem } from '../../auth/accounts.js';
import { accountView } from './views.js';

const TYPES: Record<number, Role> = { 0: 'User', 1: 'Admin', 2: 'DomainAdmin' };

export default defineCommand({
  name: 'createAccount',
  description: 'Creates an account with its first user',
  kind: 'sync',
  roles: ADMINS,
  response: 'account',
  sensitive: ['password'],
  params: [
    { name: 'username', type: 'string', required: true, description: 'Unique username' },
    { name: 'password', type: 'string', required: true, description: 'Clear text password' },
    { name: 'email', type: 'string', required: true, description: 'email' },
    { name: 'firstname', type: 'string', required: true, description: 'firstname' },
    { name: 'lastname', type: 'string', required: true, description: 'lastname' },
    { name: 'account', type: 'string', description: 'Name of the account to be created; defaults to the username' },
    { name: 'accounttype', type: 'integer', description: 'Type of the account: 0 user, 1 root admin, 2 domain admin' },
    { name: 'roletype', type: 'string', description: 'User, DomainAdmin or Admin (instead of accounttype)' },
    { name: 'domainid', type: 'uuid', description: 'Creates the user under the specified domain' },
  ],
  handler({ engine, caller }, args) {
    const typeParam = args.int('accounttype');
    let role: Role | undefined = typeParam !== undefined ? TYPES[typeParam] : undefined;
    if (typeParam !== undefined && !role) throw ApiError.param('accounttype: 0 (user), 1 (root admin) or 2 (domain admin)');
    const roleType = args.str('roletype');
    if (roleType) {
      if (!['User', 'DomainAdmin', 'Admin'].includes(roleType)) throw ApiError.param('roletype: User, DomainAdmin or Admin');
      role = roleType as Role;
    }
    role ??= 'User';
    if (caller.role !== 'Admin' && role === 'Admin') throw ApiError.denied('only a root admin can create root admin accounts');
    const domainId = args.uuid('domainid') ? byUuid<{ id: number; path: string }>(engine.db, 'domain', args.uuid('domainid')!, 'domainid') : undefined;
    if (domainId && caller.role === 'DomainAdmin' && !isInDomain(domainId.path, caller.domainPath)) throw ApiError.denied('the domain is outside the caller\'s domain');
    const password = args.str('password')!;
    const problem = passwordProblem(password);
    if (problem) throw ApiError.param(problem);
    const { accountId } = engine.accounts.createAccount({
      name: args.str('account') ?? args.str('username')!, role, domainId: domainId?.id ?? caller.domainId, username: args.str('username')!, password,
      firstname: args.str('firstname'), lastname: args.str('lastname'), email: args.str('email'),
    });
    engine.events.record({ type: 'ACCOUNT.CREATE', description: `account ${args.str('account') ?? args.str('username')} created`, userId: caller.userId, accountId, domainId: caller.domainId });
    return accountView(engine.db, accountId);
  },
});

/** The user a user-management command acts on, after CloudStack's access checks for it. */
import type { Db } from '../../db/database.js';
import { ApiError } from '../../registry/errors.js';
import type { Caller, Role } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { requireAccountAccess } from '../../vm/access.js';

export interface TargetUser {
  id: number;
  uuid: string;
  username: string;
  account_id: number;
  role: Role;
}

/**
 * The user with id UUID if the caller may operate on it: its own account (a user), an account in
 * its domain subtree (a domain admin), anyone (a root admin). Only a root admin acts on a root
 * admin's user, as CloudStack's DomainChecker refuses domain admins there.
 */
export function targetUser(db: Db, caller: Caller, uuid: string): TargetUser {
  const user = byUuid<{ id: number }>(db, 'user', uuid, 'id');
  const row = db.prepare('SELECT u.id, u.uuid, u.username, u.account_id, a.role FROM users u JOIN accounts a ON a.id=u.account_id WHERE u.id=?').get(user.id) as TargetUser;
  requireAccountAccess(db, caller, row.account_id, `user ${row.username}`);
  if (row.role === 'Admin' && caller.role !== 'Admin') throw ApiError.denied(`Account ${caller.accountName} does not have permission to operate on root admin user ${row.username}`);
  return row;
}

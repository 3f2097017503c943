/**
 * Who may see and act on what: the root admin on everything, a domain admin on accounts in
 * its domain subtree, a user on its own account's resources.
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';

export function canAccessAccount(db: Db, caller: Caller, accountId: number): boolean {
  if (caller.role === 'Admin') return true;
  if (caller.role === 'User') return caller.accountId === accountId;
  const row = db.prepare('SELECT d.path FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id=?').get(accountId) as { path: string } | undefined;
  return !!row && row.path.startsWith(caller.domainPath);
}

export function requireAccountAccess(db: Db, caller: Caller, accountId: number, what: string): void {
  if (!canAccessAccount(db, caller, accountId)) {
    throw ApiError.denied(`Account ${caller.accountName} does not have permission to access ${what}`);
  }
}

/** SQL condition (and its values) restricting rows with an account_id column to what the caller may see. */
export function accountScope(caller: Caller, column = 'account_id'): { sql: string; values: unknown[] } {
  if (caller.role === 'Admin') return { sql: '1=1', values: [] };
  if (caller.role === 'User') return { sql: `${column}=?`, values: [caller.accountId] };
  return {
    sql: `${column} IN (SELECT a.id FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE d.path LIKE ? || '%')`,
    values: [caller.domainPath],
  };
}

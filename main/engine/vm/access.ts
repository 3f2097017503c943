/**
 * Who may see and act on what: the root admin on everything, a domain admin on accounts in
 * its domain subtree, a user on its own account's resources.
 *
 * A domain's subtree is every domain whose path starts with its path (paths are `/a/b/`, ending
 * in `/`). The prefix is compared exactly, never with LIKE: `_` and `%` in a domain name are
 * LIKE wildcards (a domain admin of `team_a` would see `teamXa`, one of `%` every domain), and
 * SQLite's LIKE ignores ASCII case (`Team` would see `team`).
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';

/** True when the domain at PATH is DOMAINPATH or below it. */
export function isInDomain(path: string, domainPath: string): boolean {
  return path.startsWith(domainPath);
}

/** SQL condition on a domain path column: the domain at DOMAINPATH or below it (the SQL twin of isInDomain). */
export function domainSubtree(pathColumn: string, domainPath: string): { sql: string; values: unknown[] } {
  // substr/length count characters in SQLite, so the comparison holds for any Unicode name.
  return { sql: `substr(${pathColumn}, 1, length(?)) = ?`, values: [domainPath, domainPath] };
}

export function canAccessAccount(db: Db, caller: Caller, accountId: number): boolean {
  if (caller.role === 'Admin') return true;
  if (caller.role === 'User') return caller.accountId === accountId;
  const row = db.prepare('SELECT d.path FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id=?').get(accountId) as { path: string } | undefined;
  return !!row && isInDomain(row.path, caller.domainPath);
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
  const subtree = domainSubtree('d.path', caller.domainPath);
  return {
    sql: `${column} IN (SELECT a.id FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE ${subtree.sql})`,
    values: subtree.values,
  };
}

/**
 * The `account`, `user` and `domain` response objects, shared by the account commands. Each is
 * built for a page of ids at once (one statement per kind of related row, whatever the page
 * holds); the one-object forms are a page of one.
 */
import type { Db } from '../../db/database.js';
import type { ApiObject } from '../../registry/types.js';
import { csDate } from '../../format.js';
import { PAGE_IDS, rowsFor } from '../../registry/list-page.js';

const ROLE_TYPE: Record<string, number> = { User: 0, Admin: 1, DomainAdmin: 2 };

interface AccountRow { id: number; uuid: string; name: string; role: string; state: string; created: string; domainuuid: string; domainname: string; path: string }
interface UserRow {
  id: number; account_id: number; uuid: string; username: string; firstname: string | null; lastname: string | null; email: string | null; state: string; created: string; api_key: string | null;
  accountuuid: string; accountname: string; role: string; domainuuid: string; domainname: string;
}
interface DomainRow { id: number; uuid: string; name: string; path: string; parentuuid: string | null; parentname: string | null; created: string }

const ACCOUNTS = `SELECT a.*, d.uuid AS domainuuid, d.name AS domainname, d.path FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id ${PAGE_IDS}`;
const USERS = `SELECT u.*, a.uuid AS accountuuid, a.name AS accountname, a.role, d.uuid AS domainuuid, d.name AS domainname FROM users u JOIN accounts a ON a.id=u.account_id JOIN domains d ON d.id=a.domain_id`;
const VM_COUNTS = `SELECT account_id, COUNT(*) AS total, SUM(state='Running') AS running, SUM(state IN ('Stopped','Created')) AS stopped FROM vm_instances
  WHERE account_id ${PAGE_IDS} AND state NOT IN ('Destroyed','Expunged') GROUP BY account_id`;
const DOMAINS = `SELECT d.*, p.uuid AS parentuuid, p.name AS parentname FROM domains d LEFT JOIN domains p ON p.id=d.parent_id WHERE d.id ${PAGE_IDS}`;

/** Rows of SQL for IDS, in the order of IDS. */
function inOrder<Row extends { id: number }>(db: Db, sql: string, ids: readonly number[]): Row[] {
  const byId = rowsFor<Row>(db, sql, ids, 'id');
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export function accountViews(db: Db, accountIds: readonly number[]): ApiObject[] {
  const users = rowsFor<UserRow>(db, `${USERS} WHERE u.account_id ${PAGE_IDS} AND u.removed IS NULL ORDER BY u.id`, accountIds, 'account_id');
  const vms = rowsFor<{ account_id: number; total: number; running: number | null; stopped: number | null }>(db, VM_COUNTS, accountIds, 'account_id');
  return inOrder<AccountRow>(db, ACCOUNTS, accountIds).map((a) => {
    const count = vms.get(a.id)?.[0];
    return {
      id: a.uuid, name: a.name, accounttype: ROLE_TYPE[a.role], roletype: a.role, rolename: a.role === 'Admin' ? 'Root Admin' : a.role === 'DomainAdmin' ? 'Domain Admin' : 'User',
      domainid: a.domainuuid, domain: a.domainname, domainpath: a.path === '/' ? 'ROOT' : `ROOT${a.path.replace(/\/$/, '')}`, state: a.state, created: csDate(a.created),
      vmtotal: count?.total ?? 0, vmrunning: count?.running ?? 0, vmstopped: count?.stopped ?? 0, user: (users.get(a.id) ?? []).map(userResponse),
    };
  });
}

export function accountView(db: Db, accountId: number): ApiObject {
  return accountViews(db, [accountId])[0]!;
}

function userResponse(u: UserRow): ApiObject {
  return {
    id: u.uuid, username: u.username, firstname: u.firstname ?? undefined, lastname: u.lastname ?? undefined, email: u.email ?? undefined, state: u.state,
    account: u.accountname, accountid: u.accountuuid, accounttype: ROLE_TYPE[u.role], roletype: u.role, domainid: u.domainuuid, domain: u.domainname,
    created: csDate(u.created), apikey: u.api_key ?? undefined,
  };
}

export function userViews(db: Db, userIds: readonly number[]): ApiObject[] {
  return inOrder<UserRow>(db, `${USERS} WHERE u.id ${PAGE_IDS}`, userIds).map(userResponse);
}

export function userView(db: Db, userId: number): ApiObject {
  return userViews(db, [userId])[0]!;
}

export function domainViews(db: Db, domainIds: readonly number[]): ApiObject[] {
  return inOrder<DomainRow>(db, DOMAINS, domainIds).map((d) => {
    const level = d.path === '/' ? 0 : d.path.split('/').filter(Boolean).length;
    return { id: d.uuid, name: d.name, path: d.path === '/' ? 'ROOT' : `ROOT${d.path.replace(/\/$/, '')}`, level, parentdomainid: d.parentuuid ?? undefined, parentdomainname: d.parentname ?? undefined, created: csDate(d.created) };
  });
}

export function domainView(db: Db, domainId: number): ApiObject {
  return domainViews(db, [domainId])[0]!;
}

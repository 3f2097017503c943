/** The `account` and `user` response objects, shared by the account commands. */
import type { Db } from '../../db/database.js';
import type { ApiObject } from '../../registry/types.js';
import { csDate } from '../../format.js';

const ROLE_TYPE: Record<string, number> = { User: 0, Admin: 1, DomainAdmin: 2 };

export function accountView(db: Db, accountId: number): ApiObject {
  const a = db.prepare('SELECT a.*, d.uuid AS domainuuid, d.name AS domainname, d.path FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id=?').get(accountId) as {
    uuid: string; name: string; role: string; state: string; created: string; domainuuid: string; domainname: string; path: string;
  };
  const users = (db.prepare('SELECT id FROM users WHERE account_id=? AND removed IS NULL ORDER BY id').all(accountId) as { id: number }[]).map((u) => userView(db, u.id));
  const vms = db.prepare(`SELECT COUNT(*) AS total, SUM(state='Running') AS running, SUM(state IN ('Stopped','Created')) AS stopped FROM vm_instances WHERE account_id=? AND state NOT IN ('Destroyed','Expunged')`).get(accountId) as { total: number; running: number | null; stopped: number | null };
  return {
    id: a.uuid, name: a.name, accounttype: ROLE_TYPE[a.role], roletype: a.role, rolename: a.role === 'Admin' ? 'Root Admin' : a.role === 'DomainAdmin' ? 'Domain Admin' : 'User',
    domainid: a.domainuuid, domain: a.domainname, domainpath: a.path === '/' ? 'ROOT' : `ROOT${a.path.replace(/\/$/, '')}`, state: a.state, created: csDate(a.created),
    vmtotal: vms.total, vmrunning: vms.running ?? 0, vmstopped: vms.stopped ?? 0, user: users,
  };
}

export function userView(db: Db, userId: number): ApiObject {
  const u = db.prepare('SELECT u.*, a.uuid AS accountuuid, a.name AS accountname, a.role, d.uuid AS domainuuid, d.name AS domainname FROM users u JOIN accounts a ON a.id=u.account_id JOIN domains d ON d.id=a.domain_id WHERE u.id=?').get(userId) as {
    uuid: string; username: string; firstname: string | null; lastname: string | null; email: string | null; state: string; created: string; api_key: string | null; accountuuid: string; accountname: string; role: string; domainuuid: string; domainname: string;
  };
  return {
    id: u.uuid, username: u.username, firstname: u.firstname ?? undefined, lastname: u.lastname ?? undefined, email: u.email ?? undefined, state: u.state,
    account: u.accountname, accountid: u.accountuuid, accounttype: ROLE_TYPE[u.role], roletype: u.role, domainid: u.domainuuid, domain: u.domainname,
    created: csDate(u.created), apikey: u.api_key ?? undefined,
  };
}

export function domainView(db: Db, domainId: number): ApiObject {
  const d = db.prepare('SELECT d.*, p.uuid AS parentuuid, p.name AS parentname FROM domains d LEFT JOIN domains p ON p.id=d.parent_id WHERE d.id=?').get(domainId) as {
    uuid: string; name: string; path: string; parentuuid: string | null; parentname: string | null; created: string;
  };
  const level = d.path === '/' ? 0 : d.path.split('/').filter(Boolean).length;
  return { id: d.uuid, name: d.name, path: d.path === '/' ? 'ROOT' : `ROOT${d.path.replace(/\/$/, '')}`, level, parentdomainid: d.parentuuid ?? undefined, parentdomainname: d.parentname ?? undefined, created: csDate(d.created) };
}

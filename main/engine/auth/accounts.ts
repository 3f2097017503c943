/**
 * Domains, accounts and users: creation, API keys (secret sealed at rest), passwords (scrypt),
 * login sessions, and turning any of those into the Caller a command runs as.
 */
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller, Role } from '../registry/types.js';
import type { SecretBox } from '../secrets.js';

interface CallerRow {
  user_id: number;
  user_uuid: string;
  username: string;
  account_id: number;
  account_uuid: string;
  account_name: string;
  domain_id: number;
  domain_uuid: string;
  domain_path: string;
  role: Role;
  secret_key_enc: string | null;
  password_hash: string | null;
  user_state: string;
  account_state: string;
}

const CALLER_SQL = `
SELECT u.id AS user_id, u.uuid AS user_uuid, u.username, a.id AS account_id, a.uuid AS account_uuid, a.name AS account_name,
       d.id AS domain_id, d.uuid AS domain_uuid, d.path AS domain_path, a.role, u.secret_key_enc, u.password_hash,
       u.state AS user_state, a.state AS account_state
FROM users u JOIN accounts a ON a.id=u.account_id JOIN domains d ON d.id=a.domain_id
WHERE u.removed IS NULL AND a.removed IS NULL AND `;

function toCaller(row: CallerRow): Caller {
  return {
    userId: row.user_id,
    userUuid: row.user_uuid,
    username: row.username,
    accountId: row.account_id,
    accountUuid: row.account_uuid,
    accountName: row.account_name,
    domainId: row.domain_id,
    domainUuid: row.domain_uuid,
    domainPath: row.domain_path,
    role: row.role,
  };
}

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32);
  return `scrypt:${salt.toString('base64')}:${hash.toString('base64')}`;
}

export function checkPassword(password: string, stored: string | null): boolean {
  if (!stored?.startsWith('scrypt:')) return false;
  const [, salt = '', hash = ''] = stored.split(':');
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(expected, actual);
}

/** API keys look like CloudStack's: 86 URL-safe Base64 characters. */
function newKey(): string {
  return randomBytes(64).toString('base64url');
}

export class Accounts {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  rootDomainId(): number {
    const row = this.db.prepare('SELECT id FROM domains WHERE parent_id IS NULL').get() as { id: number } | undefined;
    if (row) return row.id;
    return Number(this.db.prepare('INSERT INTO domains (uuid, name, parent_id, path, created) VALUES (?,?,NULL,?,?)').run(randomUUID(), 'ROOT', '/', now()).lastInsertRowid);
  }

  createAccount(input: { name: string; role: Role; domainId: number; username: string; password?: string; firstname?: string; lastname?: string; email?: string }): { accountId: number; userId: number } {
    return this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM users WHERE username=? AND removed IS NULL').get(input.username);
      if (exists) throw ApiError.param(`username: a user named ${input.username} already exists`);
      const accountExists = this.db.prepare('SELECT 1 FROM accounts WHERE domain_id=? AND name=? AND removed IS NULL').get(input.domainId, input.name);
      if (accountExists) throw ApiError.param(`account: an account named ${input.name} already exists in this domain`);
      const accountId = Number(
        this.db.prepare('INSERT INTO accounts (uuid, name, domain_id, role, created) VALUES (?,?,?,?,?)').run(randomUUID(), input.name, input.domainId, input.role, now()).lastInsertRowid,
      );
      const userId = Number(
        this.db
          .prepare('INSERT INTO users (uuid, username, account_id, firstname, lastname, email, password_hash, created) VALUES (?,?,?,?,?,?,?,?)')
          .run(randomUUID(), input.username, accountId, input.firstname ?? input.username, input.lastname ?? '', input.email ?? null, input.password ? hashPassword(input.password) : null, now()).lastInsertRowid,
      );
      return { accountId, userId };
    })();
  }

  /** Generates (or replaces) a user's API key pair; the secret is stored sealed. */
  registerKeys(userId: number): { apiKey: string; secretKey: string } {
    const apiKey = newKey();
    const secretKey = newKey();
    this.db.prepare('UPDATE users SET api_key=?, secret_key_enc=? WHERE id=?').run(apiKey, this.secrets.seal(secretKey), userId);
    return { apiKey, secretKey };
  }

  keysOf(userId: number): { apiKey: string; secretKey: string } | undefined {
    const row = this.db.prepare('SELECT api_key, secret_key_enc FROM users WHERE id=?').get(userId) as { api_key: string | null; secret_key_enc: string | null } | undefined;
    if (!row?.api_key || !row.secret_key_enc) return undefined;
    return { apiKey: row.api_key, secretKey: this.secrets.open(row.secret_key_enc) };
  }

  /** The caller behind an API key and the secret to check its signature with. */
  byApiKey(apiKey: string): { caller: Caller; secretKey: string } | undefined {
    const row = this.db.prepare(CALLER_SQL + 'u.api_key=?').get(apiKey) as CallerRow | undefined;
    if (!row?.secret_key_enc || row.user_state !== 'enabled' || row.account_state !== 'enabled') return undefined;
    return { caller: toCaller(row), secretKey: this.secrets.open(row.secret_key_enc) };
  }

  byUserId(userId: number): Caller | undefined {
    const row = this.db.prepare(CALLER_SQL + 'u.id=?').get(userId) as CallerRow | undefined;
    return row ? toCaller(row) : undefined;
  }

  /** The first root admin: the identity of the desktop app's own IPC calls and of `kiln keys`. */
  localAdmin(): Caller {
    const row = this.db.prepare(CALLER_SQL + `a.role='Admin' ORDER BY u.id LIMIT 1`).get() as CallerRow | undefined;
    if (!row) throw new Error('no root admin: the data directory was not initialised');
    return toCaller(row);
  }

  login(username: string, password: string, domainPath?: string): { caller: Caller; sessionKey: string; timeoutSeconds: number } {
    const row = this.db.prepare(CALLER_SQL + 'u.username=?').get(username) as CallerRow | undefined;
    const domainOk = !domainPath || domainPath === '/' || row?.domain_path === normalizeDomainPath(domainPath);
    if (!row || !domainOk || row.user_state !== 'enabled' || !checkPassword(password, row.password_hash)) {
      throw ApiError.unauthorized('Failed to authenticate user ' + username + '; please provide valid credentials');
    }
    const sessionKey = randomBytes(24).toString('base64url');
    const timeoutSeconds = 1800;
    this.db.prepare('INSERT INTO sessions (key, user_id, created, expires) VALUES (?,?,?,?)').run(sessionKey, row.user_id, now(), new Date(Date.now() + timeoutSeconds * 1000).toISOString());
    return { caller: toCaller(row), sessionKey, timeoutSeconds };
  }

  bySession(sessionKey: string, timeoutSeconds: number): Caller | undefined {
    const row = this.db.prepare('SELECT user_id, expires FROM sessions WHERE key=?').get(sessionKey) as { user_id: number; expires: string } | undefined;
    if (!row) return undefined;
    if (Date.parse(row.expires) < Date.now()) {
      this.db.prepare('DELETE FROM sessions WHERE key=?').run(sessionKey);
      return undefined;
    }
    this.db.prepare('UPDATE sessions SET expires=? WHERE key=?').run(new Date(Date.now() + timeoutSeconds * 1000).toISOString(), sessionKey);
    return this.byUserId(row.user_id);
  }

  logout(sessionKey: string): void {
    this.db.prepare('DELETE FROM sessions WHERE key=?').run(sessionKey);
  }
}

function normalizeDomainPath(path: string): string {
  if (path === '/' || path.toUpperCase() === 'ROOT') return '/';
  return `/${path.replace(/^\/+|\/+$/g, '')}/`;
}

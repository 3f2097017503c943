/**
 * Domains, accounts and users: creation, API keys (secret sealed at rest), passwords (scrypt),
 * login sessions, and turning any of those into the Caller a command runs as.
 *
 * Logins follow CloudStack: a failure answers 531, each failure counts against
 * incorrect.login.attempts.allowed and the user is disabled when it runs out (root admins are
 * never disabled, as CloudStack's internal accounts are not), a success resets the count.
 * Session keys are kept only as SHA-256 hashes.
 */
import { createHash, randomBytes, randomUUID, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import { ApiError, ErrorCode } from '../registry/errors.js';
import type { Caller, Role } from '../registry/types.js';
import type { SecretBox } from '../secrets.js';
import type { Settings } from '../settings.js';
import { LoginThrottle } from './login-throttle.js';

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
  login_attempts: number;
  domain_name: string;
}

const CALLER_SQL = `
SELECT u.id AS user_id, u.uuid AS user_uuid, u.username, a.id AS account_id, a.uuid AS account_uuid, a.name AS account_name,
       d.id AS domain_id, d.uuid AS domain_uuid, d.path AS domain_path, a.role, u.secret_key_enc, u.password_hash,
       u.state AS user_state, a.state AS account_state, u.login_attempts, d.name AS domain_name
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

/** The password rule of every command that sets one; undefined when PASSWORD is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.trim() === '') return 'password: cannot be empty or blank';
  if (password.length < 6) return 'password: at least 6 characters';
  return undefined;
}

/**
 * Hash checked when the user does not exist, so that a miss costs as long as a wrong password.
 * A constant (no scrypt at import): the login fails for a missing user whatever it matches.
 */
const DUMMY_HASH = `scrypt:${Buffer.alloc(16).toString('base64')}:${Buffer.alloc(32, 1).toString('base64')}`;

/** Checks PASSWORD against a stored scrypt hash on libuv's thread pool, not on the event loop. */
export async function checkPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored?.startsWith('scrypt:')) return false;
  const [, salt = '', hash = ''] = stored.split(':');
  const expected = Buffer.from(hash, 'base64');
  if (expected.length === 0) return false;
  const actual = await new Promise<Buffer>((resolve, reject) => scrypt(password, Buffer.from(salt, 'base64'), expected.length, (error, key) => (error ? reject(error) : resolve(key))));
  return timingSafeEqual(expected, actual);
}

/** What the sessions table keeps instead of the key: reading the database gives no live session. */
export function sessionKeyHash(sessionKey: string): string {
  return createHash('sha256').update(sessionKey, 'utf8').digest('hex');
}

function loginDenied(message: string): ApiError {
  return new ApiError(ErrorCode.ACCOUNT_ERROR, message);
}

/** API keys look like CloudStack's: 86 URL-safe Base64 characters. */
function newKey(): string {
  return randomBytes(64).toString('base64url');
}

export class Accounts {
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    /** Reads incorrect.login.attempts.allowed; without it (tools that never log in) failures only slow down. */
    private readonly settings?: Settings,
    clock: () => number = Date.now,
  ) {
    this.throttle = new LoginThrottle(clock);
  }

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

  /**
   * Checks a password login and opens a session. Failures answer 531 as CloudStack's login does;
   * the session key is returned once and stored only as its hash.
   */
  async login(username: string, password: string, domainPath?: string): Promise<{ caller: Caller; sessionKey: string; timeoutSeconds: number }> {
    const wait = this.throttle.begin(username);
    if (wait !== undefined) throw loginDenied(`too many failed logins for user ${username}; try again in ${Math.ceil(wait / 1000)} s`);
    try {
      const found = this.db.prepare(CALLER_SQL + 'u.username=?').get(username) as CallerRow | undefined;
      const row = found && (!domainPath || domainPath === '/' || found.domain_path === normalizeDomainPath(domainPath)) ? found : undefined;
      const passwordOk = await checkPassword(password, row ? row.password_hash : DUMMY_HASH);
      if (!row || !passwordOk) {
        this.throttle.fail(username);
        if (row) this.countFailedLogin(row);
        throw loginDenied(`Failed to authenticate user ${username} in domain ${domainPath || '/'}; please provide valid credentials`);
      }
      if (row.user_state !== 'enabled' || row.account_state !== 'enabled') {
        throw loginDenied(`User ${username} (or their account) in domain ${row.domain_name} is disabled/locked. Please contact the administrator.`);
      }
      this.throttle.succeed(username);
      if (row.login_attempts !== 0) this.db.prepare('UPDATE users SET login_attempts=0 WHERE id=?').run(row.user_id);
      const sessionKey = randomBytes(24).toString('base64url');
      const timeoutSeconds = this.settings?.int('session.timeout') ?? 1800;
      // Sessions nobody came back for are only ever deleted here or when presented.
      this.db.prepare('DELETE FROM sessions WHERE expires < ?').run(now());
      this.db.prepare('INSERT INTO sessions (key_hash, user_id, created, expires) VALUES (?,?,?,?)').run(sessionKeyHash(sessionKey), row.user_id, now(), new Date(Date.now() + timeoutSeconds * 1000).toISOString());
      return { caller: toCaller(row), sessionKey, timeoutSeconds };
    } finally {
      this.throttle.end(username);
    }
  }

  /** CloudStack's updateLoginAttempts: count the failure, and disable the user when none are left. */
  private countFailedLogin(row: CallerRow): void {
    // Root admins are CloudStack's internal accounts: never disabled (the throttle still slows them).
    if (row.role === 'Admin' || row.user_state !== 'enabled') return;
    const allowed = this.settings?.int('incorrect.login.attempts.allowed') ?? 0;
    if (allowed <= 0) return;
    const attempts = row.login_attempts + 1;
    if (attempts < allowed) this.db.prepare('UPDATE users SET login_attempts=? WHERE id=?').run(attempts, row.user_id);
    else this.db.prepare(`UPDATE users SET login_attempts=?, state='disabled' WHERE id=?`).run(allowed, row.user_id);
  }

  bySession(sessionKey: string, timeoutSeconds: number): Caller | undefined {
    const keyHash = sessionKeyHash(sessionKey);
    const row = this.db.prepare('SELECT user_id, expires FROM sessions WHERE key_hash=?').get(keyHash) as { user_id: number; expires: string } | undefined;
    if (!row) return undefined;
    if (Date.parse(row.expires) < Date.now()) {
      this.db.prepare('DELETE FROM sessions WHERE key_hash=?').run(keyHash);
      return undefined;
    }
    const caller = this.db.prepare(CALLER_SQL + 'u.id=?').get(row.user_id) as CallerRow | undefined;
    // A user disabled (or removed) since the login loses the session at once, as an API key would.
    if (!caller || caller.user_state !== 'enabled' || caller.account_state !== 'enabled') return undefined;
    this.db.prepare('UPDATE sessions SET expires=? WHERE key_hash=?').run(new Date(Date.now() + timeoutSeconds * 1000).toISOString(), keyHash);
    return toCaller(caller);
  }

  logout(sessionKey: string): void {
    this.db.prepare('DELETE FROM sessions WHERE key_hash=?').run(sessionKeyHash(sessionKey));
  }

  /**
   * updateUser: changes the given fields of a user. A new password needs the current one unless
   * an admin sets it (CloudStack's validateAndUpdateUserPasswordIfNeeded). A new password ends
   * every login session of the user, since whoever holds one may be why the password changes.
   */
  async updateUser(userId: number, changes: { password?: string; currentPassword?: string; adminReset: boolean; firstname?: string; lastname?: string; email?: string; username?: string }): Promise<void> {
    let hash: string | undefined;
    if (changes.password !== undefined) {
      const problem = passwordProblem(changes.password);
      if (problem) throw ApiError.param(problem);
      if (!changes.adminReset) {
        if (!changes.currentPassword) throw ApiError.param('currentpassword: to set a new password the current password must be provided');
        const row = this.db.prepare('SELECT username, password_hash FROM users WHERE id=?').get(userId) as { username: string; password_hash: string | null };
        // Guessing the current password here is throttled like guessing it at login.
        const wait = this.throttle.begin(row.username);
        if (wait !== undefined) throw loginDenied(`too many failed password checks for user ${row.username}; try again in ${Math.ceil(wait / 1000)} s`);
        try {
          if (!(await checkPassword(changes.currentPassword, row.password_hash))) {
            this.throttle.fail(row.username);
            throw ApiError.param('currentpassword: the current password is incorrect');
          }
          this.throttle.succeed(row.username);
        } finally {
          this.throttle.end(row.username);
        }
      }
      hash = hashPassword(changes.password);
    }
    if (changes.username !== undefined) {
      const taken = this.db.prepare('SELECT 1 FROM users WHERE username=? AND id<>? AND removed IS NULL').get(changes.username, userId);
      if (taken) throw ApiError.param(`username: a user named ${changes.username} already exists`);
    }
    this.db.transaction(() => {
      const set = (column: string, value: string | undefined) => {
        if (value !== undefined) this.db.prepare(`UPDATE users SET ${column}=? WHERE id=?`).run(value, userId);
      };
      set('firstname', changes.firstname);
      set('lastname', changes.lastname);
      set('email', changes.email);
      set('username', changes.username);
      if (hash !== undefined) {
        set('password_hash', hash);
        this.db.prepare('DELETE FROM sessions WHERE user_id=?').run(userId);
      }
    })();
  }

  /** enableUser: the user may log in again, with a fresh count of failed logins (as CloudStack resets it). */
  enableUser(userId: number): void {
    this.db.prepare(`UPDATE users SET state='enabled', login_attempts=0 WHERE id=?`).run(userId);
  }
}

function normalizeDomainPath(path: string): string {
  if (path === '/' || path.toUpperCase() === 'ROOT') return '/';
  return `/${path.replace(/^\/+|\/+$/g, '')}/`;
}

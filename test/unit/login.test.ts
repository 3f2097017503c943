/**
 * Password logins as CloudStack has them: failures answer 531 and count against
 * incorrect.login.attempts.allowed until the user is disabled (never a root admin), a success
 * resets the count, enableUser lets the user in again. On top, a per-user throttle (one check at a
 * time, a growing wait after the third failure) and scrypt off the event loop. Then updateUser,
 * session keys stored as hashes, and the data directory's file modes.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Accounts } from '../../main/engine/auth/accounts.js';
import { ApiError } from '../../main/engine/registry/errors.js';
import type { Caller } from '../../main/engine/registry/types.js';
import { Engine, silentLogger } from '../../main/engine/engine.js';
import { secureDataDir } from '../../main/engine/data-dir.js';

let t: TestEngine;
let clock = 0;
/** The engine's accounts with a clock the test moves, so throttle waits pass without waiting. */
let accounts: Accounts;
let rootDomain: number;
let serial = 0;

beforeAll(async () => {
  t = await testEngine();
  clock = Date.now();
  accounts = new Accounts(t.engine.db, t.engine.secrets, t.engine.settings, () => clock);
  rootDomain = accounts.rootDomainId();
});
afterAll(() => t?.close());

function newUser(role: 'User' | 'DomainAdmin' | 'Admin' = 'User', password = 'right-pw'): Caller {
  serial += 1;
  const { userId } = accounts.createAccount({ name: `acct${serial}`, role, domainId: rootDomain, username: `user${serial}`, password });
  return accounts.byUserId(userId)!;
}

async function attempt(username: string, password: string): Promise<{ code: number; text: string; sessionKey?: string }> {
  try {
    const { sessionKey } = await accounts.login(username, password);
    return { code: 200, text: 'ok', sessionKey };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.errorCode, text: error.message };
  }
}

/** A failed login, then the clock moved past whatever wait it earned. */
async function failOnce(username: string): Promise<{ code: number; text: string }> {
  const result = await attempt(username, 'wrong-pw');
  clock += 61_000;
  return result;
}

const stateOf = (userId: number) => (t.engine.db.prepare('SELECT state, login_attempts FROM users WHERE id=?').get(userId) as { state: string; login_attempts: number });

describe('failed logins (incorrect.login.attempts.allowed, CloudStack default 5)', () => {
  it('answers 531 with CloudStack\'s text, and disables a user at the fifth failure', async () => {
    const user = newUser();
    for (let i = 1; i <= 4; i++) {
      expect(await failOnce(user.username)).toEqual({ code: 531, text: `Failed to authenticate user ${user.username} in domain /; please provide valid credentials` });
      expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: i });
    }
    await failOnce(user.username);
    expect(stateOf(user.userId)).toEqual({ state: 'disabled', login_attempts: 5 });
    // The right password no longer opens a session, and the user's API keys stop working too.
    const keys = accounts.registerKeys(user.userId);
    expect(await attempt(user.username, 'right-pw')).toEqual({ code: 531, text: `User ${user.username} (or their account) in domain ROOT is disabled/locked. Please contact the administrator.` });
    expect(accounts.byApiKey(keys.apiKey)).toBeUndefined();
    const listed = (await t.call('listAccounts', { name: user.accountName })).body['account'] as { user: { state: string }[] }[];
    expect(listed[0]!.user[0]!.state).toBe('disabled');
    const disabled = ((await t.call('listUsers', { state: 'disabled' })).body['user'] as { username: string }[]).map((u) => u.username);
    expect(disabled).toContain(user.username);
  });

  it('answers an unknown user exactly as a wrong password (no hint which usernames exist)', async () => {
    expect(await attempt('no-such-user', 'whatever')).toEqual({ code: 531, text: 'Failed to authenticate user no-such-user in domain /; please provide valid credentials' });
  });

  it('lets the user in again after enableUser, with a fresh count', async () => {
    const user = newUser();
    for (let i = 0; i < 5; i++) await failOnce(user.username);
    expect(stateOf(user.userId).state).toBe('disabled');
    const res = await t.call('enableUser', { id: user.userUuid });
    expect(res.status).toBe(200);
    expect((res.body['user'] as { state: string }).state).toBe('enabled');
    expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: 0 });
    expect((await attempt(user.username, 'right-pw')).code).toBe(200);
  });

  it('resets the count on a successful login', async () => {
    const user = newUser();
    for (let i = 0; i < 4; i++) await failOnce(user.username);
    expect((await attempt(user.username, 'right-pw')).code).toBe(200);
    expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: 0 });
    for (let i = 0; i < 4; i++) await failOnce(user.username);
    expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: 4 });
  });

  it('never disables a root admin (CloudStack\'s internal accounts), only slows it down', async () => {
    const admin = newUser('Admin');
    for (let i = 0; i < 8; i++) await failOnce(admin.username);
    expect(stateOf(admin.userId).state).toBe('enabled');
    expect((await attempt(admin.username, 'right-pw')).code).toBe(200);
  });

  it('does not disable anyone when the setting is 0 or less', async () => {
    t.engine.settings.set('incorrect.login.attempts.allowed', '0');
    try {
      const user = newUser();
      for (let i = 0; i < 7; i++) await failOnce(user.username);
      expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: 0 });
    } finally {
      t.engine.settings.set('incorrect.login.attempts.allowed', '5');
    }
  });

  it('refuses a login naming another domain than the user\'s (531) without counting it against the user', async () => {
    const user = newUser();
    await expect(accounts.login(user.username, 'right-pw', '/elsewhere/')).rejects.toMatchObject({ errorCode: 531 });
    expect(stateOf(user.userId)).toEqual({ state: 'enabled', login_attempts: 0 });
    clock += 61_000;
  });
});

describe('the login throttle', () => {
  it('makes a user wait after the third failure, refusing even the right password until then', async () => {
    const user = newUser();
    for (let i = 0; i < 2; i++) expect((await attempt(user.username, 'wrong-pw')).code).toBe(531);
    // Two failures cost nothing; the third earns a 1 s wait.
    expect((await attempt(user.username, 'wrong-pw')).text).toMatch(/^Failed to authenticate/);
    const refused = await attempt(user.username, 'right-pw');
    expect(refused).toEqual({ code: 531, text: `too many failed logins for user ${user.username}; try again in 1 s` });
    // A refused attempt is not a failure: the count stays at 3.
    expect(stateOf(user.userId).login_attempts).toBe(3);
    clock += 1000;
    expect((await attempt(user.username, 'wrong-pw')).code).toBe(531);
    expect((await attempt(user.username, 'right-pw')).text).toBe(`too many failed logins for user ${user.username}; try again in 2 s`);
    clock += 2000;
    expect((await attempt(user.username, 'right-pw')).code).toBe(200);
  });

  it('checks one password of a user at a time: a parallel guess is refused', async () => {
    const user = newUser();
    const results = await Promise.all([attempt(user.username, 'wrong-pw'), attempt(user.username, 'wrong-pw'), attempt(user.username, 'wrong-pw')]);
    expect(results.map((r) => r.text.startsWith('too many failed logins'))).toEqual([false, true, true]);
    expect(stateOf(user.userId).login_attempts).toBe(1);
    clock += 61_000;
  });

  it('checks the password off the event loop (a timer set before the login runs before it answers)', async () => {
    const user = newUser();
    const order: string[] = [];
    setImmediate(() => order.push('timer'));
    await attempt(user.username, 'right-pw').then(() => order.push('login'));
    expect(order).toEqual(['timer', 'login']);
  });
});

describe('session keys', () => {
  it('are stored only as their SHA-256', async () => {
    const user = newUser();
    const { sessionKey } = await attempt(user.username, 'right-pw');
    const rows = t.engine.db.prepare('SELECT * FROM sessions WHERE user_id=?').all(user.userId) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(sessionKey);
    expect(rows[0]!['key_hash']).toBe(createHash('sha256').update(sessionKey!).digest('hex'));
    expect(accounts.bySession(sessionKey!, 1800)?.userId).toBe(user.userId);
    accounts.logout(sessionKey!);
    expect(accounts.bySession(sessionKey!, 1800)).toBeUndefined();
  });

  it('expire: a session past its time is refused, and the next login clears every expired row', async () => {
    const user = newUser();
    const { sessionKey } = await attempt(user.username, 'right-pw');
    t.engine.db.prepare(`UPDATE sessions SET expires='2001-01-01T00:00:00.000Z' WHERE user_id=?`).run(user.userId);
    const other = newUser();
    const stale = await attempt(other.username, 'right-pw');
    t.engine.db.prepare(`UPDATE sessions SET expires='2001-01-01T00:00:00.000Z' WHERE user_id=?`).run(other.userId);
    expect(accounts.bySession(sessionKey!, 1800)).toBeUndefined();
    expect(stale.sessionKey).toBeDefined();
    await attempt(user.username, 'right-pw');
    expect(t.engine.db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE expires < '2002'`).get()).toEqual({ n: 0 });
  });

  it('migration 10 drops the plain session keys of an older database', async () => {
    const { MIGRATIONS } = await import('../../main/engine/db/migrations.js');
    const { migrate } = await import('../../main/engine/db/database.js');
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS.filter((m) => m.version < 10));
    db.prepare(`INSERT INTO domains (uuid, name, path, created) VALUES ('d','ROOT','/','x')`).run();
    db.prepare(`INSERT INTO accounts (uuid, name, domain_id, role, created) VALUES ('a','admin',1,'Admin','x')`).run();
    db.prepare(`INSERT INTO users (uuid, username, account_id, created) VALUES ('u','admin',1,'x')`).run();
    db.prepare(`INSERT INTO sessions (key, user_id, created, expires) VALUES ('plain-session-key',1,'x','9999-01-01')`).run();
    migrate(db, MIGRATIONS);
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual({ n: 0 });
    expect((db.prepare('PRAGMA table_info(sessions)').all() as { name: string }[]).map((c) => c.name)).toEqual(['key_hash', 'user_id', 'created', 'expires']);
    db.close();
  });
});

describe('updateUser', () => {
  it('needs the current password when a user changes its own, and names the parameter', async () => {
    const user = newUser();
    const missing = await t.call('updateUser', { id: user.userUuid, password: 'new-pw-1' }, user);
    expect(missing.status).toBe(431);
    expect(missing.body['errortext']).toMatch(/^currentpassword:/);
    const wrong = await t.call('updateUser', { id: user.userUuid, password: 'new-pw-1', currentpassword: 'nope-nope' }, user);
    expect(wrong.status).toBe(431);
    expect(wrong.body['errortext']).toBe('currentpassword: the current password is incorrect');
    const ok = await t.call('updateUser', { id: user.userUuid, password: 'new-pw-1', currentpassword: 'right-pw' }, user);
    expect(ok.status).toBe(200);
    expect(ok.body['user']).toMatchObject({ id: user.userUuid, username: user.username, state: 'enabled' });
    expect((await t.engine.accounts.login(user.username, 'new-pw-1')).caller.userId).toBe(user.userId);
    await expect(t.engine.accounts.login(user.username, 'right-pw')).rejects.toMatchObject({ errorCode: 531 });
  });

  it('lets an admin set a password without the current one, and ends the user\'s sessions', async () => {
    const user = newUser();
    const { sessionKey } = await attempt(user.username, 'right-pw');
    const res = await t.call('updateUser', { id: user.userUuid, password: 'admin-set-pw', firstname: 'Ada', email: 'ada@example.org' });
    expect(res.status).toBe(200);
    expect(res.body['user']).toMatchObject({ firstname: 'Ada', email: 'ada@example.org' });
    expect(accounts.bySession(sessionKey!, 1800)).toBeUndefined();
    expect((await attempt(user.username, 'admin-set-pw')).code).toBe(200);
  });

  it('refuses a short or blank password, and a blank name, with 431 and changes nothing', async () => {
    const user = newUser();
    const before = t.engine.db.prepare('SELECT password_hash FROM users WHERE id=?').get(user.userId);
    for (const password of ['abc', '      ']) {
      const res = await t.call('updateUser', { id: user.userUuid, password, firstname: 'Changed' });
      expect(res.status).toBe(431);
      expect(res.body['errortext']).toMatch(/^password:/);
    }
    for (const name of ['username', 'firstname', 'lastname']) {
      const res = await t.call('updateUser', { id: user.userUuid, [name]: '  ', password: 'long-enough' });
      expect([res.status, res.body['errortext']]).toEqual([431, `${name}: cannot be blank`]);
    }
    expect(t.engine.db.prepare('SELECT password_hash FROM users WHERE id=?').get(user.userId)).toEqual(before);
    expect((t.engine.db.prepare('SELECT firstname FROM users WHERE id=?').get(user.userId) as { firstname: string }).firstname).not.toBe('Changed');
  });

  it('refuses users outside the caller\'s reach with 531: another account, or a root admin for a domain admin (updateUser, registerUserKeys)', async () => {
    const user = newUser();
    const other = newUser();
    const domainAdmin = newUser('DomainAdmin');
    expect((await t.call('updateUser', { id: other.userUuid, firstname: 'x' }, user)).status).toBe(531);
    expect((await t.call('updateUser', { id: t.admin.userUuid, password: 'taken-over' }, domainAdmin)).status).toBe(531);
    // A domain admin of ROOT has every account of ROOT in reach, but not the root admin's user.
    expect((await t.call('registerUserKeys', { id: t.admin.userUuid }, domainAdmin)).status).toBe(531);
    expect((await t.call('registerUserKeys', { id: user.userUuid }, domainAdmin)).status).toBe(200);
    expect((await t.call('enableUser', { id: user.userUuid }, user)).status).toBe(432);
    expect((await t.call('updateUser', { id: user.userUuid, username: other.username }, user)).status).toBe(431);
  });

  it('is listed by listApis with its parameters', async () => {
    const api = ((await t.call('listApis', { name: 'updateUser' }, newUser())).body['api'] as { name: string; params: { name: string; required: boolean }[] }[])[0]!;
    expect(api.name).toBe('updateUser');
    expect(api.params.map((p) => p.name)).toEqual(expect.arrayContaining(['id', 'password', 'currentpassword', 'firstname', 'lastname', 'email', 'username']));
    expect(api.params.find((p) => p.name === 'id')!.required).toBe(true);
  });

  it('removes initial-admin-password once the first admin\'s password is changed, not before', async () => {
    const file = join(t.dataDir, 'initial-admin-password');
    expect(existsSync(file)).toBe(true);
    expect((await t.call('updateUser', { id: t.admin.userUuid, firstname: 'Root' })).status).toBe(200);
    expect(existsSync(file)).toBe(true);
    expect((await t.call('updateUser', { id: t.admin.userUuid, password: 'a-new-admin-pw' })).status).toBe(200);
    expect(existsSync(file)).toBe(false);
    expect((await t.engine.accounts.login('admin', 'a-new-admin-pw')).caller.userId).toBe(t.admin.userId);
  });
});

describe('data directory modes', () => {
  const modeOf = (path: string) => statSync(path).mode & 0o777;
  const filesOf = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();

  it('leaves alone what is not the directory\'s own: a file behind a symbolic link, another user\'s file, a shared sticky directory', () => {
    const base = mkdtempSync(join(tmpdir(), 'kiln-modes-'));
    try {
      const outside = join(base, 'outside.txt');
      writeFileSync(outside, 'x', { mode: 0o644 });
      const dir = join(base, 'data');
      mkdirSync(dir, { mode: 0o755 });
      symlinkSync(outside, join(dir, 'link.txt'));
      writeFileSync(join(dir, 'own.txt'), 'x', { mode: 0o644 });
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        writeFileSync(join(dir, 'theirs.txt'), 'x', { mode: 0o644 });
        chownSync(join(dir, 'theirs.txt'), 65534, 65534);
      }
      const problems = secureDataDir(dir);
      expect([modeOf(dir), modeOf(join(dir, 'own.txt')), modeOf(outside)]).toEqual([0o700, 0o600, 0o644]);
      if (asRoot) {
        expect(modeOf(join(dir, 'theirs.txt'))).toBe(0o644);
        expect(problems).toEqual([`${join(dir, 'theirs.txt')}: owned by uid 65534, not by this user`]);
      }

      const sticky = join(base, 'shared');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      writeFileSync(join(sticky, 'someone.txt'), 'x', { mode: 0o644 });
      expect(secureDataDir(sticky)).toEqual([`${sticky} is a shared (sticky) directory; give Kiln a data directory of its own`]);
      expect([statSync(sticky).mode & 0o7777, modeOf(join(sticky, 'someone.txt'))]).toEqual([0o1777, 0o644]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('makes the directory 0700 and kiln.db, its -wal and -shm and every other file 0600, also when they already existed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-modes-'));
    const previous = process.umask(0o022);
    try {
      let engine = await Engine.open({ dataDir: dir, background: false, log: silentLogger });
      expect(modeOf(dir)).toBe(0o700);
      expect(filesOf(dir)).toEqual(expect.arrayContaining(['initial-admin-password', 'kiln.db', 'kiln.db-shm', 'kiln.db-wal', 'master.key', 'simulator.json']));
      for (const name of filesOf(dir)) expect([name, modeOf(join(dir, name))]).toEqual([name, 0o600]);
      await engine.close();

      // A directory left open to others: dir 0755, every file 0644, a -wal and -shm kept alive by another connection.
      const other = new Database(join(dir, 'kiln.db'));
      other.pragma('journal_mode = WAL');
      other.prepare('SELECT COUNT(*) FROM users').get();
      writeFileSync(join(dir, 'notes.txt'), 'x');
      chmodSync(dir, 0o755);
      for (const name of filesOf(dir)) chmodSync(join(dir, name), 0o644);
      expect(modeOf(join(dir, 'kiln.db-wal'))).toBe(0o644);
      engine = await Engine.open({ dataDir: dir, background: false, log: silentLogger });
      expect(modeOf(dir)).toBe(0o700);
      for (const name of filesOf(dir)) expect([name, modeOf(join(dir, name))]).toEqual([name, 0o600]);
      // Files written while running stay private (the simulator saves its state on every change).
      engine.simulator.world.save();
      expect(modeOf(join(dir, 'simulator.json'))).toBe(0o600);
      other.close();
      await engine.close();
    } finally {
      process.umask(previous);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

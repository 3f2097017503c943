/**
 * Login sessions over real HTTP against `kiln serve`, as CloudStack has them: the session key must
 * come as the `sessionkey` parameter and as the cookie login set (either alone is 401), a failed
 * login is 531, a login over GET 405, logout ends the session, and the serve-mode UI (its own cookie and X-Kiln-UI, no
 * login session) keeps working. updateUser over a session removes initial-admin-password.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;

interface Login {
  sessionKey: string;
  cookie: string;
  userId: string;
}

async function login(username: string, password: string): Promise<Login> {
  const res = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams({ command: 'login', username, password, response: 'json' }) });
  expect(res.status).toBe(200);
  const body = ((await res.json()) as { loginresponse: { sessionkey: string; userid: string } }).loginresponse;
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
  expect(cookie).toContain(`sessionkey=${body.sessionkey}`);
  return { sessionKey: body.sessionkey, cookie, userId: body.userid };
}

function call(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(kiln.apiUrl, { method: 'POST', headers, body: new URLSearchParams({ response: 'json', ...params }) });
}

beforeAll(async () => {
  kiln = await startKiln({ uiStandIn: true });
});
afterAll(async () => {
  await kiln?.stop();
});

const adminPassword = () => readFileSync(join(kiln.dataDir, 'initial-admin-password'), 'utf8').trim();

describe('the data directory of kiln serve', () => {
  it('is 0700 and every file in it (kiln.db, -wal, -shm, server.json, master.key, …) 0600', () => {
    expect(statSync(kiln.dataDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(kiln.dataDir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    expect(files).toEqual(expect.arrayContaining(['kiln.db', 'kiln.db-wal', 'kiln.db-shm', 'server.json', 'master.key', 'initial-admin-password']));
    expect(files.map((name) => [name, statSync(join(kiln.dataDir, name)).mode & 0o777])).toEqual(files.map((name) => [name, 0o600]));
  });
});

describe('login sessions', () => {
  it('need the sessionkey parameter and the cookie: either alone, or two different keys, is 401', async () => {
    const a = await login('admin', adminPassword());
    const b = await login('admin', adminPassword());
    const both = await call({ command: 'listZones', sessionkey: a.sessionKey }, { Cookie: a.cookie });
    expect(both.status).toBe(200);
    expect(((await both.json()) as { listzonesresponse: { count: number } }).listzonesresponse.count).toBe(1);

    const paramOnly = await call({ command: 'listZones', sessionkey: a.sessionKey });
    expect(paramOnly.status).toBe(401);
    expect(await paramOnly.json()).toMatchObject({ listzonesresponse: { errorcode: 401, errortext: expect.stringMatching(/sessionkey parameter as well as its cookie/) } });
    const cookieOnly = await call({ command: 'listZones' }, { Cookie: a.cookie });
    expect(cookieOnly.status).toBe(401);
    const crossed = await call({ command: 'listZones', sessionkey: a.sessionKey }, { Cookie: b.cookie });
    expect(crossed.status).toBe(401);
  });

  it('end at logout', async () => {
    const s = await login('admin', adminPassword());
    const out = await call({ command: 'logout', sessionkey: s.sessionKey }, { Cookie: s.cookie });
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ logoutresponse: { description: 'success' } });
    expect((await call({ command: 'listZones', sessionkey: s.sessionKey }, { Cookie: s.cookie })).status).toBe(401);
  });

  it('answer a wrong password with 531 and CloudStack\'s text', async () => {
    const res = await call({ command: 'login', username: 'admin', password: 'not-the-password' });
    expect(res.status).toBe(531);
    expect(await res.json()).toEqual({ loginresponse: { uuidList: [], errorcode: 531, cserrorcode: expect.any(Number), errortext: 'Failed to authenticate user admin in domain /; please provide valid credentials' } });
  });

  it('refuse a login over GET (the password would sit in URLs and logs) with 405, as CloudStack does', async () => {
    const res = await fetch(`${kiln.apiUrl}?${new URLSearchParams({ command: 'login', username: 'admin', password: adminPassword(), response: 'json' }).toString()}`);
    expect(res.status).toBe(405);
    expect(await res.json()).toMatchObject({ loginresponse: { errorcode: 405, errortext: 'Please use HTTP POST to authenticate using this API' } });
  });

  it('leave the serve-mode UI alone: its cookie and X-Kiln-UI work, also beside a stale sessionkey cookie', async () => {
    const token = await fetch(kiln.uiUrl!, { redirect: 'manual' });
    expect(token.status).toBe(302);
    const ui = token.headers.getSetCookie()[0]!.split(';')[0]!;
    const res = await call({ command: 'listZones' }, { Cookie: ui, 'X-Kiln-UI': '1' });
    expect(res.status).toBe(200);
    const stale = await call({ command: 'listZones' }, { Cookie: `${ui}; sessionkey=stale-key`, 'X-Kiln-UI': '1' });
    expect(stale.status).toBe(200);
    // The UI cookie without the header is not a credential (a form on another page cannot add it).
    expect((await call({ command: 'listZones' }, { Cookie: ui })).status).toBe(401);
  });

  it('let the admin change its password with updateUser, which removes initial-admin-password', async () => {
    const file = join(kiln.dataDir, 'initial-admin-password');
    const s = await login('admin', adminPassword());
    const res = await call({ command: 'updateUser', id: s.userId, password: 'changed-admin-pw', sessionkey: s.sessionKey }, { Cookie: s.cookie });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { updateuserresponse: { user: { username: string } } }).updateuserresponse.user.username).toBe('admin');
    expect(existsSync(file)).toBe(false);
    // The password change ended the session it was made in; the new password opens a new one.
    expect((await call({ command: 'listZones', sessionkey: s.sessionKey }, { Cookie: s.cookie })).status).toBe(401);
    const again = await login('admin', 'changed-admin-pw');
    expect((await call({ command: 'listZones', sessionkey: again.sessionKey }, { Cookie: again.cookie })).status).toBe(200);
  });
});

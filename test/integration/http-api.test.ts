/**
 * The HTTP transport as any client sees it: Mold-style HMAC-SHA256 over GET and POST, the
 * `kiln api` CLI, XML responses, login sessions, and the integration port off by default.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../main/engine/auth/signing.js';
import { WebSocket } from 'ws';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;

function signed(params: Record<string, string>, algorithm: 'HmacSHA256' | 'HmacSHA1' = 'HmacSHA256'): URLSearchParams {
  return new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', ...params }, kiln.secretKey, algorithm));
}

// The kiln CLI as a child the test awaits: execFileSync would stall this process's event loop
// for the CLI's whole run, so the keep-alive socket of the previous fetch, which the server closes
// when it idles past its keep-alive timeout, would be reused before its close is read ('other side
// closed', seen under load in CI).
const kilnCli = async (args: string[]): Promise<string> =>
  (await promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'kiln.js'), ...args], { encoding: 'utf8' })).stdout;

describe('HTTP /client/api', () => {
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  it('listens on 127.0.0.1 by default', () => {
    expect(kiln.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/api$/);
  });

  it('verifies an HMAC-SHA256 signature on GET and on POST, with a Hangul parameter', async () => {
    const params = { command: 'listVirtualMachines', keyword: '데모 demo*~', signatureversion: '3', expires: new Date(Date.now() + 60_000).toISOString() };
    const get = await fetch(`${kiln.apiUrl}?${signed(params).toString()}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toMatch(/^application\/json/);
    const post = await fetch(kiln.apiUrl, { method: 'POST', body: signed({ command: 'listVirtualMachines', keyword: 'demo' }) });
    expect(post.status).toBe(200);
    expect(((await post.json()) as { listvirtualmachinesresponse: { count: number } }).listvirtualmachinesresponse.count).toBe(2);
  });

  it('answers a tampered request with 401 and the error envelope', async () => {
    const query = signed({ command: 'listZones' });
    query.set('command', 'listHosts');
    const res = await fetch(`${kiln.apiUrl}?${query.toString()}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ listhostsresponse: { uuidList: [], errorcode: 401, cserrorcode: 9999, errortext: 'unable to verify user credentials and/or request signature' } });
  });

  it('speaks XML when response=xml (and by default)', async () => {
    const query = signed({ command: 'listZones', response: 'xml' });
    const res = await fetch(`${kiln.apiUrl}?${query.toString()}`);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    const body = await res.text();
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><listzonesresponse cloud-stack-version="[\d.]+"><count>1<\/count><zone>.*<name>Demo<\/name>.*<\/zone><\/listzonesresponse>$/);
  });

  it('logs in with a password and works with the session key', async () => {
    const password = execFileSync('cat', [join(kiln.dataDir, 'initial-admin-password')], { encoding: 'utf8' }).trim();
    const login = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams({ command: 'login', username: 'admin', password, response: 'json' }) });
    expect(login.status).toBe(200);
    const session = ((await login.json()) as { loginresponse: { sessionkey: string; username: string } }).loginresponse;
    expect(session.username).toBe('admin');
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/sessionkey=[^;]+; Path=\/client; HttpOnly/);
    // As CloudStack: the key as a parameter and the cookie, both (test/integration/sessions.test.ts has the refusals).
    const list = await fetch(`${kiln.apiUrl}?command=listZones&response=json&sessionkey=${encodeURIComponent(session.sessionkey)}`, { headers: { Cookie: `sessionkey=${session.sessionkey}` } });
    expect(list.status).toBe(200);
    const bad = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams({ command: 'login', username: 'admin', password: 'wrong', response: 'json' }) });
    expect(bad.status).toBe(531);
    const noAuth = await fetch(`${kiln.apiUrl}?command=listZones&response=json`);
    expect(noAuth.status).toBe(401);
  });

  it('signs calls from the kiln api CLI', async () => {
    const out = await kilnCli(['api', '--data-dir', kiln.dataDir, 'listZones', 'name=Demo']);
    expect(JSON.parse(out)).toMatchObject({ listzonesresponse: { count: 1, zone: [{ name: 'Demo' }] } });
  });

  it('lets kiln keys and kiln api run beside the server without declaring its jobs orphaned', async () => {
    const slow = await fetch(kiln.apiUrl, { method: 'POST', body: signed({ command: 'listZones' }) });
    expect(slow.status).toBe(200);
    // A job left in progress by this very server must survive another tool opening the database.
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(kiln.dataDir, 'kiln.db'));
    const owner = (db.prepare('SELECT owner FROM async_jobs ORDER BY id DESC LIMIT 1').get() as { owner: string } | undefined)?.owner ?? 'live-server';
    db.prepare(`INSERT INTO async_jobs (uuid, cmd, params, status, owner, created) VALUES ('22222222-3333-4444-8555-666666666666','startVirtualMachine','{}',0,?,?)`).run(owner, new Date().toISOString());
    db.close();
    await kilnCli(['keys', '--data-dir', kiln.dataDir]);
    await kilnCli(['api', '--data-dir', kiln.dataDir, 'listZones']);
    const check = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    expect(check.prepare(`SELECT status FROM async_jobs WHERE uuid='22222222-3333-4444-8555-666666666666'`).get()).toEqual({ status: 0 });
    check.close();
  });

  it('keeps the unauthenticated integration port off by default', async () => {
    expect(kiln.output()).not.toMatch(/Integration API/);
    const config = await fetch(`${kiln.apiUrl}?${signed({ command: 'listConfigurations', name: 'integration.api.port' }).toString()}`);
    const value = ((await config.json()) as { listconfigurationsresponse: { configuration: { value: string }[] } }).listconfigurationsresponse.configuration[0]!.value;
    expect(value).toBe('0');
  });
});

describe('console endpoint (R31)', () => {
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  it('hands out a one-time WebSocket URL onto the serial console of a running VM', async () => {
    const vms = await fetch(`${kiln.apiUrl}?${signed({ command: 'listVirtualMachines', name: 'demo-web' }).toString()}`);
    const vm = ((await vms.json()) as { listvirtualmachinesresponse: { virtualmachine: { id: string }[] } }).listvirtualmachinesresponse.virtualmachine[0]!;
    const res = await fetch(kiln.apiUrl, { method: 'POST', body: signed({ command: 'createConsoleEndpoint', virtualmachineid: vm.id }) });
    const endpoint = ((await res.json()) as { createconsoleendpointresponse: { consoleendpoint: { url: string; success: boolean } } }).createconsoleendpointresponse.consoleendpoint;
    expect(endpoint.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/kiln\/console\?token=/);
    const ws = new WebSocket(endpoint.url);
    let out = '';
    ws.on('message', (data: Buffer) => (out += data.toString()));
    await new Promise((resolve) => ws.once('open', resolve));
    await expect.poll(() => out).toContain('KILN-GUEST-READY');
    ws.send('echo hello-console\r');
    await expect.poll(() => out).toContain('hello-console\r\n');
    ws.close();
    // The token is spent.
    const again = new WebSocket(endpoint.url);
    const status = await new Promise<number>((resolve) => again.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0)));
    expect(status).toBe(401);
  });
});

/**
 * `kiln serve` with the integration port on: a first process (its own data directory) sets
 * integration.api.port to a free port through the signed API and stops, and a second one starts
 * on that data directory. The caller stops `second` and removes `dataDir`.
 */
async function serveWithIntegrationPort(): Promise<{ second: KilnProcess; dataDir: string; port: number }> {
  const first = await startKiln({ args: ['--no-ui'], dataDir: mkdtempSync(join(tmpdir(), 'kiln-int-')) });
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  kiln = first;
  await fetch(kiln.apiUrl, { method: 'POST', body: signed({ command: 'updateConfiguration', name: 'integration.api.port', value: String(port) }) });
  await first.stop();
  return { second: await startKiln({ args: ['--no-ui'], dataDir: first.dataDir }), dataDir: first.dataDir, port };
}

describe('the integration port', () => {
  it('is unauthenticated, answers XML by default, and listens only on 127.0.0.1 once integration.api.port is set', async () => {
    const { second, dataDir, port } = await serveWithIntegrationPort();
    try {
      // startKiln returns at the API: line; the next line can reach the pipe in a later chunk.
      await expect.poll(() => second.output(), { timeout: 10_000 }).toMatch(new RegExp(`Integration API \\(unauthenticated, 127\\.0\\.0\\.1 only\\): http://127\\.0\\.0\\.1:${port}/client/api`));
      const res = await fetch(`http://127.0.0.1:${port}/client/api?command=listZones`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^<\?xml .*<listzonesresponse .*<name>Demo<\/name>/);
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses login and logout as CloudStack\'s integration port does, and changes a password with updateUser as a root admin would', async () => {
    // CloudStack's ApiServer runs every integration-port call as the system account and refuses
    // only its authenticators (login, logout) there; updateUser password= is a root admin's call.
    const { second, dataDir, port } = await serveWithIntegrationPort();
    const integration = `http://127.0.0.1:${port}/client/api`;
    const post = (url: string, params: Record<string, string>) => fetch(url, { method: 'POST', body: new URLSearchParams({ response: 'json', ...params }) });
    try {
      const created = await post(integration, { command: 'createAccount', username: 'int-user', password: 'first-secret', email: 'i@example.org', firstname: 'I', lastname: 'U', accounttype: '0' });
      expect(created.status).toBe(200);
      const userId = ((await created.json()) as { createaccountresponse: { account: { user: { id: string }[] } } }).createaccountresponse.account.user[0]!.id;

      for (const command of ['login', 'logout']) {
        const res = await post(integration, { command, username: 'int-user', password: 'first-secret' });
        expect(res.status).toBe(432);
        const body = (await res.json()) as Record<string, { errorcode: number; errortext: string; sessionkey?: string }>;
        expect(body[`${command}response`]).toMatchObject({ errorcode: 432, errortext: `${command} is not available on the integration port: every call here runs as the local admin; log in on the main API port` });
        expect(body[`${command}response`]!.sessionkey).toBeUndefined();
        expect(res.headers.get('set-cookie')).toBeNull();
      }

      const changed = await post(integration, { command: 'updateUser', id: userId, password: 'second-secret' });
      expect(changed.status).toBe(200);
      expect((await post(second.apiUrl, { command: 'login', username: 'int-user', password: 'first-secret' })).status).toBe(531);
      const login = await post(second.apiUrl, { command: 'login', username: 'int-user', password: 'second-secret' });
      expect(login.status).toBe(200);
      expect(((await login.json()) as { loginresponse: { username: string } }).loginresponse.username).toBe('int-user');
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

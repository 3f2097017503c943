/**
 * The transport's guard, against a real `kiln serve`: no malformed request or upgrade stops the
 * process (issue 10, security 1), a foreign Host header is refused on every path (the
 * DNS-rebinding guard), the console URL comes from the bound address, and over-long requests
 * get CloudStack's error envelope rather than a reset (R61).
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { signRequest } from '../../main/engine/auth/signing.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { getWithHost, rawRequest, upgradeLines } from '../helpers/raw-http.js';

function signedQuery(kiln: KilnProcess, params: Record<string, string>): string {
  return new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', ...params }, kiln.secretKey)).toString();
}

async function stillServes(kiln: KilnProcess): Promise<void> {
  expect(kiln.child.exitCode, kiln.output()).toBeNull();
  const res = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listZones' })}`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { listzonesresponse: { count: number } }).listzonesresponse.count).toBe(1);
}

const portOf = (kiln: KilnProcess) => Number(new URL(kiln.apiUrl).port);

describe('no request stops kiln serve (serve mode with the UI and its /kiln/live channel)', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    // A one-page stand-in for the built renderer: this suite tests the transport, not the UI.
    kiln = await startKiln({ uiStandIn: true });
    expect(kiln.uiUrl).toBeDefined();
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it('refuses a /kiln/live upgrade with a malformed kiln_ui cookie with 401 and keeps serving', async () => {
    const host = `127.0.0.1:${portOf(kiln)}`;
    const answer = await rawRequest(portOf(kiln), upgradeLines('/kiln/live', host, ['Cookie: kiln_ui=%', `Origin: http://${host}`]));
    expect(answer.status).toBe(401);
    await stillServes(kiln);
  });

  it('refuses an upgrade to an unparseable URL with 400 and keeps serving', async () => {
    const answer = await rawRequest(portOf(kiln), upgradeLines('//[', `127.0.0.1:${portOf(kiln)}`));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('not a valid URL path');
    await stillServes(kiln);
  });

  it('answers a plain request to an unparseable URL or with a malformed UI cookie with 400/401, not 500', async () => {
    const host = `Host: 127.0.0.1:${portOf(kiln)}`;
    expect((await rawRequest(portOf(kiln), ['GET //[ HTTP/1.1', host, 'Connection: close'])).status).toBe(400);
    expect((await rawRequest(portOf(kiln), ['GET / HTTP/1.1', host, 'Cookie: kiln_ui=%E0%A4%A', 'Connection: close'])).status).toBe(401);
    expect((await rawRequest(portOf(kiln), ['NOT HTTP AT ALL', '', ''])).status).toBe(400);
    await stillServes(kiln);
  });

  it('answers a malformed sessionkey cookie on /client/api with 401 and the error envelope', async () => {
    const answer = await rawRequest(portOf(kiln), ['GET /client/api?command=listZones&response=json HTTP/1.1', `Host: 127.0.0.1:${portOf(kiln)}`, 'Cookie: sessionkey=%', 'Connection: close']);
    expect(answer.status).toBe(401);
    const body = JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as { listzonesresponse: { errorcode: number; cserrorcode: number } };
    expect(body.listzonesresponse).toMatchObject({ errorcode: 401, cserrorcode: 9999 });
    await stillServes(kiln);
  });

  it('answers a UI session\'s request for a path that is not valid percent-encoding with 400', async () => {
    const open = await fetch(kiln.uiUrl!, { redirect: 'manual' });
    expect(open.status).toBe(302);
    const cookie = (open.headers.get('set-cookie') ?? '').split(';')[0]!;
    const ok = await rawRequest(portOf(kiln), ['GET /index.html HTTP/1.1', `Host: 127.0.0.1:${portOf(kiln)}`, `Cookie: ${cookie}`, 'Connection: close']);
    expect(ok.status).toBe(200);
    const bad = await rawRequest(portOf(kiln), ['GET /%E0%A4%A HTTP/1.1', `Host: 127.0.0.1:${portOf(kiln)}`, `Cookie: ${cookie}`, 'Connection: close']);
    expect(bad.status).toBe(400);
    await stillServes(kiln);
  });

  it('answers an upgrade to a path nobody serves with 404', async () => {
    expect((await rawRequest(portOf(kiln), upgradeLines('/nothing', `127.0.0.1:${portOf(kiln)}`))).status).toBe(404);
    await stillServes(kiln);
  });
});

describe('no upgrade stops kiln serve --no-ui', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  it('refuses an upgrade to //[ with 400, and a console upgrade without a token with 401', async () => {
    const host = `127.0.0.1:${portOf(kiln)}`;
    expect((await rawRequest(portOf(kiln), upgradeLines('//[', host))).status).toBe(400);
    expect((await rawRequest(portOf(kiln), upgradeLines('/kiln/console?token=%', host, ['Cookie: x=%']))).status).toBe(401);
    await stillServes(kiln);
  });
});

describe('no WebSocket frame stops kiln serve', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  it('closes a console socket that sends an invalid frame, and keeps serving', async () => {
    const vms = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listVirtualMachines', name: 'demo-web' })}`);
    const vm = ((await vms.json()) as { listvirtualmachinesresponse: { virtualmachine: { id: string }[] } }).listvirtualmachinesresponse.virtualmachine[0]!;
    const res = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'createConsoleEndpoint', virtualmachineid: vm.id })}`);
    const url = new URL(((await res.json()) as { createconsoleendpointresponse: { consoleendpoint: { url: string } } }).createconsoleendpointresponse.consoleendpoint.url);
    const socket = connect(Number(url.port), '127.0.0.1');
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(`${upgradeLines(`${url.pathname}${url.search}`, url.host).join('\r\n')}\r\n\r\n`);
    await expect.poll(() => text).toMatch(/^HTTP\/1\.1 101 /);
    // A masked frame with the reserved bits set and an unknown opcode: ws reports it as an 'error'.
    socket.write(Buffer.from([0xf3, 0x81, 1, 2, 3, 4, 0x41]));
    await closed;
    await stillServes(kiln);
  });
});

describe('the Host header guard (DNS rebinding)', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    kiln = await startKiln({ uiStandIn: true });
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it('answers the bound address and the loopback names with the port', async () => {
    const port = portOf(kiln);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const res = await getWithHost(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listZones' })}`, host);
      expect(res.status, host).toBe(200);
    }
  });

  it('refuses any other Host, or none, on the API with 401 and the envelope naming the Host', async () => {
    const port = portOf(kiln);
    for (const host of [`evil.example:${port}`, 'localhost', `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const res = await getWithHost(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listZones' })}`, host);
      expect(res.status, host).toBe(401);
      const body = (JSON.parse(res.text) as { listzonesresponse: { errorcode: number; errortext: string } }).listzonesresponse;
      expect(body.errorcode).toBe(401);
      expect(body.errortext).toBe(`Host ${JSON.stringify(host)} is not an address this server answers to; use 127.0.0.1:${port} or localhost`);
    }
    // HTTP/1.1 without a Host header never reaches a handler: Node refuses it, and so does Kiln.
    const none = await getWithHost(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listZones' })}`, undefined);
    expect(none.status).toBe(400);
    const http10 = await rawRequest(port, [`GET /client/api?${signedQuery(kiln, { command: 'listZones' })} HTTP/1.0`]);
    expect(http10.status).toBe(401);
    expect(http10.text).toContain('no Host header is not an address this server answers to');
  });

  it('refuses a foreign Host on the UI (even with the token) and on WebSocket upgrades with 403', async () => {
    const token = new URL(kiln.uiUrl!).search;
    const ui = await getWithHost(`${new URL(kiln.apiUrl).origin}/${token}`, `rebind.example:${portOf(kiln)}`);
    expect(ui.status).toBe(403);
    for (const path of ['/kiln/live', '/kiln/console?token=x']) {
      const answer = await rawRequest(portOf(kiln), upgradeLines(path, `rebind.example:${portOf(kiln)}`, [`Origin: http://rebind.example:${portOf(kiln)}`]));
      expect(answer.status, path).toBe(403);
    }
    // The token was not spent by the refused request: it still opens the UI from a local Host.
    const local = await getWithHost(`${new URL(kiln.apiUrl).origin}/${token}`, `127.0.0.1:${portOf(kiln)}`);
    expect(local.status).toBe(302);
  });

  it('builds the console URL from the bound address, not from the Host header', async () => {
    const vms = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listVirtualMachines', name: 'demo-web' })}`);
    const vm = ((await vms.json()) as { listvirtualmachinesresponse: { virtualmachine: { id: string }[] } }).listvirtualmachinesresponse.virtualmachine[0]!;
    const res = await getWithHost(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'createConsoleEndpoint', virtualmachineid: vm.id })}`, `localhost:${portOf(kiln)}`);
    expect(res.status).toBe(200);
    const endpoint = (JSON.parse(res.text) as { createconsoleendpointresponse: { consoleendpoint: { url: string; websocket: { host: string } } } }).createconsoleendpointresponse.consoleendpoint;
    expect(endpoint.url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${portOf(kiln)}/kiln/console\\?token=`));
    expect(endpoint.websocket.host).toBe(`127.0.0.1:${portOf(kiln)}`);
  });
});

describe('request size limits (R61)', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  async function vmId(): Promise<string> {
    const vms = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listVirtualMachines', name: 'demo-web' })}`);
    return ((await vms.json()) as { listvirtualmachinesresponse: { virtualmachine: { id: string }[] } }).listvirtualmachinesresponse.virtualmachine[0]!.id;
  }

  it('refuses userdata over 2048 bytes on a GET with 431 naming userdata, and takes it by POST', async () => {
    const id = await vmId();
    const userdata = Buffer.from('#cloud-config\n' + 'x'.repeat(3000)).toString('base64');
    const get = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'updateVirtualMachine', id, userdata })}`);
    expect(get.status).toBe(431);
    const body = ((await get.json()) as { updatevirtualmachineresponse: { errorcode: number; errortext: string } }).updatevirtualmachineresponse;
    expect(body.errorcode).toBe(431);
    expect(body.errortext).toMatch(/^userdata: \d+ bytes is over the 2048-byte limit of a GET parameter; send it in the body of a POST$/);
    const post = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', command: 'updateVirtualMachine', id, userdata }, kiln.secretKey)) });
    expect(post.status).toBe(200);
  });

  it('answers a GET whose request line is over the header limit with the 431 envelope, not a reset', async () => {
    const huge = 'A'.repeat(300 * 1024);
    const res = await fetch(`${kiln.apiUrl}?command=updateVirtualMachine&response=json&userdata=${huge}`);
    expect(res.status).toBe(431);
    const answer = (await res.json()) as { updatevirtualmachineresponse: { errorcode: number; cserrorcode: number; errortext: string } };
    expect(answer.updatevirtualmachineresponse).toMatchObject({ errorcode: 431, cserrorcode: 4350 });
    expect(answer.updatevirtualmachineresponse.errortext).toMatch(/^userdata: the request line and headers are over 262144 bytes \(userdata alone is \d+ bytes or more\); send it in the body of a POST$/);
    // Far past the limit (8 MB, many chunks) the client still reads the answer rather than a reset.
    const far = await fetch(`${kiln.apiUrl}?command=listZones&response=json&keyword=${'a%2C'.repeat(2 * 1024 * 1024)}`);
    expect(far.status).toBe(431);
    expect(((await far.json()) as { listzonesresponse: { errorcode: number } }).listzonesresponse.errorcode).toBe(431);
    // Without response=json the envelope is XML, CloudStack's default.
    const xml = await fetch(`${kiln.apiUrl}?command=listZones&keyword=${huge}`);
    expect(xml.status).toBe(431);
    expect(await xml.text()).toMatch(/^<\?xml .*<listzonesresponse .*<errorcode>431<\/errorcode>.*<errortext>keyword: the request line and headers are over 262144 bytes/);
    // A 40 KB GET is read (Node's default 16 KB limit would reset it) and answered by name.
    const mid = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'updateVirtualMachine', id: await vmId(), userdata: 'A'.repeat(40 * 1024) })}`);
    expect(mid.status).toBe(431);
    expect(((await mid.json()) as { updatevirtualmachineresponse: { errortext: string } }).updatevirtualmachineresponse.errortext).toMatch(/^userdata: /);
    await stillServes(kiln);
  });

  it('keeps reading an over-long request line it has answered, so a client still writing sees the 431, not a reset', async () => {
    const socket = connect(portOf(kiln), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let text = '';
    let failure = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (failure = error.code ?? error.message));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write(`GET /client/api?command=listZones&response=json&keyword=${'k'.repeat(300 * 1024)}`);
    // More of the same request line, in pieces, after the server has already answered.
    for (let i = 0; i < 8 && !failure; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.write('k'.repeat(64 * 1024));
    }
    socket.end(' HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await ended;
    expect(failure).toBe('');
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toContain('"errorcode":431');
    await stillServes(kiln);
  });

  it('answers a request body over the limit with 431 and a message', async () => {
    const res = await fetch(`${kiln.apiUrl}?response=json&command=updateVirtualMachine`, { method: 'POST', body: `userdata=${'A'.repeat(3 * 1024 * 1024)}` });
    expect(res.status).toBe(431);
    expect(((await res.json()) as { updatevirtualmachineresponse: { errortext: string } }).updatevirtualmachineresponse.errortext).toBe('the request body is larger than 2097152 bytes; userdata is at most 32 KB once decoded');
    // The body's own command and response=json, after 3 MB, still decide the envelope.
    const inBody = await fetch(kiln.apiUrl, { method: 'POST', body: `userdata=${'A'.repeat(3 * 1024 * 1024)}&command=deployVirtualMachine&response=json` });
    expect(inBody.status).toBe(431);
    expect(inBody.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await inBody.json()) as { deployvirtualmachineresponse: { errorcode: number } }).deployvirtualmachineresponse.errorcode).toBe(431);
    await stillServes(kiln);
  });

  it('validates userdata on updateVirtualMachine as deploy does: base64, at most 32 KB decoded', async () => {
    const id = await vmId();
    const post = (userdata: string) => fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', command: 'updateVirtualMachine', id, userdata }, kiln.secretKey)) });
    const bad = await post('not base64!');
    expect(bad.status).toBe(431);
    expect(((await bad.json()) as { updatevirtualmachineresponse: { errortext: string } }).updatevirtualmachineresponse.errortext).toBe('userdata: must be base64');
    const big = await post(Buffer.alloc(32769, 1).toString('base64'));
    expect(big.status).toBe(431);
    expect(((await big.json()) as { updatevirtualmachineresponse: { errortext: string } }).updatevirtualmachineresponse.errortext).toBe('userdata: at most 32 KB once decoded');
    const ok = await post(Buffer.alloc(32768, 1).toString('base64'));
    expect(ok.status).toBe(200);
  });
});

describe('XML answers stay well-formed (issue 10, security 5)', () => {
  let kiln: KilnProcess;
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
  });
  afterAll(() => kiln?.stop());

  it('a crafted detail key or a control character is refused at the door, and one already stored cannot add elements to a listing', async () => {
    const crafted = 'a></serviceofferingdetails><name>injected</name><serviceofferingdetails><b';
    const offering = (extra: Record<string, string>) =>
      fetch(kiln.apiUrl, {
        method: 'POST',
        body: new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', command: 'createServiceOffering', name: 'xmltest', displaytext: 'bell', cpunumber: '1', cpuspeed: '500', memory: '256', ...extra }, kiln.secretKey)),
      });
    // The parameter check refuses both, naming the parameter (CloudStack refuses control characters too).
    const byKey = await offering({ 'serviceofferingdetails[0].key': crafted, 'serviceofferingdetails[0].value': '<v>&' });
    expect(byKey.status).toBe(431);
    expect(JSON.stringify(await byKey.json())).toContain('serviceofferingdetails');
    const byName = await offering({ name: 'xml\u0001test' });
    expect(byName.status).toBe(431);
    expect(JSON.stringify(await byName.json())).toContain('name');

    // What reached the database another way (a row from before the check, a name a hypervisor
    // reported) is still written well-formed: the crafted key encoded, the control characters stripped.
    const created = await offering({ 'serviceofferingdetails[0].key': 'plain', 'serviceofferingdetails[0].value': '<v>&' });
    expect(created.status).toBe(200);
    const db = new Database(join(kiln.dataDir, 'kiln.db'));
    try {
      db.prepare('UPDATE service_offerings SET name=?, display_text=?, details=? WHERE name=?').run('xml\u0001test', 'bell\u0007', JSON.stringify({ [crafted]: '<v>&' }), 'xmltest');
    } finally {
      db.close();
    }
    const list = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'listServiceOfferings', response: 'xml' })}`);
    const xml = await list.text();
    expect(XMLValidator.validate(xml)).toBe(true);
    const offerings = (new XMLParser({ parseTagValue: false }).parse(xml) as { listserviceofferingsresponse: { serviceoffering: { name: string; displaytext: string; serviceofferingdetails?: Record<string, string> }[] } }).listserviceofferingsresponse.serviceoffering;
    const mine = offerings.find((o) => o.name === 'xmltest')!;
    expect(mine.displaytext).toBe('bell');
    expect(Object.values(mine.serviceofferingdetails ?? {})).toEqual(['<v>&']);
    expect(offerings.filter((o) => o.name === 'injected')).toEqual([]);
    for (const o of offerings) expect(Array.isArray(o.name)).toBe(false);
  });

  it('an unknown command name gets a 432 envelope that parses', async () => {
    const res = await fetch(`${kiln.apiUrl}?${signedQuery(kiln, { command: 'no such<cmd>', response: 'xml' })}`);
    expect(res.status).toBe(432);
    const xml = await res.text();
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('<errortext>The given command no such&lt;cmd&gt; either does not exist');
  });
});

/**
 * §1.8 and §6.9 of xenapi.md: the VM console over CONNECT /console with the session, on the
 * VM's own host, speaking RFB 3.8 (None security, ServerInit with the VM's name, a raw update).
 */
import net from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';
import { CONSOLE_HEIGHT, CONSOLE_WIDTH } from './console.js';

let sim: RunningSim;
let s: Session;
let vm: string;
let consoleUuid: string;
beforeAll(async () => {
  sim = await startSimulator({ http: true, password: 'pw', vms: [{ name: 'desk top', power_state: 'Running', host: 1 }] });
  s = await Session.login(sim.info().url, 'root', 'pw');
  vm = (await s.call<string[]>('VM.get_by_name_label', 'desk top'))[0]!;
  const [c] = await s.call<string[]>('VM.get_consoles', vm);
  consoleUuid = await s.call<string>('console.get_uuid', c);
});
afterAll(() => sim.stop());

/** Opens a raw connection to a host address and collects what arrives. */
function connect(address: string, request: string): Promise<{ sock: net.Socket; read: (n: number) => Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(sim.port, address, () => {
      sock.write(request);
      let buf = Buffer.alloc(0);
      const waiters: Array<() => void> = [];
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        waiters.splice(0).forEach((w) => w());
      });
      sock.on('close', () => waiters.splice(0).forEach((w) => w()));
      const read = async (n: number): Promise<Buffer> => {
        while (buf.length < n && !sock.destroyed) await new Promise<void>((r) => waiters.push(r));
        const out = buf.subarray(0, Math.min(n, buf.length));
        buf = buf.subarray(out.length);
        return out;
      };
      resolve({ sock, read });
    });
    sock.on('error', reject);
  });
}

async function statusLine(read: (n: number) => Promise<Buffer>): Promise<string> {
  let text = '';
  while (!text.includes('\r\n\r\n')) {
    const b = await read(1);
    if (b.length === 0) break;
    text += b.toString('latin1');
  }
  return text.split('\r\n')[0]!;
}

describe('console (§6.9)', () => {
  it('the location names the VM\'s host, and CONNECT there with session_id speaks RFB 3.8 to a raw update', async () => {
    const [c] = await s.call<string[]>('VM.get_consoles', vm);
    expect(await s.call('console.get_location', c)).toBe(`https://127.0.0.2/console?uuid=${consoleUuid}`);
    const { sock, read } = await connect('127.0.0.2', `CONNECT /console?uuid=${consoleUuid}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
    expect(await statusLine(read)).toBe('HTTP/1.1 200 OK');
    expect((await read(12)).toString()).toBe('RFB 003.008\n');
    sock.write('RFB 003.008\n');
    expect([...(await read(2))]).toEqual([1, 1]);
    sock.write(Buffer.from([1]));
    expect((await read(4)).readUInt32BE(0)).toBe(0);
    sock.write(Buffer.from([1]));
    const init = await read(24);
    expect([init.readUInt16BE(0), init.readUInt16BE(2), init.readUInt8(4)]).toEqual([CONSOLE_WIDTH, CONSOLE_HEIGHT, 32]);
    expect((await read(init.readUInt32BE(20))).toString()).toBe('desk top');
    // A key event and a pointer event are taken silently; a full request gets one raw rectangle.
    sock.write(Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61, 5, 0, 0, 10, 0, 10]));
    const req = Buffer.from([3, 0, 0, 0, 0, 0, 0, 16, 0, 8]);
    sock.write(req);
    const hdr = await read(16);
    expect([hdr.readUInt8(0), hdr.readUInt16BE(2), hdr.readUInt16BE(8), hdr.readUInt16BE(10), hdr.readInt32BE(12)]).toEqual([0, 1, 16, 8, 0]);
    expect((await read(16 * 8 * 4)).length).toBe(512);
    sock.destroy();
  });

  it('speaks the same RFB over a WebSocket upgrade of GET /console (subprotocol binary, session cookie)', async () => {
    const ws = new WebSocket(`ws://127.0.0.2:${sim.port}/console?uuid=${consoleUuid}`, 'binary', { headers: { cookie: `session_id=${s.ref}` } });
    let buf = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    ws.on('message', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      waiters.splice(0).forEach((w) => w());
    });
    const read = async (n: number): Promise<Buffer> => {
      while (buf.length < n) await new Promise<void>((r) => waiters.push(r));
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    expect(ws.protocol).toBe('binary');
    expect((await read(12)).toString()).toBe('RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    expect([...(await read(2))]).toEqual([1, 1]);
    ws.send(Buffer.from([1]));
    await read(4);
    ws.send(Buffer.from([1]));
    const init = await read(24);
    expect((await read(init.readUInt32BE(20))).toString()).toBe('desk top');
    ws.close();
    const refused = new WebSocket(`ws://127.0.0.2:${sim.port}/console?uuid=${consoleUuid}`, 'binary').on('error', () => undefined);
    const status = await new Promise<number>((r) => refused.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)).once('open', () => r(101)));
    expect(status).toBe(401);
  });

  it('with pool.limit_console_sessions a second console of one VM is 503 until the first closes', async () => {
    await s.call('pool.set_limit_console_sessions', sim.sim.pool, true);
    try {
      const first = await connect('127.0.0.2', `CONNECT /console?uuid=${consoleUuid}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
      expect(await statusLine(first.read)).toBe('HTTP/1.1 200 OK');
      const second = await connect('127.0.0.2', `CONNECT /console?uuid=${consoleUuid}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
      expect(await statusLine(second.read)).toBe('HTTP/1.1 503 Connection Limit Exceeded');
      first.sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const third = await connect('127.0.0.2', `CONNECT /console?uuid=${consoleUuid}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
      expect(await statusLine(third.read)).toBe('HTTP/1.1 200 OK');
      third.sock.destroy();
    } finally {
      await s.call('pool.set_limit_console_sessions', sim.sim.pool, false);
    }
  });

  it('takes the session from a cookie and a VM ref; refuses a bad session (401), the wrong host or a halted VM (404)', async () => {
    const ok = await connect('127.0.0.2', `CONNECT /console?ref=${vm} HTTP/1.0\r\nCookie: session_id=${s.ref}\r\n\r\n`);
    expect(await statusLine(ok.read)).toBe('HTTP/1.1 200 OK');
    ok.sock.destroy();
    const bad = await connect('127.0.0.2', `CONNECT /console?uuid=${consoleUuid}&session_id=OpaqueRef:nope HTTP/1.0\r\n\r\n`);
    expect(await statusLine(bad.read)).toBe('HTTP/1.1 401 Unauthorized');
    const wrongHost = await connect('127.0.0.1', `CONNECT /console?uuid=${consoleUuid}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
    expect(await statusLine(wrongHost.read)).toBe('HTTP/1.1 404 Not Found');
    await s.call('VM.hard_shutdown', vm);
    const halted = await connect('127.0.0.2', `CONNECT /console?ref=${vm}&session_id=${s.ref} HTTP/1.0\r\n\r\n`);
    expect(await statusLine(halted.read)).toBe('HTTP/1.1 404 Not Found');
  });
});

/**
 * The console (§1.8, §6.9): `CONNECT /console?uuid=<console uuid>|ref=<VM or console ref>` with
 * the session as `session_id` (query or cookie), on the host the VM runs on. After
 * `HTTP/1.1 200 OK` (or a WebSocket upgrade of `GET /console`, subprotocol `binary`, as Xen
 * Orchestra uses) the connection is a minimal RFB 3.8 server: security None, ServerInit with the
 * VM's name_label, raw solid-colour framebuffer updates; key and pointer events are read and
 * ignored. pool.limit_console_sessions allows one console per VM (503 otherwise).
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Sim } from './sim.js';

export const CONSOLE_WIDTH = 1024;
export const CONSOLE_HEIGHT = 768;

function refuse(socket: Socket, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

function sessionOf(req: http.IncomingMessage, url: URL): string | undefined {
  const q = url.searchParams.get('session_id');
  if (q) return q;
  const cookie = req.headers.cookie ?? '';
  return /(?:^|;\s*)session_id=([^;]+)/.exec(cookie)?.[1];
}

/** The VMs with a console open, per pool (for pool.limit_console_sessions). */
const openConsoles = new WeakMap<Sim, Set<string>>();

export function handleConsole(sim: Sim, host: string, req: http.IncomingMessage, socket: Socket, head: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== '/console' || (req.method !== 'CONNECT' && req.method !== 'GET')) return refuse(socket, '404 Not Found');
  if (req.method === 'GET' && (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, '400 Bad Request');
  const session = sessionOf(req, url);
  if (!session || !sim.sessions.has(session)) return refuse(socket, '401 Unauthorized');
  const { store } = sim;
  const uuid = url.searchParams.get('uuid');
  const ref = url.searchParams.get('ref');
  let console = uuid ? store.all('console').find((c) => c.rec['uuid'] === uuid) : ref ? store.find(ref) : undefined;
  // A VM ref resolves to its rfb console (console.ml, console_of_request).
  if (console?.cls === 'VM') console = (console.rec['consoles'] as string[]).map((c) => store.find(c)).find((c) => c?.rec['protocol'] === 'rfb');
  if (!console || console.cls !== 'console') return refuse(socket, '404 Not Found');
  const vm = store.find(console.rec['VM'] as string);
  if (!vm || vm.rec['power_state'] !== 'Running' || vm.rec['resident_on'] !== host) return refuse(socket, '404 Not Found');
  const open = openConsoles.get(sim) ?? new Set<string>();
  openConsoles.set(sim, open);
  if (store.rec('pool', sim.pool)['limit_console_sessions'] === true && open.has(vm.ref)) return refuse(socket, '503 Connection Limit Exceeded');
  open.add(vm.ref);
  socket.on('close', () => open.delete(vm.ref));
  // The HTTP server keeps sockets half-open; a viewer that hangs up ends the session here.
  socket.on('end', () => socket.destroy());
  const name = vm.rec['name_label'] as string;
  if (req.method === 'GET') {
    wss.handleUpgrade(req, socket, head, (ws) => rfb(createWebSocketStream(ws), name, Buffer.alloc(0)));
    return;
  }
  socket.write('HTTP/1.1 200 OK\r\n\r\n');
  rfb(socket, name, head);
}

const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false) });

interface PixelFormat {
  bpp: number;
  bigEndian: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

function encodePixelFormat(f: PixelFormat): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(f.bpp, 0);
  b.writeUInt8(24, 1);
  b.writeUInt8(f.bigEndian ? 1 : 0, 2);
  b.writeUInt8(1, 3); // true colour
  b.writeUInt16BE(f.redMax, 4);
  b.writeUInt16BE(f.greenMax, 6);
  b.writeUInt16BE(f.blueMax, 8);
  b.writeUInt8(f.redShift, 10);
  b.writeUInt8(f.greenShift, 11);
  b.writeUInt8(f.blueShift, 12);
  return b;
}

function decodePixelFormat(b: Buffer): PixelFormat {
  return { bpp: b.readUInt8(0), bigEndian: b.readUInt8(2) !== 0, redMax: b.readUInt16BE(4), greenMax: b.readUInt16BE(6), blueMax: b.readUInt16BE(8), redShift: b.readUInt8(10), greenShift: b.readUInt8(11), blueShift: b.readUInt8(12) };
}

/** A raw rectangle of one colour (a dark teal), in the client's pixel format. */
function solidRect(f: PixelFormat, x: number, y: number, w: number, h: number): Buffer {
  const bytes = f.bpp / 8;
  const [r, g, b] = [0x20, 0x60, 0x70];
  const v = (Math.round((r * f.redMax) / 255) << f.redShift) | (Math.round((g * f.greenMax) / 255) << f.greenShift) | (Math.round((b * f.blueMax) / 255) << f.blueShift);
  const px = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) px[f.bigEndian ? bytes - 1 - i : i] = (v >>> (8 * i)) & 0xff;
  const header = Buffer.alloc(16);
  header.writeUInt8(0, 0); // FramebufferUpdate
  header.writeUInt16BE(1, 2);
  header.writeUInt16BE(x, 4);
  header.writeUInt16BE(y, 6);
  header.writeUInt16BE(w, 8);
  header.writeUInt16BE(h, 10);
  header.writeInt32BE(0, 12); // Raw
  const data = Buffer.alloc(w * h * bytes);
  for (let i = 0; i < w * h; i++) px.copy(data, i * bytes);
  return Buffer.concat([header, data]);
}

function rfb(socket: Duplex, name: string, head: Buffer): void {
  let format: PixelFormat = { bpp: 32, bigEndian: false, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };
  let buf = head;
  let state: 'version' | 'security' | 'init' | 'normal' = 'version';
  socket.write('RFB 003.008\n');
  const take = (n: number): Buffer | undefined => {
    if (buf.length < n) return undefined;
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  const step = (): boolean => {
    switch (state) {
      case 'version':
        if (!take(12)) return false;
        socket.write(Buffer.from([1, 1])); // one security type: None
        state = 'security';
        return true;
      case 'security':
        if (!take(1)) return false;
        socket.write(Buffer.from([0, 0, 0, 0])); // SecurityResult OK
        state = 'init';
        return true;
      case 'init': {
        if (!take(1)) return false; // ClientInit (shared flag)
        const nameBuf = Buffer.from(name, 'utf8');
        const init = Buffer.alloc(4);
        init.writeUInt16BE(CONSOLE_WIDTH, 0);
        init.writeUInt16BE(CONSOLE_HEIGHT, 2);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(nameBuf.length, 0);
        socket.write(Buffer.concat([init, encodePixelFormat(format), len, nameBuf]));
        state = 'normal';
        return true;
      }
      case 'normal': {
        if (buf.length < 1) return false;
        const type = buf[0]!;
        if (type === 0) {
          const m = take(20);
          if (!m) return false;
          format = decodePixelFormat(m.subarray(4, 20));
        } else if (type === 2) {
          if (buf.length < 4) return false;
          const n = buf.readUInt16BE(2);
          if (!take(4 + 4 * n)) return false;
        } else if (type === 3) {
          const m = take(10);
          if (!m) return false;
          // An incremental request waits for a change, and this screen never changes.
          if (m[1] === 0) socket.write(solidRect(format, m.readUInt16BE(2), m.readUInt16BE(4), Math.min(m.readUInt16BE(6), CONSOLE_WIDTH), Math.min(m.readUInt16BE(8), CONSOLE_HEIGHT)));
        } else if (type === 4) {
          if (!take(8)) return false;
        } else if (type === 5) {
          if (!take(6)) return false;
        } else if (type === 6) {
          if (buf.length < 8) return false;
          if (!take(8 + buf.readUInt32BE(4))) return false;
        } else {
          socket.destroy();
          return false;
        }
        return true;
      }
    }
  };
  const pump = (): void => {
    while (step()) {
      /* consume what has arrived */
    }
  };
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    pump();
  });
  socket.on('error', () => socket.destroy());
  pump();
}

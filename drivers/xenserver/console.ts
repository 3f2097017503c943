/**
 * A running VM's display: its rfb console (xapi makes one when the VM starts), reached as xapi
 * serves it: `CONNECT /console?uuid=…&session_id=… HTTP/1.0` over TLS to the host it runs on,
 * then raw RFB. Kiln's console path wants a local port (as KVM's VNC forward gives), so each
 * connection to a loopback listener opens one such CONNECT over the pool's pinned agent (the
 * host must present the certificate the pool is trusted by) and pipes the bytes.
 */
import https from 'node:https';
import { createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DriverError, type GraphicalConsole } from '../types.js';
import type { XenPool } from './pool.js';
import type { XRef } from './xapi/records.js';

export async function consoleLocation(pool: XenPool, vm: XRef): Promise<URL> {
  const v = pool.vm(vm);
  if (!v) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  if (v.power_state !== 'Running') throw new DriverError(`${v.name_label} is ${v.power_state.toLowerCase()}; its console exists only while it runs`, 'invalid');
  // Read for this VM now (consoles come and go with every start; the inventory does not keep them).
  const consoles = await Promise.all((v.consoles ?? []).map((c) => pool.client.getRecord('console', c).catch(() => undefined)));
  const rfb = consoles.find((c) => c?.protocol === 'rfb');
  if (!rfb) throw new DriverError(`${v.name_label} has no graphical (rfb) console`, 'unsupported');
  const location = new URL(rfb.location);
  // xapi writes https://<host address>/console?uuid=…; the port is the pool's own.
  if (!location.port && pool.client.baseUrl.port) location.port = pool.client.baseUrl.port;
  return location;
}

function connectConsole(pool: XenPool, location: URL): Promise<Duplex> {
  const session = pool.client.sessionRef ?? '';
  const path = `${location.pathname}${location.search}${location.search ? '&' : '?'}session_id=${encodeURIComponent(session)}`;
  return new Promise((resolve, reject) => {
    const req = https.request({
      method: 'CONNECT', host: location.hostname, port: Number(location.port || 443), path, agent: pool.client.agent as https.Agent,
      headers: { Cookie: `session_id=${session}` }, timeout: 15_000,
    });
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new DriverError(`the console of ${location.hostname} answered HTTP ${res.statusCode}`, 'failed'));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('timeout', () => req.destroy(new DriverError(`the console of ${location.hostname} did not answer within 15 s`, 'timeout')));
    req.once('error', (e) => reject(e instanceof DriverError ? e : new DriverError(`the console of ${location.hostname}: ${e.message}`, 'unreachable')));
    req.end();
  });
}

export async function openConsole(pool: XenPool, vm: XRef): Promise<GraphicalConsole> {
  pool.assertReachable(`opening the console of ${vm}`);
  const location = await consoleLocation(pool, vm);
  // One CONNECT now, so a refused console fails here rather than on the viewer's first byte.
  const first = await connectConsole(pool, location);
  const sockets = new Set<Socket | Duplex>([first]);
  let spare: Duplex | undefined = first;
  const server = createServer((local) => {
    sockets.add(local);
    local.on('close', () => sockets.delete(local));
    local.pause();
    const take = spare;
    spare = undefined;
    (take ? Promise.resolve(take) : consoleLocation(pool, vm).then((l) => connectConsole(pool, l))).then((remote) => {
      sockets.add(remote);
      local.pipe(remote).pipe(local);
      local.resume();
      remote.on('close', () => local.destroy());
      remote.on('error', () => local.destroy());
      local.on('close', () => remote.destroy());
      local.on('error', () => remote.destroy());
    }, () => local.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new DriverError('cannot open a local port for the console', 'failed');
  return {
    protocol: 'vnc',
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

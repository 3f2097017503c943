/**
 * The console WebSocket for API clients: `/kiln/console?token=…` redeems a one-time token from
 * createConsoleEndpoint and pipes raw bytes between the socket and the VM's serial console.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Engine } from '../engine/engine.js';

export function consoleUpgradeHandler(engine: Engine) {
  const wss = new WebSocketServer({ noServer: true });
  return (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/kiln/console') return false;
    const grant = engine.consoleTokens.redeem(url.searchParams.get('token') ?? '');
    if (!grant) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      engine.vms.openConsole(grant.caller, grant.vmUuid).then(
        (serial) => {
          serial.on('data', (chunk: Buffer) => ws.readyState === ws.OPEN && ws.send(chunk));
          serial.on('close', () => ws.close(1000, 'console closed'));
          serial.on('error', (error: Error) => ws.close(1011, error.message.slice(0, 120)));
          ws.on('message', (data: Buffer) => serial.write(data));
          ws.on('close', () => serial.destroy());
        },
        (error: unknown) => ws.close(1011, (error instanceof Error ? error.message : String(error)).slice(0, 120)),
      );
    });
    return true;
  };
}

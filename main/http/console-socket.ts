/**
 * The console WebSocket for API clients: `/kiln/console?token=…` redeems a one-time token from
 * createConsoleEndpoint and pipes raw bytes between the socket and the VM's serial console, or,
 * for a graphical token, its display (RFB in binary frames, as websockify carries it for noVNC).
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { Engine } from '../engine/engine.js';
import type { Caller } from '../engine/registry/types.js';
import { openDisplay } from '../engine/vm/graphical-console.js';
import { refuseUpgrade, type UpgradeHandler } from './upgrade-router.js';

export const CONSOLE_PATH = '/kiln/console';

/** A WebSocket close reason is at most 123 bytes; ws throws on a longer one (a Hangul error text). */
export function closeReason(text: string): string {
  let out = text.slice(0, 123);
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** The handler for CONSOLE_PATH; the upgrade router has already checked Host and parsed the URL. */
export function consoleUpgradeHandler(engine: Engine): UpgradeHandler {
  const wss = new WebSocketServer({ noServer: true });
  return (req, socket, head, { url }) => {
    const grant = engine.consoleTokens.redeem(url.searchParams.get('token') ?? '');
    if (!grant) return refuseUpgrade(socket, 401);
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A malformed frame makes ws emit 'error'; unheard, that would throw and end the process.
      ws.on('error', () => ws.terminate());
      if (grant.kind === 'graphical') return pipeDisplay(engine, grant.caller, grant.vmUuid, ws);
      engine.vms.openConsole(grant.caller, grant.vmUuid).then(
        (serial) => {
          serial.on('data', (chunk: Buffer) => ws.readyState === ws.OPEN && ws.send(chunk));
          serial.on('close', () => ws.close(1000, 'console closed'));
          serial.on('error', (error: Error) => ws.close(1011, closeReason(error.message)));
          ws.on('message', (data: Buffer) => serial.write(data));
          ws.on('close', () => serial.destroy());
        },
        (error: unknown) => ws.close(1011, closeReason(error instanceof Error ? error.message : String(error))),
      );
    });
  };
}

/** Past this much unsent data the display's socket is paused until the browser catches up. */
const HIGH_WATER = 4 * 1024 * 1024;

function pipeDisplay(engine: Engine, caller: Caller, vmUuid: string, ws: WebSocket): void {
  let gone = false;
  ws.once('close', () => (gone = true));
  openDisplay(engine, caller, vmUuid).then(
    ({ socket, close }) => {
      if (gone) return void close();
      const drain = () => {
        if (ws.bufferedAmount < HIGH_WATER) socket.resume();
        else setTimeout(drain, 20);
      };
      socket.on('data', (chunk: Buffer) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(chunk);
        if (ws.bufferedAmount >= HIGH_WATER) {
          socket.pause();
          setTimeout(drain, 20);
        }
      });
      socket.on('close', () => ws.close(1000, 'display closed'));
      socket.on('error', (error: Error) => ws.close(1011, closeReason(error.message)));
      ws.on('message', (data: Buffer) => socket.write(data));
      ws.on('close', () => void close());
    },
    (error: unknown) => ws.close(1011, closeReason(error instanceof Error ? error.message : String(error))),
  );
}

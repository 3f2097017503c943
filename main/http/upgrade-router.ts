/**
 * WebSocket upgrades by path. The HTTP server has exactly one 'upgrade' listener, this router:
 * it runs the request guard once, then hands the request to the handler registered for its
 * path (`/kiln/console`, `/kiln/live`, …). A handler that throws costs that one socket, never
 * the process; an unknown path is answered 404. Handlers register with `route`, never with
 * `server.on('upgrade')`, so no path escapes the guard.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { guardRequest, isRefusal, type GuardedRequest } from './request-guard.js';
import type { AddressInfo } from 'node:net';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, request: GuardedRequest) => void;

/** Answers an upgrade request with a plain HTTP status and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, reason = ''): void {
  if (socket.destroyed) return;
  const body = reason ? `${reason}\n` : '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

export class UpgradeRouter {
  private readonly routes = new Map<string, UpgradeHandler>();

  constructor(
    private readonly bound: () => AddressInfo,
    private readonly onError: (error: unknown) => void,
  ) {}

  route(path: string, handler: UpgradeHandler): void {
    if (this.routes.has(path)) throw new Error(`upgrade path ${path} is already routed`);
    this.routes.set(path, handler);
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A peer that resets mid-answer must not raise an unhandled 'error' on the raw socket.
    socket.on('error', () => socket.destroy());
    try {
      const request = guardRequest(req, this.bound());
      if (isRefusal(request)) return refuseUpgrade(socket, request.status, request.reason);
      const handler = this.routes.get(request.url.pathname);
      if (!handler) return refuseUpgrade(socket, 404, 'no WebSocket at this path');
      handler(req, socket, head, request);
    } catch (error) {
      this.onError(error);
      refuseUpgrade(socket, 500);
    }
  };
}

/**
 * TLS trust on first use, by SHA-256 thumbprint of the server's certificate (AB:CD:…, vCenter's
 * own form), shared by every driver whose endpoint speaks HTTPS (vSphere's SOAP, xapi's
 * JSON-RPC). Certificates of vCenters, ESXi and XenServer hosts are mostly self-signed, so the
 * chain is not what is trusted: the thumbprint the admin confirmed is. Every new connection is
 * checked before a byte of the request (cookie, password, session) is written on it.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { DriverError, type TrustAnchor } from './types.js';

/** AB:CD:… upper-case; accepts any case, with or without colons. Throws on anything else. */
export function normalizeThumbprint(thumbprint: string): string {
  const hex = thumbprint.replace(/:/g, '').trim().toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new Error(`not a SHA-256 thumbprint: ${JSON.stringify(thumbprint)}`);
  return hex.match(/../g)!.join(':');
}

export function thumbprintOf(der: Buffer): string {
  return normalizeThumbprint(createHash('sha256').update(der).digest('hex'));
}

/** The server presented another certificate than the one trusted: refused until an admin accepts the new one. */
export class ThumbprintMismatchError extends Error {
  override name = 'ThumbprintMismatchError';

  constructor(
    readonly host: string,
    readonly expected: string,
    /** What the server presented now, for the UI to show and the admin to confirm. */
    readonly presented: string,
  ) {
    super(`The TLS certificate of ${host} has changed: expected SHA-256 thumbprint ${expected}, the server presented ${presented}. Connections are refused until an administrator accepts the new certificate.`);
  }
}

export class TlsConnectError extends Error {
  override name = 'TlsConnectError';
}

/**
 * Holds what one endpoint is trusted by. Without an expected thumbprint (first use) the first
 * certificate seen is taken and kept, so it cannot change under an open client either.
 */
export class ThumbprintTrust {
  private pinned: string | undefined;
  /** The thumbprint of the last certificate presented, matching or not. */
  presented: string | undefined;

  constructor(expected?: string) {
    this.pinned = expected === undefined ? undefined : normalizeThumbprint(expected);
  }

  get thumbprint(): string | undefined {
    return this.pinned;
  }

  /** Returns the error to refuse the connection with, or undefined to go on. */
  check(host: string, presented: string): ThumbprintMismatchError | undefined {
    this.presented = presented;
    if (this.pinned === undefined) this.pinned = presented;
    return this.pinned === presented ? undefined : new ThumbprintMismatchError(host, this.pinned, presented);
  }
}

function peerThumbprint(socket: tls.TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate();
  return cert && cert.raw ? thumbprintOf(cert.raw) : undefined;
}

/**
 * A keep-alive https agent whose sockets are handed to requests only after the pin check.
 * The chain is not verified (rejectUnauthorized: false) because the thumbprint replaces it; TLS
 * session resumption is off so that every connection shows its certificate.
 */
export class PinnedAgent extends https.Agent {
  /** TLS connections opened so far (keep-alive means few). */
  connectionsOpened = 0;

  /** maxSockets: xapi holds one socket per blocking event.from (the inventory's and each task's wait), so its client asks for more. */
  constructor(readonly trust: ThumbprintTrust, options: { maxSockets?: number } = {}) {
    super({ keepAlive: true, maxSockets: options.maxSockets ?? 8, maxCachedSessions: 0 });
  }

  /**
   * Sockets still in their handshake. The agent learns of a socket only from the callback, after
   * the pin check, so Agent.destroy would leave these connecting over a link that stopped
   * answering (an abandoned close's logout: the XenServer pool's abort) for the handshake's timeout.
   */
  private readonly connecting = new Set<tls.TLSSocket>();

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    let done = false;
    const finish = (err: Error | null, ready?: Duplex) => {
      this.connecting.delete(socket);
      if (done) return;
      done = true;
      callback?.(err, ready as Duplex);
    };
    this.connectionsOpened++;
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false, session: undefined });
    this.connecting.add(socket);
    socket.once('close', () => this.connecting.delete(socket));
    // A server that accepts TCP but never finishes the handshake must not hang the request:
    // the request's own timeout only starts once it has a socket. The listener is removed with
    // the deadline, or a later request's timeout on this kept-alive socket would fire it too.
    const handshakeMs = typeof options.timeout === 'number' ? options.timeout : 30_000;
    const onHandshakeTimeout = () => socket.destroy(new TlsConnectError(`${options.host ?? 'server'}:${options.port ?? 443}: no TLS handshake within ${handshakeMs} ms`));
    socket.setTimeout(handshakeMs, onHandshakeTimeout);
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      socket.off('timeout', onHandshakeTimeout);
      const host = `${options.host ?? 'server'}:${options.port ?? 443}`;
      const presented = peerThumbprint(socket);
      const refused = presented ? this.trust.check(host, presented) : new TlsConnectError(`${host} presented no certificate`);
      if (refused) {
        socket.destroy();
        finish(refused);
      } else finish(null, socket);
    });
    socket.once('error', (e) => finish(e));
    // Returning nothing makes the agent wait for the callback, so no request is written early.
    return undefined;
  }

  /** Destroys the sockets in use and free (Agent.destroy) and those still connecting, whose requests then fail. */
  override destroy(): void {
    for (const socket of [...this.connecting]) socket.destroy(new TlsConnectError(`${socket.remoteAddress ?? 'server'}: the connection was closed while it connected`));
    this.connecting.clear();
    super.destroy();
  }
}

/** The thumbprint a server presents, read by a TLS handshake alone (nothing is sent): for the "trust this certificate?" step. */
export function probeThumbprint(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false });
    const timer = setTimeout(() => socket.destroy(new TlsConnectError(`${host}:${port}: no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const presented = peerThumbprint(socket);
      socket.end();
      if (presented) resolve(presented);
      else reject(new TlsConnectError(`${host}:${port} presented no certificate`));
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * HypervisorDriver.probeTrust for an endpoint trusted by its TLS certificate (a vCenter, a
 * XenServer pool master): the certificate's thumbprint, for the admin to confirm; 'unreachable'
 * when no certificate can be read.
 */
export async function probeCertificateTrust(host: string, port: number): Promise<TrustAnchor> {
  try {
    return { kind: 'tls-certificate', fingerprint: await probeThumbprint(host, port) };
  } catch (e) {
    throw new DriverError(`${host}:${port} cannot be reached for its certificate: ${(e as Error).message}`, 'unreachable');
  }
}

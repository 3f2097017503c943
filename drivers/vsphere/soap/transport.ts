/**
 * One POST of a SOAP envelope to the endpoint's /sdk, over the pinned keep-alive agent, with the
 * session cookie. Knows HTTP, not vim25.
 */
import https from 'node:https';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import { SoapProtocolError } from './faults.js';
import { PinnedAgent, ThumbprintTrust } from '../../tls-trust.js';

export const SESSION_COOKIE = 'vmware_soap_session';

export interface TransportOptions {
  /** https://host[:port]/sdk */
  url: string;
  /** The trusted SHA-256 thumbprint; none on first use (the presented one is then kept). */
  thumbprint?: string;
  /** SOAPAction is urn:vim25/<apiVersion>; vCenter answers in that version's schema. */
  apiVersion?: string;
  timeoutMs?: number;
}

export interface HttpReply {
  status: number;
  body: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

function isConnectionError(e: unknown): boolean {
  return e instanceof Error && CONNECTION_CODES.has((e as NodeJS.ErrnoException).code ?? '');
}

/** The endpoint cannot be reached (refused, reset, unreachable): the driver reports its hosts Disconnected. */
export class SoapConnectionError extends Error {
  override name = 'SoapConnectionError';

  constructor(
    readonly host: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${host} cannot be reached (${code}): ${detail}`);
  }
}

export class SoapTransport {
  readonly url: URL;
  readonly trust: ThumbprintTrust;
  readonly agent: PinnedAgent;
  /** The raw cookie value as the server set it (vCenter quotes it); sent back unchanged. */
  sessionCookie: string | undefined;
  apiVersion: string;
  private readonly timeoutMs: number;
  /** POSTs under way, and whether destroy() ended them (see destroy). */
  private readonly inflight = new Set<http.ClientRequest>();
  private destroyed = false;

  constructor(opts: TransportOptions) {
    this.url = new URL(opts.url);
    if (this.url.protocol !== 'https:') throw new Error(`vSphere endpoints are reached over https, not ${this.url.protocol}`);
    this.trust = new ThumbprintTrust(opts.thumbprint);
    this.agent = new PinnedAgent(this.trust);
    this.apiVersion = opts.apiVersion ?? '6.5';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async post(envelope: string, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<HttpReply> {
    try {
      return await this.postOnce(envelope, signal, timeoutMs);
    } catch (e) {
      // A kept-alive connection the server closed while idle fails before the request reached
      // it (Node's documented keep-alive race): send once more, on a new connection.
      if ((e as { reusedSocket?: boolean }).reusedSocket && isConnectionError(e)) return this.postOnce(envelope, signal, timeoutMs).catch((e2: unknown) => { throw this.wrap(e2); });
      throw this.wrap(e);
    }
  }

  private postOnce(envelope: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<HttpReply> {
    if (this.destroyed) return Promise.reject(this.abandoned());
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        'Content-Type': 'text/xml; charset=utf-8',
        SOAPAction: `urn:vim25/${this.apiVersion}`,
        'Content-Length': String(Buffer.byteLength(envelope)),
      };
      if (this.sessionCookie) headers['Cookie'] = `${SESSION_COOKIE}=${this.sessionCookie}`;
      const req = https.request(this.url, { method: 'POST', agent: this.agent, headers, timeout: timeoutMs, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.takeCookie(res.headers['set-cookie']);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new SoapProtocolError(`${this.url.host}: no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket })));
      this.inflight.add(req);
      req.on('close', () => this.inflight.delete(req));
      req.end(envelope);
    });
  }

  /**
   * PUT of a file to the server's HTTP file service (the datastore browser, /folder/PATH?dcPath=…&dsName=…)
   * over the same pinned agent and session cookie; resolves once the server answered 2xx.
   */
  upload(pathAndQuery: string, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
    const url = new URL(pathAndQuery, this.url);
    return new Promise<void>((resolve, reject) => {
      const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
      if (this.sessionCookie) headers['Cookie'] = `${SESSION_COOKIE}=${this.sessionCookie}`;
      const req = https.request(url, { method: 'PUT', agent: this.agent, headers, timeout: this.timeoutMs, signal }, (res) => {
        res.resume();
        res.on('end', () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new SoapProtocolError(`PUT ${url.pathname}: HTTP ${res.statusCode} from ${this.url.host}`, res.statusCode))));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new SoapProtocolError(`${this.url.host}: no answer to the upload within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(this.wrap(e)));
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    });
  }

  /**
   * GET (or HEAD) of a file on the server's file service, over the pinned agent with the session
   * cookie: its status, size (Content-Length) and, for a GET, at most MAXBYTES of its body (a small
   * sidecar; anything longer is cut off, never buffered whole).
   */
  read(pathAndQuery: string, method: 'GET' | 'HEAD', maxBytes = 4096): Promise<{ status: number; size: number | undefined; body: string }> {
    const url = new URL(pathAndQuery, this.url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (this.sessionCookie) headers['Cookie'] = `${SESSION_COOKIE}=${this.sessionCookie}`;
      const req = https.request(url, { method, agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let got = 0;
        res.on('data', (c: Buffer) => {
          if (got < maxBytes) chunks.push(c.subarray(0, maxBytes - got));
          got += c.length;
        });
        res.on('end', () => {
          const length = Number(res.headers['content-length']);
          resolve({ status: res.statusCode ?? 0, size: Number.isFinite(length) ? length : undefined, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new SoapProtocolError(`${this.url.host}: no answer to ${method} ${url.pathname} within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(this.wrap(e)));
      req.end();
    });
  }

  /** Network failures become one typed error naming the endpoint; others pass unchanged. */
  private wrap(e: unknown): unknown {
    return isConnectionError(e) ? new SoapConnectionError(this.url.host, (e as NodeJS.ErrnoException).code ?? 'ECONNRESET', (e as Error).message) : e;
  }

  private takeCookie(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0 && pair!.slice(0, eq).trim() === SESSION_COOKIE) this.sessionCookie = pair!.slice(eq + 1).trim();
    }
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * Ends the POSTs under way (one still connecting too, which the agent's destroy would not reach)
   * and refuses the next: for a client whose close was abandoned, so its logout and the stream's
   * last call neither wait for a dead link nor start again over it.
   */
  destroy(): void {
    this.destroyed = true;
    for (const req of this.inflight) req.destroy(this.abandoned());
    this.agent.destroy();
  }

  private abandoned(): SoapConnectionError {
    return new SoapConnectionError(this.url.host, 'ECANCELED', 'the connection was abandoned');
  }
}

/**
 * One JSON-RPC 2.0 POST to xapi's /jsonrpc over the pinned keep-alive agent (drivers/tls-trust.ts).
 * The body is built by JSON.stringify alone, so no text a user typed (a VM name, a description)
 * can break out of its string: xapi sees it as one string parameter, whatever it holds.
 * Plain http:// is accepted for unit tests against a local stub only; the driver's URLs are https.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { PinnedAgent, ThumbprintTrust } from '../../tls-trust.js';
import { XapiConnectionError, XapiProtocolError, errorOfReply } from './errors.js';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
const isConnectionError = (e: unknown): boolean => e instanceof Error && CONNECTION_CODES.has((e as NodeJS.ErrnoException).code ?? '');

export interface TransportOptions {
  /** https://host[:port] (the pool master or a member; the path is ignored). */
  url: string;
  /** The pinned SHA-256 thumbprint; none on first use (the presented one is then kept). */
  thumbprint?: string;
  timeoutMs?: number;
}

export class JsonRpcTransport {
  readonly base: URL;
  readonly trust: ThumbprintTrust;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private id = 0;

  constructor(opts: TransportOptions) {
    this.base = new URL(opts.url);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') throw new Error(`xapi is reached over https, not ${this.base.protocol}`);
    this.trust = new ThumbprintTrust(opts.thumbprint);
    this.agent = this.base.protocol === 'https:' ? new PinnedAgent(this.trust, { maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  get hostPort(): string {
    return this.base.host;
  }

  /** The agent a raw connection (the console's CONNECT) shares, so it is pinned the same way. */
  get httpsAgent(): http.Agent {
    return this.agent;
  }

  /** Calls METHOD; resolves with `result`, rejects with XapiError (API), XapiProtocolError or XapiConnectionError. */
  async call(method: string, params: unknown[], opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    this.assertOpen();
    const body = JSON.stringify({ jsonrpc: '2.0', method, params, id: ++this.id });
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let reply;
    try {
      reply = await this.post(body, timeoutMs, opts.signal);
    } catch (e) {
      // A kept-alive connection the server closed while idle fails before the request reached it: once more, on a new one.
      if ((e as { reusedSocket?: boolean }).reusedSocket && isConnectionError(e)) reply = await this.post(body, timeoutMs, opts.signal).catch((e2: unknown) => { throw this.wrap(e2); });
      else throw this.wrap(e);
    }
    if (reply.status !== 200) throw new XapiProtocolError(`${method}: HTTP ${reply.status} from ${this.base.host}: ${reply.body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200)}`, reply.status);
    const type = reply.contentType.split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new XapiProtocolError(`${method}: ${this.base.host} answered ${reply.contentType || 'no content type'}, not application/json${type === 'text/xml' ? ' (a host without JSON-RPC, before XenServer 7.x)' : ''}`, reply.status);
    }
    let msg: { result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(reply.body) as { result?: unknown; error?: unknown };
    } catch {
      throw new XapiProtocolError(`${method}: ${this.base.host} answered JSON that does not parse: ${reply.body.slice(0, 120)}`);
    }
    if (typeof msg !== 'object' || msg === null) throw new XapiProtocolError(`${method}: not a JSON-RPC reply: ${reply.body.slice(0, 120)}`);
    const error = errorOfReply(msg.error, method);
    if (error) throw error;
    if (!('result' in msg)) throw new XapiProtocolError(`${method}: a JSON-RPC reply with neither result nor error`);
    return msg.result;
  }

  private post(body: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; contentType: string; body: string }> {
    const lib = this.base.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(new URL('/jsonrpc', this.base), {
        method: 'POST', agent: this.agent, timeout: timeoutMs, signal,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': String(Buffer.byteLength(body)) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket })));
      req.end(body);
    });
  }

  /**
   * PUT of LENGTH bytes to one of xapi's HTTP handlers (PATH with its query, e.g. /import_raw_vdi?…),
   * over the same pinned agent. xapi's import code reads a Content-Length body (it refuses chunked
   * transfer encoding), so the length is sent up front. Resolves with the status, the task-id
   * header and a redirect's Location.
   * ORIGIN: another host of the pool (scheme://host:port) to send it to instead of this one; its
   * connection is pinned by the same trust, so that host must present the certificate the pool is
   * trusted by. HEADERSFIRST: a handler that answers before it reads the body (import.ml: 200 with
   * the task-id, or a 302 to the host that imports it) gets the request's headers alone, and the
   * body only after its 200, as xapi's own clients send it (XenCenter's HTTP.PUT); a redirect
   * then costs no upload, and no write meets a socket xapi closed after answering.
   */
  put(pathAndQuery: string, body: () => Readable, length: number, opts: { signal?: AbortSignal; origin?: URL; headersFirst?: boolean } = {}): Promise<{ status: number; taskId?: string; location?: string; body: string }> {
    const target = new URL(pathAndQuery, opts.origin ?? this.base);
    const lib = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      this.assertOpen(); // thrown in the executor: the promise rejects
      let answered = false;
      const send = (): void => {
        const stream = body();
        stream.on('error', (e) => req.destroy(e));
        stream.pipe(req);
      };
      const req = lib.request(target, {
        method: 'PUT', agent: this.agent, signal: opts.signal, timeout: opts.headersFirst ? this.timeoutMs : undefined,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length), Connection: 'close' },
      }, (res) => {
        answered = true;
        // The wait for the answer is over; the upload itself takes as long as it takes.
        req.setTimeout(0);
        if (opts.headersFirst && res.statusCode === 200) send();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0, taskId: typeof res.headers['task-id'] === 'string' ? res.headers['task-id'] : undefined,
            location: res.headers.location, body: Buffer.concat(chunks).toString('utf8'),
          });
          // No body follows an answer that is not the import's go-ahead.
          if (opts.headersFirst && res.statusCode !== 200) req.destroy();
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer to the PUT within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      // A request given up once its answer is in (a redirect) is no error.
      req.on('error', (e) => {
        if (!answered) reject(this.wrap(e, target.host));
      });
      if (opts.headersFirst) req.flushHeaders();
      else send();
    });
  }

  private wrap(e: unknown, host = this.base.host): unknown {
    return isConnectionError(e) ? new XapiConnectionError(host, (e as NodeJS.ErrnoException).code ?? 'ECONNRESET', (e as Error).message) : e;
  }

  private closed = false;

  /**
   * Ends every request under way (Agent.destroy destroys the sockets in use too) and refuses the
   * next: after it a request would open a new connection over a link that may be the one that
   * stopped answering (an abandoned close, XenPool.abort).
   */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw new XapiConnectionError(this.base.host, 'ECONNRESET', `the connection to ${this.base.host} is closed`);
  }
}

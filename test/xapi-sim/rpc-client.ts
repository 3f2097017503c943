/**
 * A raw client for the simulator's own tests: posts JSON-RPC or XML-RPC and hands back the
 * status, content type and body as they came, so the tests can check the wire itself. The
 * certificate is checked by thumbprint (the simulator's is self-signed).
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { decodeResponseValue } from './wire.js';

export interface RawResponse {
  status: number;
  contentType: string | undefined;
  body: string;
  /** SHA-256 of the certificate the server presented (https only). */
  thumbprint?: string;
}

export function post(url: string, path: string, body: string, contentType: string): Promise<RawResponse> {
  const u = new URL(path, url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: 'POST', headers: { 'content-type': contentType }, rejectUnauthorized: false, agent: false } as https.RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const sock = res.socket as TLSSocket;
        const cert = typeof sock.getPeerX509Certificate === 'function' ? sock.getPeerX509Certificate() : undefined;
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8'), thumbprint: cert?.fingerprint256 });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

let nextId = 0;

export class SimError extends Error {
  constructor(readonly description: string[]) {
    super(description.join(' '));
  }
  get code(): string {
    return this.description[0]!;
  }
}

/** One JSON-RPC 2.0 call; an API error is thrown as SimError([CODE, …params]). */
export async function jsonCall<T = unknown>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await post(url, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method, params, id: ++nextId }), 'application/json');
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body}`);
  const msg = JSON.parse(res.body) as { result?: T; error?: { message: string; data: string[] } };
  if (msg.error) throw new SimError([msg.error.message, ...msg.error.data]);
  return msg.result as T;
}

/** A logged-in JSON-RPC session against one host URL. */
export class Session {
  private constructor(
    readonly url: string,
    readonly ref: string,
  ) {}
  static async login(url: string, user: string, password: string): Promise<Session> {
    return new Session(url, await jsonCall<string>(url, 'session.login_with_password', [user, password, '2.21', 'xapi-sim-test']));
  }
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return jsonCall<T>(this.url, method, [this.ref, ...params]);
  }
  /** Runs Async.<method> and waits for its task, as a client does by polling task.get_record. */
  async callAsync<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const task = await this.call<string>(`Async.${method}`, ...params);
    for (;;) {
      const t = await this.call<{ status: string; result: string; error_info: string[] }>('task.get_record', task);
      if (t.status === 'success') {
        await this.call('task.destroy', task);
        return (t.result === '' ? '' : decodeResponseValue(t.result)) as T;
      }
      if (t.status === 'failure' || t.status === 'cancelled') {
        await this.call('task.destroy', task);
        throw new SimError(t.error_info);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Awaits a rejection and returns its [CODE, …params]. */
export async function failureOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SimError) return e.description;
    throw e;
  }
  throw new Error('expected an API failure, the call succeeded');
}

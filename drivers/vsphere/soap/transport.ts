/**
 * One POST of a SOAP envelope to the endpoint's /sdk, over the pinned keep-alive agent, with the
 * session cookie. Knows HTTP, not vim25.
 */
import https from 'node:https';
import { SoapProtocolError } from './faults.js';
import { PinnedAgent, ThumbprintTrust } from './trust.js';

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

export class SoapTransport {
  readonly url: URL;
  readonly trust: ThumbprintTrust;
  readonly agent: PinnedAgent;
  /** The raw cookie value as the server set it (vCenter quotes it); sent back unchanged. */
  sessionCookie: string | undefined;
  apiVersion: string;
  private readonly timeoutMs: number;

  constructor(opts: TransportOptions) {
    this.url = new URL(opts.url);
    if (this.url.protocol !== 'https:') throw new Error(`vSphere endpoints are reached over https, not ${this.url.protocol}`);
    this.trust = new ThumbprintTrust(opts.thumbprint);
    this.agent = new PinnedAgent(this.trust);
    this.apiVersion = opts.apiVersion ?? '6.5';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  post(envelope: string, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<HttpReply> {
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
      req.on('error', reject);
      req.end(envelope);
    });
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
}

/**
 * The one guard every HTTP request and every WebSocket upgrade passes before any handler sees
 * it: the Host header must name this server (the DNS-rebinding guard), the request target must
 * parse, and cookies are read without throwing. A request that fails gets a refusal to send
 * (400 or 403), never an exception: one malformed request must not stop `kiln serve`.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GuardedRequest {
  url: URL;
  cookies: Record<string, string>;
}

export interface Refusal {
  refused: true;
  status: 400 | 403;
  reason: string;
}

/** The request target is resolved against this base; it never names a real host. */
const URL_BASE = 'http://kiln.invalid';

/** Parses the request target, or undefined when it cannot be read (e.g. `//[`). */
export function parseRequestTarget(target: string | undefined): URL | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  try {
    return new URL(target, URL_BASE);
  } catch {
    return undefined;
  }
}

/**
 * Cookies as name → value. A value that is not valid percent-encoding (`kiln_ui=%`) is dropped:
 * it can name no session, and dropping it makes the request simply unauthenticated.
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name) continue;
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // malformed percent-encoding: no value
    }
  }
  return out;
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '::0';
}

function hostPart(address: string): string {
  // Node reports IPv4-mapped addresses as ::ffff:a.b.c.d; a browser's Host names a.b.c.d.
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return plain.includes(':') ? `[${plain.toLowerCase()}]` : plain.toLowerCase();
}

/**
 * The address clients should use to reach this server: the bound one, or, when bound to every
 * interface, the local address the connection actually arrived on. Never the Host header.
 */
export function reachableAddress(bound: AddressInfo, localAddress: string | undefined): string {
  const address = isUnspecified(bound.address) && localAddress ? localAddress : bound.address;
  return `${hostPart(address)}:${bound.port}`;
}

/** The Host values this server answers to: its own address (with port) and the loopback names. */
export function allowedHosts(bound: AddressInfo, localAddress: string | undefined): Set<string> {
  const names = ['localhost', '127.0.0.1', '[::1]', hostPart(bound.address)];
  if (isUnspecified(bound.address) && localAddress) names.push(hostPart(localAddress));
  const hosts = new Set(names.map((name) => `${name}:${bound.port}`));
  // A client may leave out the default port.
  if (bound.port === 80) for (const name of names) hosts.add(name);
  return hosts;
}

export function hostAllowed(host: string | undefined, bound: AddressInfo, localAddress: string | undefined): boolean {
  if (!host) return false;
  return allowedHosts(bound, localAddress).has(host.trim().toLowerCase());
}

/** Checks one request (plain or upgrade) against the server's bound address. */
export function guardRequest(req: IncomingMessage, bound: AddressInfo): GuardedRequest | Refusal {
  if (!hostAllowed(req.headers.host, bound, req.socket.localAddress)) {
    const shown = req.headers.host === undefined ? 'no Host header' : `Host ${JSON.stringify(req.headers.host.slice(0, 100))}`;
    return { refused: true, status: 403, reason: `${shown} is not an address this server answers to; use ${reachableAddress(bound, req.socket.localAddress)} or localhost` };
  }
  const url = parseRequestTarget(req.url);
  if (!url) return { refused: true, status: 400, reason: 'the request target is not a valid URL path' };
  return { url, cookies: parseCookies(req.headers.cookie) };
}

export function isRefusal(result: GuardedRequest | Refusal): result is Refusal {
  return 'refused' in result;
}

/** Whether a request targets CloudStack's API path (its refusals carry the API's error envelope). */
export function isApiPath(pathname: string): boolean {
  return pathname === '/client/api' || pathname === '/client/api/';
}

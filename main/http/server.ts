/**
 * The HTTP transport: CloudStack's /client/api (GET and POST, JSON or XML), login/logout
 * sessions, and in serve mode the renderer's static files behind a one-time token that is
 * traded for an HttpOnly session cookie. Binds to 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../engine/engine.js';
import { ApiError } from '../engine/registry/errors.js';
import { errorBody, type ApiResult } from '../engine/registry/registry.js';
import type { Caller } from '../engine/registry/types.js';
import { CLOUDSTACK_VERSION } from '../engine/commands/meta/listCapabilities.js';
import { authenticate } from './authenticate.js';
import { toXml } from './xml.js';
import { consoleUpgradeHandler } from './console-socket.js';

/** Largest request body accepted: userdata may be 1 MB of base64 over POST. */
const MAX_BODY = 2 * 1024 * 1024;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Built renderer files; when set, the UI is served behind the one-time token. */
  uiDir?: string;
  /** Unauthenticated callers answer as nobody (integration port): every call runs as this caller. */
  trustedCaller?: Caller;
  defaultResponse?: 'json' | 'xml';
}

export interface RunningServer {
  server: Server;
  /** True when the request carries a live serve-mode UI session cookie (for WebSocket upgrades). */
  isUiSession(req: IncomingMessage): boolean;
  url: string;
  /** The one-time token URL that opens the UI (serve mode only). */
  uiUrl?: string;
  close(): Promise<void>;
}

export async function startHttpServer(engine: Engine, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const uiToken = options.uiDir ? randomBytes(24).toString('base64url') : undefined;
  let tokenUsed = false;
  const uiSessions = new Set<string>();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      engine.log.error('HTTP request failed', error);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (url.pathname === '/client/api' || url.pathname === '/client/api/') return api(req, res, url);
    if (!options.uiDir) return send(res, 404, 'text/plain', 'not found');
    const cookies = parseCookies(req.headers.cookie);
    const token = url.searchParams.get('token');
    if (token && uiToken && !tokenUsed && safeEqual(token, uiToken)) {
      // The token opens one browser session, then is spent, as Jupyter's is per server start.
      tokenUsed = true;
      const session = randomBytes(24).toString('base64url');
      uiSessions.add(session);
      res.setHeader('Set-Cookie', `kiln_ui=${session}; HttpOnly; SameSite=Strict; Path=/`);
      res.writeHead(302, { Location: '/' });
      res.end();
      return;
    }
    if (!cookies['kiln_ui'] || !uiSessions.has(cookies['kiln_ui'])) {
      return send(res, 401, 'text/html; charset=utf-8', '<!doctype html><title>Kiln</title><p>Open Kiln with the URL (and its token) that <code>kiln serve</code> printed.</p>');
    }
    return staticFile(res, options.uiDir, url.pathname);
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return respond(res, { status: 405, responseName: 'errorresponse', body: errorBody(new ApiError(405, `method ${req.method} is not allowed; use GET or POST`)) }, 'json');
    }
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(url.searchParams);
      if (req.method === 'POST') Object.assign(params, Object.fromEntries(new URLSearchParams(await readBody(req))));
    } catch (error) {
      return respond(res, { status: 431, responseName: 'errorresponse', body: errorBody(error instanceof ApiError ? error : ApiError.param(String(error))) }, 'json');
    }
    const format = (params['response'] ?? options.defaultResponse ?? 'xml').toLowerCase() === 'json' ? 'json' : 'xml';
    const command = params['command'];
    const cookies = parseCookies(req.headers.cookie);
    const uiCaller = cookies['kiln_ui'] && uiSessions.has(cookies['kiln_ui']) && req.headers['x-kiln-ui'] === '1' ? engine.accounts.localAdmin() : undefined;

    if (command?.toLowerCase() === 'login') return login(res, params, format);
    let caller: Caller;
    try {
      caller = options.trustedCaller ?? authenticate(engine, { params, cookies, uiCaller });
    } catch (error) {
      const apiError = error instanceof ApiError ? error : ApiError.unauthorized();
      return respond(res, { status: apiError.errorCode, responseName: `${(command ?? '').toLowerCase()}response`, body: errorBody(apiError) }, format);
    }
    if (command?.toLowerCase() === 'logout') {
      const key = params['sessionkey'] ?? cookies['sessionkey'];
      if (key) engine.accounts.logout(key);
      res.setHeader('Set-Cookie', 'sessionkey=; Max-Age=0; Path=/client; HttpOnly; SameSite=Strict');
      return respond(res, { status: 200, responseName: 'logoutresponse', body: { description: 'success' } }, format);
    }
    const result = await engine.registry.execute(command, params, caller);
    const endpoint = result.body['consoleendpoint'] as { path?: string; url?: string; websocket?: Record<string, unknown> } | undefined;
    if (endpoint?.path) {
      // Only the transport knows the address the client reached it on.
      const host = req.headers.host ?? `127.0.0.1`;
      endpoint.url = `ws://${host}${endpoint.path}`;
      if (endpoint.websocket) endpoint.websocket['host'] = host;
      delete endpoint.path;
    }
    respond(res, result, format);
  }

  function login(res: ServerResponse, params: Record<string, string>, format: 'json' | 'xml'): void {
    try {
      const { caller, sessionKey, timeoutSeconds } = engine.accounts.login(params['username'] ?? '', params['password'] ?? '', params['domain']);
      res.setHeader('Set-Cookie', [`sessionkey=${sessionKey}; Path=/client; HttpOnly; SameSite=Strict`, `userid=${caller.userUuid}; Path=/client; SameSite=Strict`]);
      respond(res, {
        status: 200,
        responseName: 'loginresponse',
        body: {
          timeout: String(timeoutSeconds), sessionkey: sessionKey, username: caller.username, userid: caller.userUuid, account: caller.accountName,
          domainid: caller.domainUuid, type: caller.role === 'Admin' ? '1' : caller.role === 'DomainAdmin' ? '2' : '0', registered: 'false',
        },
      }, format);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : ApiError.unauthorized();
      respond(res, { status: apiError.errorCode, responseName: 'loginresponse', body: errorBody(apiError) }, format);
    }
  }

  function respond(res: ServerResponse, result: ApiResult, format: 'json' | 'xml'): void {
    if (format === 'json') send(res, result.status, 'application/json; charset=UTF-8', JSON.stringify({ [result.responseName]: result.body }));
    else send(res, result.status, 'text/xml; charset=UTF-8', toXml(result.responseName, result.body, CLOUDSTACK_VERSION));
  }

  function staticFile(res: ServerResponse, root: string, pathname: string): void {
    const relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
    let file = join(root, relative);
    if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) return send(res, 403, 'text/plain', 'forbidden');
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    send(res, 200, MIME[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  }

  const consoleUpgrade = consoleUpgradeHandler(engine);
  server.on('upgrade', (req, socket, head) => {
    // Other upgrade handlers (the UI's live channel) see requests this one does not claim.
    if (!consoleUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = `http://${shownHost}:${address.port}`;
  return {
    server,
    isUiSession: (req) => {
      const cookie = parseCookies(req.headers.cookie)['kiln_ui'];
      return cookie !== undefined && uiSessions.has(cookie);
    },
    url: `${base}/client/api`,
    uiUrl: uiToken ? `${base}/?token=${uiToken}` : undefined,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(ApiError.param(`request body is larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

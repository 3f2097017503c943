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
import { CONSOLE_PATH, consoleUpgradeHandler } from './console-socket.js';
import { guardRequest, isApiPath, isRefusal, parseCookies, reachableAddress, type Refusal } from './request-guard.js';
import { UpgradeRouter, type UpgradeHandler } from './upgrade-router.js';
import { requestLimitError, MAX_HEADER_BYTES, getParameterLimitError, readLimitedBody, watchRequestHeads } from './request-limits.js';

export { parseCookies } from './request-guard.js';

/** How long an idle HTTP keep-alive connection is kept (below Node's 60 s headersTimeout). */
export const KEEP_ALIVE_MS = 30_000;

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
  /**
   * Serves WebSocket upgrades to `path`. Every upgrade passes the request guard first (Host,
   * URL, cookies); register here, never with server.on('upgrade').
   */
  onUpgrade(path: string, handler: UpgradeHandler): void;
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

  // Headers up to MAX_HEADER_BYTES are read, so an over-long GET gets an answer that names its
  // parameter; past that, clientError below still answers with the envelope.
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      engine.log.error('HTTP request failed', error);
      if (!res.headersSent) respond(res, { status: 530, responseName: 'errorresponse', body: errorBody(ApiError.internal('internal error; see the server log')) }, options.defaultResponse ?? 'xml');
      else res.destroy();
    });
  });
  // An idle keep-alive connection stays open this long (Node's default is 5 s): a client that
  // pauses between calls (a script, a test whose loop is busy with a host command) must not meet a
  // socket the server closed the moment it sends on it ('other side closed'). Node sends it as
  // the Keep-Alive hint, so clients drop their idle sockets before this server does.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  const bound = (): AddressInfo => server.address() as AddressInfo;
  /** The answer's format: what the request asked for, else this server's default (CloudStack's is XML). */
  const formatOf = (asked: string | null | undefined): 'json' | 'xml' => ((asked ?? options.defaultResponse ?? 'xml').toLowerCase() === 'json' ? 'json' : 'xml');

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const guarded = guardRequest(req, bound());
    if (isRefusal(guarded)) return refuse(req, res, guarded);
    const { url, cookies } = guarded;
    if (isApiPath(url.pathname)) return api(req, res, url, cookies);
    if (!options.uiDir) return send(res, 404, 'text/plain', 'not found');
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

  /** A request the guard refused: the API's envelope on /client/api, plain text elsewhere. */
  function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
    let target: URL | undefined;
    try {
      target = new URL(req.url ?? '/', 'http://kiln.invalid');
    } catch {
      target = undefined;
    }
    if (!target || !isApiPath(target.pathname)) return send(res, refusal.status, 'text/plain; charset=utf-8', `${refusal.reason}\n`);
    const format = formatOf(target.searchParams.get('response'));
    // A request from a foreign Host is not authenticated as anyone: 401, as CloudStack answers it.
    const error = refusal.status === 403 ? ApiError.unauthorized(refusal.reason) : ApiError.param(refusal.reason);
    respond(res, { status: error.errorCode, responseName: responseNameOf(target.searchParams.get('command')), body: errorBody(error) }, format);
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, cookies: Record<string, string>): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return respond(res, { status: 405, responseName: 'errorresponse', body: errorBody(new ApiError(405, `method ${req.method} is not allowed; use GET or POST`)) }, 'json');
    }
    const queryParams = Object.fromEntries(url.searchParams);
    const queryFormat = formatOf(queryParams['response']);
    const getLimit = req.method === 'GET' ? getParameterLimitError(queryParams) : undefined;
    if (getLimit) return respond(res, { status: getLimit.errorCode, responseName: responseNameOf(queryParams['command']), body: errorBody(getLimit) }, queryFormat);
    let params: Record<string, string> = queryParams;
    if (req.method === 'POST') {
      const body = await readLimitedBody(req);
      if (typeof body !== 'string') {
        res.setHeader('Connection', 'close');
        return respond(res, { status: body.error.errorCode, responseName: responseNameOf(body.command ?? queryParams['command']), body: errorBody(body.error) }, body.format ?? queryFormat);
      }
      params = { ...queryParams, ...Object.fromEntries(new URLSearchParams(body)) };
    }
    const format = formatOf(params['response']);
    const command = params['command'];
    const uiCaller = cookies['kiln_ui'] && uiSessions.has(cookies['kiln_ui']) && req.headers['x-kiln-ui'] === '1' ? engine.accounts.localAdmin() : undefined;

    // As CloudStack's integration port, which refuses its authenticators (login, logout): every
    // call there already runs as the trusted caller, so a session made there is of no use there,
    // and a client that logs in on it is misconfigured: say so instead of answering a session key.
    if (options.trustedCaller && (command?.toLowerCase() === 'login' || command?.toLowerCase() === 'logout')) {
      const refused = new ApiError(432, `${command} is not available on the integration port: every call here runs as the local admin; log in on the main API port`);
      return respond(res, { status: 432, responseName: `${command.toLowerCase()}response`, body: errorBody(refused) }, format);
    }
    if (command?.toLowerCase() === 'login') return login(req, res, params, format);
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
      // Only the transport knows its address: the bound one (or, bound to every interface, the
      // one this connection arrived on), never the Host header a client chose.
      const host = reachableAddress(bound(), req.socket.localAddress);
      endpoint.url = `ws://${host}${endpoint.path}`;
      if (endpoint.websocket) endpoint.websocket['host'] = host;
      delete endpoint.path;
    }
    respond(res, result, format);
  }

  async function login(req: IncomingMessage, res: ServerResponse, params: Record<string, string>, format: 'json' | 'xml'): Promise<void> {
    // As CloudStack: a password in a GET URL would end up in logs and shell history.
    if (req.method !== 'POST') return respond(res, { status: 405, responseName: 'loginresponse', body: errorBody(new ApiError(405, 'Please use HTTP POST to authenticate using this API')) }, format);
    try {
      const { caller, sessionKey, timeoutSeconds } = await engine.accounts.login(params['username'] ?? '', params['password'] ?? '', params['domain']);
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
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'malformed path\n');
    }
    const relative = normalize(decoded).replace(/^([/\\])+/, '');
    let file = join(root, relative);
    if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) return send(res, 403, 'text/plain', 'forbidden');
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    send(res, 200, MIME[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  }

  const upgrades = new UpgradeRouter(bound, (error) => engine.log.error('WebSocket upgrade failed', error));
  upgrades.route(CONSOLE_PATH, consoleUpgradeHandler(engine));
  server.on('upgrade', upgrades.handle);
  // Requests Node cannot parse (bad request line, headers past MAX_HEADER_BYTES) never reach a
  // handler; answer them here rather than let the socket reset.
  const requestHead = watchRequestHeads(server);
  const answered = new WeakSet<object>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Node feeds every further chunk of a refused request to its parser and reports each again:
    // the first report was answered, and the socket is draining, so a reset now would lose it.
    if (answered.has(socket)) return;
    if (error.code === 'ECONNRESET' || !socket.writable || socket.writableEnded) return socket.destroy();
    answered.add(socket);
    const asked = requestHead(socket);
    const limit = requestLimitError(error.code, asked);
    const format = formatOf(asked.format);
    const responseName = responseNameOf(asked.command);
    const body = limit
      ? format === 'json' ? JSON.stringify({ [responseName]: errorBody(limit) }) : toXml(responseName, errorBody(limit), CLOUDSTACK_VERSION)
      : 'malformed HTTP request\n';
    const status = limit ? `${limit.errorCode} ${limit.errorCode === 431 ? 'Request Header Fields Too Large' : 'Error'}` : '400 Bad Request';
    const type = !limit ? 'text/plain; charset=utf-8' : format === 'json' ? 'application/json; charset=UTF-8' : 'text/xml; charset=UTF-8';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // The client may still be sending; keep reading (and dropping) so it gets the answer, not a reset.
    socket.on('error', () => socket.destroy());
    socket.resume();
    // Bounded: a client that keeps sending for 10 s is cut off.
    setTimeout(() => socket.destroy(), 10_000).unref();
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
    onUpgrade: (path, handler) => upgrades.route(path, handler),
    url: `${base}/client/api`,
    uiUrl: uiToken ? `${base}/?token=${uiToken}` : undefined,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** CloudStack's envelope name for a command's answer; a request with none answers as `errorresponse`. */
function responseNameOf(command: string | null | undefined): string {
  return `${(command || 'error').toLowerCase()}response`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The simulator's listeners (§6.1): every host answers on its own loopback address and the one
 * port, over HTTPS with a self-signed certificate (or plain HTTP for unit tests): JSON-RPC on
 * POST /jsonrpc, XML-RPC on any other POST path, the console on CONNECT/GET /console. A host can
 * be taken down (its listener closed, its connections cut) and brought back on the same port.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sim } from './sim.js';
import { CallDropped } from './sim.js';
import { handleImport } from './xva-import.js';
import { handleImportRawVdi } from './storage.js';
import { decodeMethodCall, xmlRpcFailure, xmlRpcSuccess, XapiFailure, XmlRpcMalformed, encodeMethodResponse } from './wire.js';

export interface Certificate {
  key: string;
  cert: string;
  thumbprint: string;
}

/** A fresh self-signed certificate for every host address (openssl, as a real host makes its own). */
export function makeCertificate(addresses: string[]): Certificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'xapi-sim-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '365',
      '-subj', '/CN=xapi-sim', '-addext', `subjectAltName=${['DNS:localhost', ...addresses.map((a) => `IP:${a}`)].join(',')}`,
      '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    const certPem = readFileSync(cert, 'utf8');
    return { key: readFileSync(key, 'utf8'), cert: certPem, thumbprint: new X509Certificate(certPem).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CORS = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'X-Requested-With' };

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function internalError(res: http.ServerResponse, what: string): void {
  // xapi answers a request it cannot parse with HTTP 500 and an HTML body (wire-protocol.md, "Errors").
  const body = `<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>${what.replace(/[<>&]/g, '')}</body></html>`;
  res.writeHead(500, { 'content-type': 'text/html', ...CORS });
  res.end(body);
}

function failureOf(e: unknown): XapiFailure {
  if (e instanceof XapiFailure) return e;
  return new XapiFailure('INTERNAL_ERROR', [e instanceof Error ? e.message : String(e)]);
}

async function handleJsonRpc(sim: Sim, host: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req);
  let msg: unknown;
  try {
    msg = JSON.parse(body);
  } catch {
    return internalError(res, `Jsonrpc.Malformed_method_request("${body.slice(0, 200)}")`);
  }
  const m = msg as Record<string, unknown>;
  if (!m || typeof m !== 'object' || Array.isArray(m) || !('id' in m) || typeof m['method'] !== 'string' || !Array.isArray(m['params'])) {
    return internalError(res, `Jsonrpc.Malformed_method_request("${body.slice(0, 200)}")`);
  }
  const v2 = m['jsonrpc'] === '2.0';
  const id = m['id'];
  let out: unknown;
  try {
    const result = await sim.dispatch(m['method'], m['params'] as unknown[], host);
    out = v2 ? { jsonrpc: '2.0', result, id } : { result, error: null, id };
  } catch (e) {
    if (e instanceof CallDropped) return void req.socket.destroy();
    const f = failureOf(e);
    out = v2 ? { jsonrpc: '2.0', error: { code: 1, message: f.code, data: f.params }, id } : { result: null, error: f.description, id };
  }
  // Exactly application/json, no charset: xen-api npm falls back to XML-RPC on anything else (§4.1).
  res.writeHead(200, { 'content-type': 'application/json', ...CORS });
  res.end(JSON.stringify(out));
}

async function handleXmlRpc(sim: Sim, host: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req);
  let call: { method: string; params: unknown[] };
  try {
    call = decodeMethodCall(body);
  } catch (e) {
    if (e instanceof XmlRpcMalformed) return internalError(res, `Xmlrpc parse error: ${e.message}`);
    throw e;
  }
  let out: string;
  try {
    const result = await sim.dispatch(call.method, call.params, host);
    // system.listMethods is the one result xapi does not wrap in Status/Value (§1.3).
    out = call.method === 'system.listMethods' ? encodeMethodResponse(result) : xmlRpcSuccess(result);
  } catch (e) {
    if (e instanceof CallDropped) return void req.socket.destroy();
    out = xmlRpcFailure(failureOf(e));
  }
  res.writeHead(200, { 'content-type': 'text/xml', ...CORS });
  res.end(out);
}

export type ConsoleHandler = (host: string, req: http.IncomingMessage, socket: Socket, head: Buffer) => void;

/** One host's listener. */
export class HostListener {
  private server: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  up = false;

  constructor(
    private readonly sim: Sim,
    readonly host: string,
    readonly address: string,
    cert: Certificate | undefined,
    consoleHandler: ConsoleHandler,
  ) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.route(req, res).catch((e: unknown) => {
        if (!res.headersSent) internalError(res, String(e));
        else res.destroy();
      });
    };
    this.server = cert ? https.createServer({ key: cert.key, cert: cert.cert }, handler) : http.createServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => consoleHandler(this.host, req, socket, head));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => consoleHandler(this.host, req, socket, head));
    this.server.keepAliveTimeout = 5_000;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'OPTIONS') {
      res.writeHead(200, CORS);
      return void res.end();
    }
    // The HTTP handlers that fill a VDI (import_raw_vdi.ml) and import an XVA (import.ml); /export is not simulated.
    if (req.method === 'PUT' && url.pathname === '/import_raw_vdi') return handleImportRawVdi(this.sim, this.host, req, res);
    if (req.method === 'PUT' && url.pathname === '/import') return handleImport(this.sim, this.host, req, res);
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/html' });
      return void res.end('<html><body><h1>HTTP 404 not found</h1></body></html>');
    }
    if (url.pathname === '/jsonrpc') return handleJsonRpc(this.sim, this.host, req, res);
    return handleXmlRpc(this.sim, this.host, req, res);
  }

  setCertificate(cert: Certificate): void {
    if (this.server instanceof https.Server) this.server.setSecureContext({ key: cert.key, cert: cert.cert });
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, this.address, () => {
        this.server.off('error', onError);
        this.up = true;
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Closes the listener and cuts every open connection (a host that went away). */
  close(): Promise<void> {
    this.up = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

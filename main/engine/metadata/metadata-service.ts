/**
 * The metadata HTTP service (R62, R64): the paths cloud-init's CloudStack datasource reads, as
 * CloudStack's virtual router serves them, plus the password server it asks on port 8080.
 *
 * The guest is identified by the source address of its connection and nothing else: that address
 * must be a live NIC address of exactly one VM in Kiln's database (among the networks this
 * listener serves), whose network delivers metadata by this service. Every answer is built from
 * that one VM's metadata, so a guest can read its own data and never another's; an unknown
 * source gets 404 on every path.
 *
 * Two ways in:
 *  - `listen(address)`: a plain listener where guests reach Kiln directly; the socket's peer
 *    address is the guest's.
 *  - `acceptForwarded(stream, guestAddress)`: a connection accepted elsewhere on the guest's
 *    behalf, whose origin that side vouches for. On a remote KVM host this is an ssh2 remote
 *    forward on the pooled connection: the host's sshd listens on the guest bridge and reports
 *    each connection's originator address in its forwarded-tcpip channel (see README.md here).
 *
 * No Host-header check: guests address the service by IP (their gateway, DHCP server or the
 * `data-server` name), and it carries no credentials a rebinding page could use.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Db } from '../db/database.js';
import type { Settings } from '../settings.js';
import { guestMetadata, METADATA_FIELDS, vmByGuestAddress, type GuestMetadata, type MetadataField } from './guest-metadata.js';
import { vmUserDataProvider } from './provider.js';

export interface MetadataAnswer {
  status: number;
  body: string | Buffer;
}

export interface MetadataSource {
  db: Db;
  settings: Settings;
}

export interface MetadataServiceOptions {
  /** Serve only guests on these networks (a per-host or per-bridge listener); all networks when omitted. */
  networkIds?: number[];
}

const NOT_FOUND: MetadataAnswer = { status: 404, body: 'Not Found\n' };

/** The VM behind a source address whose network uses this service, or undefined. */
export function metadataForSource(source: MetadataSource, address: string, options: MetadataServiceOptions = {}): GuestMetadata | undefined {
  const vmId = vmByGuestAddress(source.db, address, options.networkIds);
  if (vmId === undefined) return undefined;
  if (vmUserDataProvider(source.db, source.settings, vmId) !== 'VirtualRouter') return undefined;
  return guestMetadata(source.db, vmId);
}

/** The answer to GET PATH from the guest at ADDRESS. */
export function answerMetadata(source: MetadataSource, address: string, path: string, options: MetadataServiceOptions = {}): MetadataAnswer {
  const md = metadataForSource(source, address, options);
  if (!md) return NOT_FOUND;
  const clean = path.split('?')[0]!.replace(/\/{2,}/g, '/');
  if (clean === '/' || clean === '') return { status: 200, body: 'latest\n' };
  const match = /^\/latest(?:\/(.*))?$/.exec(clean);
  if (!match) return NOT_FOUND;
  const rest = match[1] ?? '';
  if (rest === '') return { status: 200, body: ['user-data', 'meta-data/', ...METADATA_FIELDS].join('\n') + '\n' };
  if (rest === 'user-data') return md.userData ? { status: 200, body: md.userData } : NOT_FOUND;
  if (rest === 'meta-data' || rest === 'meta-data/') return { status: 200, body: METADATA_FIELDS.join('\n') + '\n' };
  // Each field under latest/meta-data/ and, as CloudStack's router has them, under latest/ too.
  const field = rest.replace(/^meta-data\//, '').replace(/\/$/, '');
  if ((METADATA_FIELDS as readonly string[]).includes(field)) return { status: 200, body: md.fields[field as MetadataField] };
  return NOT_FOUND;
}

/**
 * CloudStack's password server protocol (the `DomU_Request` header). Kiln sets no guest
 * passwords, so a known guest always hears `saved_password` (nothing pending); cloud-init then
 * carries on without one. An unknown source gets 404, an unknown request `bad_request`.
 */
export function answerPassword(source: MetadataSource, address: string, domuRequest: string | undefined, options: MetadataServiceOptions = {}): MetadataAnswer {
  if (!metadataForSource(source, address, options)) return NOT_FOUND;
  if (domuRequest === 'send_my_password' || domuRequest === 'saved_password') return { status: 200, body: 'saved_password' };
  return { status: 400, body: 'bad_request' };
}

export class MetadataService {
  private readonly metadata: Server;
  private readonly password: Server;
  /** Guest addresses of forwarded connections, vouched for by whoever accepted them, and the networks their listener serves. */
  private readonly forwarded = new WeakMap<object, { address: string; options: MetadataServiceOptions }>();

  constructor(private readonly source: MetadataSource, private readonly options: MetadataServiceOptions = {}) {
    this.metadata = createServer((req, res) => this.respond(req, res, (address, options) => (req.method === 'GET' || req.method === 'HEAD' ? answerMetadata(this.source, address, req.url ?? '/', options) : { status: 405, body: '' })));
    this.password = createServer((req, res) => this.respond(req, res, (address, options) => answerPassword(this.source, address, headerOf(req, 'domu_request'), options)));
    for (const server of [this.metadata, this.password]) {
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
      server.on('clientError', (_error, socket) => socket.destroy());
    }
  }

  private respond(req: IncomingMessage, res: ServerResponse, answer: (address: string, options: MetadataServiceOptions) => MetadataAnswer): void {
    const forwarded = this.forwarded.get(req.socket);
    const address = forwarded?.address ?? req.socket.remoteAddress;
    let result: MetadataAnswer;
    try {
      result = address ? answer(address, forwarded?.options ?? this.options) : NOT_FOUND;
    } catch {
      result = { status: 500, body: 'Internal Server Error\n' };
    }
    res.writeHead(result.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(result.body) });
    res.end(req.method === 'HEAD' ? undefined : result.body);
  }

  /** Listens on ADDRESS (the guests' side), port 80 and the password server's 8080 unless told otherwise. */
  async listen(address: string, ports: { metadata?: number; password?: number } = {}): Promise<{ metadata: number; password: number }> {
    const bind = (server: Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, address, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    const metadata = await bind(this.metadata, ports.metadata ?? 80);
    try {
      return { metadata, password: await bind(this.password, ports.password ?? 8080) };
    } catch (error) {
      await new Promise((resolve) => this.metadata.close(resolve));
      throw error;
    }
  }

  /**
   * Serves one connection accepted on a guest's behalf (an ssh2 forwarded channel). NETWORKIDS
   * scopes it to the networks of the listener that accepted it (a host's gateway address), so an
   * address another network of the zone also uses is not mistaken for this guest.
   */
  acceptForwarded(stream: Duplex, guestAddress: string, kind: 'metadata' | 'password' = 'metadata', networkIds?: number[]): void {
    this.forwarded.set(stream, { address: guestAddress, options: networkIds ? { ...this.options, networkIds } : this.options });
    (kind === 'metadata' ? this.metadata : this.password).emit('connection', stream);
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.metadata, this.password].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

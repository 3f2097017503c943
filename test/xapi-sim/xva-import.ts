/**
 * PUT /import: xapi's VM import handler (xen-api ocaml/xapi/import.ml, stream_vdi.ml) for an XVA,
 * the tar `xe vm-export` writes: `ova.xml` first (an XML-RPC <value>: a struct of `version` and
 * `objects`, each {class, id, snapshot} with the exported record under its export id "Ref:N"),
 * then each disk's VDI as 1 MiB chunks `Ref:N/00000000`, `Ref:N/00000001`, … in increasing order
 * (all-zero chunks left out, except the first and the last), each followed by its checksum file
 * (`.xxhash`: XXH64 as 16 upper-case hex digits, what xapi writes now; `.checksum`: SHA-1 hex, what
 * older ones wrote; both are read). VDIs stream in the lexicographic order of their export ids.
 *
 * What it does, as xapi: the session (query or cookie) else 401; the SR from sr_id (ref) or
 * sr_uuid, else the pool's default SR; an SR this host does not reach (another host's local SR)
 * is answered with a 302 to that host; a chunked body is IMPORT_ERROR_CANNOT_HANDLE_CHUNKED. The
 * response (200, task-id header) goes out before the body is read. Then the objects are made: the
 * VM halted (a new uuid, no affinity), a VDI per disk on the SR, its VBDs, VIFs on the network of
 * the same name (else the same bridge, else a new one; MACs generated again unless restore=true),
 * and the disks are filled from the chunks. Any failure destroys every object made (import.ml's
 * cleanup stack) and fails the task: IMPORT_ERROR_UNEXPECTED_FILE [expected, found] for a first
 * file that is not ova.xml, IMPORT_ERROR_PREMATURE_EOF for a short archive, IMPORT_ERROR [why] for
 * a chunk out of order or with a wrong checksum or an ova.xml that does not parse. Success: the
 * task's result is the set of the new VM refs. A disk's bytes are not kept, their SHA-256 is (the
 * hidden `sha256`, as /import_raw_vdi keeps it).
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Sim } from './sim.js';
import { refreshSr } from './fixture.js';
import { redirectForSr } from './sr-redirect.js';
import { param } from './storage.js';
import { createTask } from './tasks.js';
import { decodeResponseValue, NULL_REF, XapiFailure, XDate, XFloat, taskResultOf } from './wire.js';

type Rec = Record<string, unknown>;
const CHUNK = 1024 * 1024;
const BLOCK = 512;

class PrematureEof extends Error {}

/** A tar read from a buffer one member at a time, as xapi's Tar_unix.get_next_header reads the stream. */
class TarReader {
  private at = 0;
  constructor(private readonly data: Buffer) {}
  /** The next member's name and bytes; undefined at the end-of-archive (a zero block). */
  next(): { name: string; body: Buffer } | undefined {
    if (this.at + BLOCK > this.data.length) throw new PrematureEof();
    const h = this.data.subarray(this.at, this.at + BLOCK);
    if (h.every((b) => b === 0)) return undefined;
    const str = (from: number, len: number) => h.toString('latin1', from, from + len).replace(/\0.*$/s, '');
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? str(345, 155) : '';
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const start = this.at + BLOCK;
    if (start + size > this.data.length) throw new PrematureEof();
    this.at = start + Math.ceil(size / BLOCK) * BLOCK;
    return { name, body: this.data.subarray(start, start + size) };
  }
}

const MASK = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & MASK;
const round = (acc: bigint, lane: bigint) => (rotl((acc + lane * P2) & MASK, 31n) * P1) & MASK;
const merge = (acc: bigint, v: bigint) => ((((acc ^ round(0n, v)) * P1) & MASK) + P4) & MASK;

/** XXH64 with seed 0, as xapi's XXHash.XXH64.hash (stream_vdi.ml writes it as %016LX). */
export function xxh64(buf: Buffer): string {
  const len = buf.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (P1 + P2) & MASK;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (0n - P1) & MASK;
    for (; i + 32 <= len; i += 32) {
      v1 = round(v1, buf.readBigUInt64LE(i));
      v2 = round(v2, buf.readBigUInt64LE(i + 8));
      v3 = round(v3, buf.readBigUInt64LE(i + 16));
      v4 = round(v4, buf.readBigUInt64LE(i + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = P5;
  }
  h = (h + BigInt(len)) & MASK;
  for (; i + 8 <= len; i += 8) h = ((rotl(h ^ round(0n, buf.readBigUInt64LE(i)), 27n) * P1) & MASK) + P4 & MASK;
  for (; i + 4 <= len; i += 4) h = ((rotl(h ^ ((BigInt(buf.readUInt32LE(i)) * P1) & MASK), 23n) * P2) & MASK) + P3 & MASK;
  for (; i < len; i++) h = (rotl(h ^ ((BigInt(buf[i]!) * P5) & MASK), 11n) * P1) & MASK;
  h = ((h ^ (h >> 33n)) * P2) & MASK;
  h = ((h ^ (h >> 29n)) * P3) & MASK;
  h ^= h >> 32n;
  return h.toString(16).toUpperCase().padStart(16, '0');
}

/** The checksum a chunk's checksum file must hold, by its extension (stream_vdi.ml recv_all_vdi). */
function checksumOf(file: string, chunk: Buffer): string {
  if (file.endsWith('.xxhash')) return xxh64(chunk);
  if (file.endsWith('.checksum')) return createHash('sha1').update(chunk).digest('hex');
  throw new XapiFailure('IMPORT_ERROR', [`Found unsupported checksum file: ${file}`]);
}

interface Exported {
  cls: string;
  id: string;
  snapshot: Rec;
}

/** What import.ml makes, undone in reverse on a failure. */
class Made {
  readonly undo: (() => void)[] = [];
  constructor(private readonly sim: Sim) {}
  create(cls: string, fields: Rec, hidden: Rec = {}): string {
    const ref = this.sim.store.create(cls, fields, hidden);
    this.undo.push(() => this.sim.store.has(cls, ref) && this.sim.store.destroy(cls, ref));
    return ref;
  }
  link(cls: string, ref: string, set: string, member: string): void {
    this.sim.store.addToSet(cls, ref, set, member);
    this.undo.push(() => this.sim.store.has(cls, ref) && this.sim.store.removeFromSet(cls, ref, set, member));
  }
  cleanup(): void {
    for (const u of this.undo.reverse()) u();
  }
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : fallback);
const map = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries((v ?? {}) as Rec).map(([k, x]) => [k, String(x)]));

function randomMac(): string {
  return `02:${Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`;
}

/** ova.xml's header: version and objects (import.ml header_of_rpc). */
function headerOf(xml: string): { version: Rec; objects: Exported[] } {
  let value: unknown;
  try {
    value = decodeResponseValue(xml);
  } catch (e) {
    throw new XapiFailure('IMPORT_ERROR', [`ova.xml: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const v = value as Rec;
  if (!v || typeof v !== 'object' || !Array.isArray(v['objects']) || typeof v['version'] !== 'object') throw new XapiFailure('IMPORT_ERROR', ['ova.xml: no version and objects']);
  const objects = (v['objects'] as Rec[]).map((o) => ({ cls: str(o['class']), id: str(o['id']), snapshot: (o['snapshot'] ?? {}) as Rec }));
  return { version: v['version'] as Rec, objects };
}

/** import.ml handle_all for the classes an XVA of one VM holds; returns the new VM refs and VDI export id -> (ref, size). */
function makeObjects(sim: Sim, made: Made, objects: Exported[], sr: string, restore: boolean): { vms: string[]; vdis: { id: string; ref: string; size: number }[] } {
  const { store } = sim;
  const table = new Map<string, string>();
  const find = (id: string): string => {
    const r = table.get(id);
    if (!r) throw new XapiFailure('IMPORT_ERROR_FAILED_TO_FIND_OBJECT', [id]);
    return r;
  };
  const of = (cls: string) => objects.filter((o) => o.cls === cls);
  const isoSrs = new Set(of('SR').filter((o) => o.snapshot['content_type'] === 'iso').map((o) => o.id));
  const vdis: { id: string; ref: string; size: number }[] = [];
  for (const o of of('VDI')) {
    // A CD's VDI (on an ISO SR) is not streamed; the drive comes back empty.
    if (isoSrs.has(str(o.snapshot['SR']))) continue;
    const r = o.snapshot;
    const size = num(r['virtual_size']);
    const ref = made.create('VDI', {
      name_label: str(r['name_label']), name_description: str(r['name_description']), SR: sr, virtual_size: size, physical_utilisation: 0,
      type: str(r['type'], 'user'), sharable: r['sharable'] === true, read_only: r['read_only'] === true, other_config: map(r['other_config']), managed: true,
      location: '', on_boot: 'persist', allow_caching: false, allowed_operations: ['clone', 'copy', 'resize', 'destroy', 'snapshot', 'update'],
    });
    made.link('SR', sr, 'VDIs', ref);
    table.set(o.id, ref);
    vdis.push({ id: o.id, ref, size });
  }
  for (const o of of('network')) {
    const r = o.snapshot;
    const byName = store.all('network').find((n) => n.rec['name_label'] === r['name_label']);
    const byBridge = store.all('network').find((n) => r['bridge'] && n.rec['bridge'] === r['bridge']);
    const net = byName?.ref ?? byBridge?.ref ?? made.create('network', { name_label: str(r['name_label']), name_description: str(r['name_description']), bridge: `xapi${store.count('network')}`, MTU: num(r['MTU'], 1500), managed: true, other_config: map(r['other_config']) });
    table.set(o.id, net);
  }
  const vms: string[] = [];
  for (const o of of('VM')) {
    const r = o.snapshot;
    if (r['is_control_domain'] === true) continue;
    const metrics = made.create('VM_metrics', { hvm: true, current_domain_type: 'hvm' });
    const memory = num(r['memory_static_max'], 1024 * 1024 * 1024);
    const vm = made.create('VM', {
      name_label: str(r['name_label']), name_description: str(r['name_description']), power_state: 'Halted', is_a_template: r['is_a_template'] === true,
      memory_static_max: memory, memory_static_min: num(r['memory_static_min'], memory), memory_dynamic_max: num(r['memory_dynamic_max'], memory), memory_dynamic_min: num(r['memory_dynamic_min'], memory),
      memory_target: 0, VCPUs_max: num(r['VCPUs_max'], 1), VCPUs_at_startup: num(r['VCPUs_at_startup'], 1), HVM_boot_policy: str(r['HVM_boot_policy'], 'BIOS order'),
      HVM_boot_params: map(r['HVM_boot_params']), platform: map(r['platform']), domain_type: str(r['domain_type'], 'hvm'), other_config: map(r['other_config']),
      actions_after_shutdown: 'destroy', actions_after_reboot: 'restart', actions_after_crash: 'restart', domid: -1, metrics, affinity: NULL_REF, resident_on: NULL_REF,
      allowed_operations: ['start', 'start_on', 'clone', 'copy', 'export', 'destroy', 'snapshot'], user_version: 1,
    }, { tools: true });
    table.set(o.id, vm);
    vms.push(vm);
  }
  for (const o of of('VBD')) {
    const r = o.snapshot;
    const vm = find(str(r['VM']));
    const vdiId = str(r['VDI']);
    const vdi = table.get(vdiId);
    const cd = r['type'] === 'CD';
    if (!vdi && !cd) throw new XapiFailure('IMPORT_ERROR_ATTACHED_DISKS_NOT_FOUND', []);
    const vbd = made.create('VBD', {
      VM: vm, VDI: vdi ?? NULL_REF, userdevice: str(r['userdevice'], '0'), device: '', bootable: r['bootable'] === true, mode: cd ? 'RO' : (str(r['mode'], 'RW') as 'RW' | 'RO'),
      type: cd ? 'CD' : 'Disk', unpluggable: r['unpluggable'] === true, empty: !vdi, currently_attached: false, other_config: map(r['other_config']), allowed_operations: ['attach'],
    });
    made.link('VM', vm, 'VBDs', vbd);
    if (vdi) made.link('VDI', vdi, 'VBDs', vbd);
  }
  for (const o of of('VIF')) {
    const r = o.snapshot;
    const vm = find(str(r['VM']));
    const net = find(str(r['network']));
    const vif = made.create('VIF', {
      VM: vm, network: net, device: str(r['device'], '0'), MAC: restore && str(r['MAC']) ? str(r['MAC']) : randomMac(), MTU: num(r['MTU'], 1500), MAC_autogenerated: !restore,
      other_config: map(r['other_config']), locking_mode: 'network_default', ipv4_configuration_mode: 'None', ipv6_configuration_mode: 'None',
    });
    made.link('VM', vm, 'VIFs', vif);
    made.link('network', net, 'VIFs', vif);
  }
  if (vms.length === 0) throw new XapiFailure('IMPORT_ERROR', ['the archive exports no VM']);
  return { vms, vdis };
}

/** stream_vdi.ml recv_all_vdi: each VDI's chunks in order with their checksum files; returns each VDI's SHA-256. */
function receiveDisks(tar: TarReader, vdis: { id: string; ref: string; size: number }[]): Map<string, string> {
  const digests = new Map<string, string>();
  for (const vdi of [...vdis].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const hash = createHash('sha256');
    let offset = 0;
    let last = -1;
    let firstLength = -1;
    while (offset < vdi.size) {
      const chunk = tar.next();
      if (!chunk) throw new PrematureEof();
      if (!chunk.name.startsWith(`${vdi.id}/`)) throw new XapiFailure('IMPORT_ERROR', [`Invalid XVA file: expected a chunk of ${vdi.id}, found ${chunk.name}`]);
      const suffix = chunk.name.slice(vdi.id.length + 1);
      const n = /^\d+$/.test(suffix) ? Number(suffix) : NaN;
      if (!(n > last)) throw new XapiFailure('IMPORT_ERROR', [`Invalid XVA file: chunk ${chunk.name} does not follow chunk ${String(last).padStart(8, '0')}`]);
      if (firstLength < 0) firstLength = chunk.body.length || CHUNK;
      // Left-out chunks are zeros.
      const skipped = (n - last - 1) * firstLength;
      if (skipped > 0) hash.update(Buffer.alloc(skipped));
      hash.update(chunk.body);
      const sum = tar.next();
      if (!sum) throw new PrematureEof();
      if (!sum.name.startsWith(`${chunk.name}.`)) throw new XapiFailure('IMPORT_ERROR_UNEXPECTED_FILE', [`${chunk.name}.xxhash`, sum.name]);
      const recomputed = checksumOf(sum.name, chunk.body);
      const original = sum.body.toString('latin1');
      if (original !== recomputed) throw new XapiFailure('IMPORT_ERROR', [`Block ${chunk.name} checksum failed: original = ${original}; recomputed = ${recomputed}`]);
      offset += skipped + chunk.body.length;
      last = n;
    }
    digests.set(vdi.ref, hash.digest('hex'));
  }
  return digests;
}

export async function handleImport(sim: Sim, host: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { store } = sim;
  const url = new URL(req.url ?? '/', 'http://x');
  const session = param(req, url, 'session_id');
  if (!session || !sim.sessions.has(session)) {
    req.resume();
    res.writeHead(401, { 'content-type': 'text/html', 'www-authenticate': 'Basic realm="xapi"', connection: 'close' });
    return void res.end('<html><body><h1>HTTP 401 unauthorised</h1></body></html>');
  }
  const given = param(req, url, 'task_id');
  const task = given && store.has('task', given) ? given : createTask(sim, 'VM.import');
  const fail = (f: XapiFailure): void => {
    if (store.has('task', task)) store.update('task', task, { status: 'failure', error_info: f.description, finished: new XDate(new Date()), allowed_operations: [] });
  };
  const srId = param(req, url, 'sr_id');
  const srUuid = param(req, url, 'sr_uuid');
  const sr = srId && store.has('SR', srId) ? srId : srUuid ? store.all('SR').find((r) => r.rec['uuid'] === srUuid)?.ref : srId ? undefined : (store.rec('pool', sim.pool)['default_SR'] as string);
  if (!sr) {
    req.resume();
    fail(new XapiFailure('HANDLE_INVALID', ['SR', srId ?? srUuid ?? '']));
    res.writeHead(404, { 'content-type': 'text/html', 'task-id': task, connection: 'close' });
    return void res.end();
  }
  // import.ml: an SR this host cannot see is imported by a host that can (a redirect there).
  if (redirectForSr(sim, 'PUT /import', host, sr, req, res)) return;
  if (req.headers['transfer-encoding']) {
    req.resume();
    fail(new XapiFailure('IMPORT_ERROR_CANNOT_HANDLE_CHUNKED', []));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'task-id': task, connection: 'close' });
    return void res.end();
  }
  // The headers go out first (import.ml's Http_svr.headers), the import then reads the stream:
  // a client may wait for them before it sends the body (XenCenter's HTTP.PUT does).
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'task-id': task, connection: 'close' });
  res.flushHeaders();
  const parts: Buffer[] = [];
  let received = 0;
  const expected = Number(req.headers['content-length'] ?? 0);
  await new Promise<void>((resolve, reject) => {
    req.on('data', (c: Buffer) => {
      parts.push(c);
      received += c.length;
      if (store.has('task', task)) store.update('task', task, { progress: new XFloat(Math.min(0.99, received / Math.max(1, expected))) });
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  const made = new Made(sim);
  try {
    const tar = new TarReader(Buffer.concat(parts));
    const first = tar.next();
    if (!first) throw new PrematureEof();
    if (first.name !== 'ova.xml') throw new XapiFailure('IMPORT_ERROR_UNEXPECTED_FILE', ['ova.xml', first.name]);
    const header = headerOf(first.body.toString('utf8'));
    const restore = url.searchParams.get('restore') === 'true';
    const { vms, vdis } = makeObjects(sim, made, header.objects, sr, restore);
    const digests = receiveDisks(tar, vdis);
    for (const [vdi, sha256] of digests) {
      store.row('VDI', vdi).hidden['sha256'] = sha256;
      store.update('VDI', vdi, { physical_utilisation: store.rec('VDI', vdi)['virtual_size'] });
    }
    refreshSr(sim, sr);
    store.update('task', task, { status: 'success', progress: new XFloat(1), result: taskResultOf(vms), finished: new XDate(new Date()), allowed_operations: [] });
  } catch (e) {
    made.cleanup();
    refreshSr(sim, sr);
    fail(e instanceof XapiFailure ? e : e instanceof PrematureEof ? new XapiFailure('IMPORT_ERROR_PREMATURE_EOF', []) : new XapiFailure('IMPORT_ERROR', [e instanceof Error ? e.message : String(e)]));
  }
  res.end();
}

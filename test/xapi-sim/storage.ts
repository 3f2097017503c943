/**
 * Disks, CDs and NICs of a VM as xapi makes them (xen-api ocaml/xapi/xapi_vdi.ml, xapi_vbd.ml,
 * xapi_vif.ml, import_raw_vdi.ml): VDI.create / VDI.copy / VDI.resize, VBD.create / plug / unplug
 * / insert / eject / destroy, VIF.create / plug / unplug / destroy, VM.get_allowed_VBD_devices
 * and VM.get_allowed_VIF_devices, and the HTTP handler PUT /import_raw_vdi that fills a VDI with
 * bytes. A VDI's bytes are not kept: the SHA-256 and length of what was imported are (hidden
 * fields `sha256`, `bytes`), and travel with VDI.copy, so a test can tell which image a VM's disk
 * came from.
 */
import crypto, { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Sim } from './sim.js';
import { refreshSr } from './fixture.js';
import { redirectForSr } from './sr-redirect.js';
import { srHasFeature } from './sm.js';
import { createTask } from './tasks.js';
import { NULL_REF, XapiFailure, XDate, XFloat, taskResultOf } from './wire.js';

type Rec = Record<string, unknown>;

/** userdevice "0".."15" (xapi's allowed VBD devices for an HVM guest); VIFs "0".."6". */
const VBD_DEVICES = Array.from({ length: 16 }, (_, i) => String(i));
const VIF_DEVICES = Array.from({ length: 7 }, (_, i) => String(i));
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

function field<T>(rec: Rec, name: string, kind: 'string' | 'number' | 'boolean' | 'object', fallback?: T): T {
  const v = rec[name];
  if (v === undefined && fallback !== undefined) return fallback;
  const ok = kind === 'number' ? (typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v))) : typeof v === kind && v !== null;
  // A record parameter missing a field without a default fails to unmarshal (FIELD_TYPE_ERROR).
  if (!ok) throw new XapiFailure('FIELD_TYPE_ERROR', [name]);
  return (kind === 'number' ? Number(v) : v) as T;
}

function stringMap(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((v ?? {}) as Rec).map(([k, x]) => [k, String(x)]));
}

/**
 * The file an ISO SR's new VDI is (ISOSR.py, vdi): sm_config `path` when given, which must match
 * [a-z0-9.-]+\.(iso|img) from its start (else VDICreate, SM error 78), else `<uuid>.img`; a file
 * already there is VDIExists (43). SM errors reach the caller as SR_BACKEND_FAILURE_<code>
 * [ "", description, opterr ] (xapi's storage_utils).
 */
function isoVdiFile(sim: Sim, sr: string, smConfig: Record<string, string>): string {
  const path = smConfig['path'];
  if (path !== undefined && !/^[a-z0-9.-]+\.(iso|img)/i.test(path)) throw new XapiFailure('SR_BACKEND_FAILURE_78', ['', 'VDI Creation failed', `Invalid path "${path}"`]);
  const file = path ?? `${crypto.randomUUID()}.img`;
  if ((sim.store.rec('SR', sr)['VDIs'] as string[]).some((v) => sim.store.rec('VDI', v)['location'] === file)) throw new XapiFailure('SR_BACKEND_FAILURE_43', ['', 'The VDI already exists', '']);
  return file;
}

function vbdDevice(userdevice: string): string {
  return `xvd${String.fromCharCode(97 + Number(userdevice))}`;
}

export function registerStorage(sim: Sim): void {
  const { api, store } = sim;
  const running = (vm: string): boolean => ['Running', 'Paused'].includes(store.rec('VM', vm)['power_state'] as string);
  /** VBD.plug / VIF.plug: only into a running VM, once. */
  const plug = (cls: 'VBD' | 'VIF', ref: string, patch: Rec = {}): string => {
    const d = store.rec(cls, ref);
    const vm = d['VM'] as string;
    if (!running(vm)) throw new XapiFailure('VM_BAD_POWER_STATE', [vm, 'running', String(store.rec('VM', vm)['power_state']).toLowerCase()]);
    if (d['currently_attached'] === true) throw new XapiFailure('DEVICE_ALREADY_ATTACHED', [ref]);
    store.update(cls, ref, { currently_attached: true, ...patch });
    return '';
  };
  /** VBD.destroy / VIF.destroy: refused while plugged into a running VM; the device leaves its VM and what backs it (a VDI, a network). */
  const destroyDevice = (cls: 'VBD' | 'VIF', ref: string, backing: 'VDI' | 'network'): string => {
    const d = store.rec(cls, ref);
    if (d['currently_attached'] === true && running(d['VM'] as string)) throw new XapiFailure('OPERATION_NOT_ALLOWED', [`${cls} currently attached to a running VM`]);
    const set = cls === 'VBD' ? 'VBDs' : 'VIFs';
    if (store.has('VM', d['VM'])) store.removeFromSet('VM', d['VM'] as string, set, ref);
    if (store.has(backing, d[backing])) store.removeFromSet(backing, d[backing] as string, set, ref);
    store.destroy(cls, ref);
    return '';
  };

  api.def('VDI.create', 'args:record', (_c, [args]) => {
    const a = args as Rec;
    const sr = field<string>(a, 'SR', 'string');
    const srRec = store.rec('SR', sr);
    const size = field<number>(a, 'virtual_size', 'number');
    const type = field<string>(a, 'type', 'string');
    // An SR whose SM driver lacks VDI_CREATE (or that does not allow vdi_create) makes no VDIs.
    if (!srHasFeature(sim, sr, 'VDI_CREATE') || !((srRec['allowed_operations'] as string[]).length === 0 || (srRec['allowed_operations'] as string[]).includes('vdi_create'))) {
      throw new XapiFailure('SR_OPERATION_NOT_SUPPORTED', [sr]);
    }
    const smConfig = stringMap(a['sm_config']);
    const iso = srRec['type'] === 'iso' ? isoVdiFile(sim, sr, smConfig) : undefined;
    if (size < 0) throw new XapiFailure('INVALID_VALUE', ['virtual_size', String(size)]);
    const free = (srRec['physical_size'] as number) - (srRec['virtual_allocation'] as number);
    if (size > free) throw new XapiFailure('SR_FULL', [String(size), String(free)]);
    const vdi = store.create('VDI', {
      name_label: field<string>(a, 'name_label', 'string'), name_description: field<string>(a, 'name_description', 'string'),
      SR: sr, virtual_size: size, physical_utilisation: 0, type, sharable: field<boolean>(a, 'sharable', 'boolean'),
      // ISOVDI.create: the file is made writable (read_only false) and its sm_config gets `created`.
      read_only: iso ? false : field<boolean>(a, 'read_only', 'boolean'),
      other_config: stringMap(field<Rec>(a, 'other_config', 'object')), xenstore_data: stringMap(a['xenstore_data']),
      sm_config: iso ? { ...smConfig, created: new Date().toISOString() } : smConfig,
      tags: (Array.isArray(a['tags']) ? a['tags'] : []).map(String), managed: true, location: iso ?? '', on_boot: 'persist', allow_caching: false,
      allowed_operations: ['clone', 'copy', 'resize', 'destroy', 'snapshot', 'update'],
    }, { sha256: '', bytes: 0 });
    store.addToSet('SR', sr, 'VDIs', vdi);
    refreshSr(sim, sr);
    return vdi;
  });

  api.def('VDI.copy', 'vdi:ref sr:ref base_vdi:ref="OpaqueRef:NULL" into_vdi:ref="OpaqueRef:NULL"', (_c, [vdi, sr]) => {
    const src = store.row('VDI', vdi);
    store.row('SR', sr);
    const r = src.rec;
    const free = (store.rec('SR', sr)['physical_size'] as number) - (store.rec('SR', sr)['virtual_allocation'] as number);
    if ((r['virtual_size'] as number) > free) throw new XapiFailure('SR_FULL', [String(r['virtual_size']), String(free)]);
    const copy = store.create('VDI', {
      name_label: r['name_label'], name_description: r['name_description'], SR: sr, virtual_size: r['virtual_size'], physical_utilisation: r['physical_utilisation'],
      type: r['type'], sharable: r['sharable'], read_only: false, other_config: { ...(r['other_config'] as Rec) }, managed: true, location: '', on_boot: 'persist',
      allow_caching: false, allowed_operations: ['clone', 'copy', 'resize', 'destroy', 'snapshot', 'update'],
    }, { sha256: src.hidden['sha256'] ?? '', bytes: src.hidden['bytes'] ?? 0 });
    store.addToSet('SR', sr as string, 'VDIs', copy);
    refreshSr(sim, sr as string);
    return copy;
  });

  /**
   * VDI.resize and VDI.resize_online (xapi_vdi.ml): the same storage call; they differ in xapi's
   * checks. resize needs the SM feature VDI_RESIZE and no VBD of the VDI attached (VDI_IN_USE
   * [vdi, "resize"]); resize_online needs VDI_RESIZE_ONLINE and is allowed while attached.
   */
  const resize = (op: 'resize' | 'resize_online') => (_c: unknown, [vdi, size]: unknown[]) => {
    const r = store.rec('VDI', vdi);
    const sr = r['SR'] as string;
    if (op === 'resize' && (r['VBDs'] as string[]).some((b) => store.has('VBD', b) && store.rec('VBD', b)['currently_attached'] === true)) {
      throw new XapiFailure('VDI_IN_USE', [vdi as string, 'resize']);
    }
    if (!srHasFeature(sim, sr, op === 'resize' ? 'VDI_RESIZE' : 'VDI_RESIZE_ONLINE')) throw new XapiFailure('SR_OPERATION_NOT_SUPPORTED', [sr]);
    // xapi's SM backends grow disks only (SR_OPERATION_NOT_SUPPORTED for a shrink on LVM/NFS).
    if ((size as number) < (r['virtual_size'] as number)) throw new XapiFailure('SR_OPERATION_NOT_SUPPORTED', [sr]);
    store.update('VDI', vdi as string, { virtual_size: size });
    refreshSr(sim, sr);
    return '';
  };
  api.def('VDI.resize', 'vdi:ref size:int', resize('resize'));
  api.def('VDI.resize_online', 'vdi:ref size:int', resize('resize_online'));

  api.def('VM.get_allowed_VBD_devices', 'vm:ref', (_c, [vm]) => {
    const used = new Set((store.rec('VM', vm)['VBDs'] as string[]).map((b) => store.rec('VBD', b)['userdevice'] as string));
    return VBD_DEVICES.filter((d) => !used.has(d));
  });
  api.def('VM.get_allowed_VIF_devices', 'vm:ref', (_c, [vm]) => {
    const used = new Set((store.rec('VM', vm)['VIFs'] as string[]).map((v) => store.rec('VIF', v)['device'] as string));
    return VIF_DEVICES.filter((d) => !used.has(d));
  });

  api.def('VBD.create', 'args:record', (_c, [args]) => {
    const a = args as Rec;
    const vm = field<string>(a, 'VM', 'string');
    store.row('VM', vm);
    const type = field<string>(a, 'type', 'string');
    if (!['Disk', 'CD', 'Floppy'].includes(type)) throw new XapiFailure('INVALID_VALUE', ['type', type]);
    const mode = field<string>(a, 'mode', 'string');
    if (!['RW', 'RO'].includes(mode)) throw new XapiFailure('INVALID_VALUE', ['mode', mode]);
    const empty = field<boolean>(a, 'empty', 'boolean');
    const vdi = empty ? NULL_REF : field<string>(a, 'VDI', 'string');
    if (!empty) store.row('VDI', vdi);
    if (type === 'Disk' && empty) throw new XapiFailure('VBD_NOT_REMOVABLE_MEDIA', [vm]);
    // A CD is read-only (xapi_vbd_helpers: a CD VBD with mode RW is refused).
    if (type === 'CD' && mode !== 'RO') throw new XapiFailure('VBD_CDS_MUST_BE_READONLY', []);
    const used = new Set((store.rec('VM', vm)['VBDs'] as string[]).map((b) => store.rec('VBD', b)['userdevice'] as string));
    let userdevice = field<string>(a, 'userdevice', 'string');
    if (userdevice === 'autodetect') userdevice = VBD_DEVICES.find((d) => !used.has(d)) ?? '';
    if (!VBD_DEVICES.includes(userdevice)) throw new XapiFailure('INVALID_DEVICE', [userdevice]);
    if (used.has(userdevice)) throw new XapiFailure('DEVICE_ALREADY_EXISTS', [userdevice]);
    const vbd = store.create('VBD', {
      VM: vm, VDI: vdi, userdevice, device: '', bootable: field<boolean>(a, 'bootable', 'boolean'), mode, type, empty,
      unpluggable: a['unpluggable'] === undefined ? true : a['unpluggable'] === true, other_config: stringMap(field<Rec>(a, 'other_config', 'object')),
      qos_algorithm_type: field<string>(a, 'qos_algorithm_type', 'string'), qos_algorithm_params: stringMap(field<Rec>(a, 'qos_algorithm_params', 'object')),
      currently_attached: false, allowed_operations: ['attach'],
    });
    store.addToSet('VM', vm, 'VBDs', vbd);
    if (!empty) store.addToSet('VDI', vdi, 'VBDs', vbd);
    return vbd;
  });

  api.def('VBD.plug', 'self:ref', (_c, [vbd]) => plug('VBD', vbd as string, { device: vbdDevice(store.rec('VBD', vbd)['userdevice'] as string) }));
  api.def('VBD.unplug', 'self:ref', (_c, [vbd]) => {
    const b = store.rec('VBD', vbd);
    if (b['currently_attached'] !== true) throw new XapiFailure('DEVICE_ALREADY_DETACHED', [vbd as string]);
    // An emulated CD drive of an HVM guest cannot be hot-unplugged (its medium is ejected instead).
    if (b['type'] === 'CD' || b['unpluggable'] !== true) throw new XapiFailure('VBD_NOT_UNPLUGGABLE', [vbd as string]);
    store.update('VBD', vbd as string, { currently_attached: false, device: '' });
    return '';
  });
  api.def('VBD.insert', 'vbd:ref vdi:ref', (_c, [vbd, vdi]) => {
    const b = store.rec('VBD', vbd);
    store.row('VDI', vdi);
    if (b['type'] !== 'CD') throw new XapiFailure('VBD_NOT_REMOVABLE_MEDIA', [vbd as string]);
    if (b['empty'] !== true) throw new XapiFailure('VBD_NOT_EMPTY', [vbd as string]);
    store.update('VBD', vbd as string, { VDI: vdi, empty: false });
    store.addToSet('VDI', vdi as string, 'VBDs', vbd as string);
    return '';
  });
  api.def('VBD.eject', 'vbd:ref', (_c, [vbd]) => {
    const b = store.rec('VBD', vbd);
    if (b['type'] !== 'CD') throw new XapiFailure('VBD_NOT_REMOVABLE_MEDIA', [vbd as string]);
    if (b['empty'] === true) throw new XapiFailure('VBD_IS_EMPTY', [vbd as string]);
    if (store.has('VDI', b['VDI'])) store.removeFromSet('VDI', b['VDI'] as string, 'VBDs', vbd as string);
    store.update('VBD', vbd as string, { VDI: NULL_REF, empty: true });
    return '';
  });
  api.def('VBD.destroy', 'self:ref', (_c, [vbd]) => destroyDevice('VBD', vbd as string, 'VDI'));

  api.def('VIF.create', 'args:record', (_c, [args]) => {
    const a = args as Rec;
    const vm = field<string>(a, 'VM', 'string');
    store.row('VM', vm);
    const network = field<string>(a, 'network', 'string');
    store.row('network', network);
    const device = field<string>(a, 'device', 'string');
    if (!VIF_DEVICES.includes(device)) throw new XapiFailure('INVALID_DEVICE', [device]);
    if ((store.rec('VM', vm)['VIFs'] as string[]).some((v) => store.rec('VIF', v)['device'] === device)) throw new XapiFailure('DEVICE_ALREADY_EXISTS', [device]);
    let mac = field<string>(a, 'MAC', 'string');
    const autogenerated = mac === '';
    if (autogenerated) mac = `02:${Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`;
    if (!MAC.test(mac)) throw new XapiFailure('MAC_INVALID', [mac]);
    const vif = store.create('VIF', {
      VM: vm, network, device, MAC: mac.toLowerCase(), MTU: field<number>(a, 'MTU', 'number'), MAC_autogenerated: autogenerated,
      other_config: stringMap(field<Rec>(a, 'other_config', 'object')), qos_algorithm_type: field<string>(a, 'qos_algorithm_type', 'string'),
      qos_algorithm_params: stringMap(field<Rec>(a, 'qos_algorithm_params', 'object')), locking_mode: (a['locking_mode'] as string | undefined) ?? 'network_default',
      ipv4_configuration_mode: 'None', ipv6_configuration_mode: 'None', currently_attached: false, allowed_operations: ['attach'],
    });
    store.addToSet('VM', vm, 'VIFs', vif);
    store.addToSet('network', network, 'VIFs', vif);
    return vif;
  });
  /**
   * xapi_vif_helpers.ml valid_operations: an HVM guest (every simulated guest) hot-plugs and
   * unplugs NICs only with PV drivers (guest metrics reporting them); else VM_MISSING_PV_DRIVERS
   * [vm] (xapi_pv_driver_version.ml make_error_opt). The power-state check comes first.
   */
  const assertVifHotplug = (vif: string): void => {
    const vm = store.rec('VIF', vif)['VM'] as string;
    const gm = store.rec('VM', vm)['guest_metrics'] as string;
    if (running(vm) && !(store.has('VM_guest_metrics', gm) && store.rec('VM_guest_metrics', gm)['PV_drivers_detected'] === true)) throw new XapiFailure('VM_MISSING_PV_DRIVERS', [vm]);
  };
  api.def('VIF.plug', 'self:ref', (_c, [vif]) => {
    const vm = store.rec('VIF', vif)['VM'] as string;
    if (running(vm) && store.rec('VIF', vif)['currently_attached'] !== true) assertVifHotplug(vif as string);
    return plug('VIF', vif as string);
  });
  api.def('VIF.unplug', 'self:ref', (_c, [vif]) => {
    if (store.rec('VIF', vif)['currently_attached'] !== true) throw new XapiFailure('DEVICE_ALREADY_DETACHED', [vif as string]);
    assertVifHotplug(vif as string);
    store.update('VIF', vif as string, { currently_attached: false });
    return '';
  });
  api.def('VIF.destroy', 'self:ref', (_c, [vif]) => destroyDevice('VIF', vif as string, 'network'));
}

// ---- PUT /import_raw_vdi ------------------------------------------------------------------------

/** A query parameter, else the cookie of that name (xapi_http.ml, lookup_param_of_req); /import reads its parameters so too. */
export function param(req: http.IncomingMessage, url: URL, name: string): string | undefined {
  const q = url.searchParams.get(name);
  if (q !== null) return q;
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** The virtual size a VHD's footer copy (the first 512 bytes of a dynamic VHD) states: "conectix", current size at offset 48. */
function vhdVirtualSize(head: Buffer): number | undefined {
  if (head.length < 512 || head.toString('latin1', 0, 8) !== 'conectix') return undefined;
  return Number(head.readBigUInt64BE(48));
}

function reply(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html', connection: 'close', ...headers });
  res.end(`<html><body><h1>HTTP ${status} ${text}</h1></body></html>`);
}

/**
 * import_raw_vdi.ml: the session (session_id, query or cookie) must be valid (401 otherwise); the
 * VDI by ref or uuid (`vdi`); a VDI on an SR HOST does not reach (another host's local SR) is a
 * 302 to a host that does (sr-redirect.ts), the caller's task untouched; `format` raw (default)
 * or vhd, anything else fails the task with INTERNAL_ERROR ["Unknown format X"] and answers 404;
 * a chunked body is refused (404) as xapi's import code does. Then, as localhost_handler does
 * once the disk is attached, the 200 with the `task-id` header goes out before the body is read
 * (a client may wait for it before it sends the bytes), and the body is read to Content-Length
 * into the VDI: what goes wrong from there (not a VHD, larger than the VDI) fails the task. The
 * task (the caller's `task_id`, else a new "VDI.import") ends with the VDI ref as its result.
 */
export async function handleImportRawVdi(sim: Sim, host: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { store } = sim;
  const url = new URL(req.url ?? '/', 'http://x');
  const session = param(req, url, 'session_id');
  if (!session || !sim.sessions.has(session)) {
    req.resume();
    return reply(res, 401, 'unauthorised', { 'www-authenticate': 'Basic realm="xapi"' });
  }
  const id = param(req, url, 'vdi');
  const vdi = id && store.has('VDI', id) ? id : store.all('VDI').find((r) => r.rec['uuid'] === id)?.ref;
  // Before any task is made or touched: the check runs in a task of its own, which the 302 does not complete.
  if (vdi && redirectForSr(sim, 'PUT /import_raw_vdi', host, store.rec('VDI', vdi)['SR'] as string, req, res)) return;
  const given = param(req, url, 'task_id');
  const task = given && store.has('task', given) ? given : createTask(sim, 'VDI.import');
  const fail = (status: number, text: string, error: string[]): void => {
    store.update('task', task, { status: 'failure', error_info: error, finished: new XDate(new Date()), allowed_operations: [] });
    req.resume();
    reply(res, status, text, { 'task-id': task });
  };
  if (!vdi) return fail(400, 'bad request', id ? ['UUID_INVALID', 'VDI', id] : ['VDI_MISSING']);
  const format = (param(req, url, 'format') ?? 'raw').toLowerCase();
  if (format !== 'raw' && format !== 'vhd') return fail(404, 'not found', ['INTERNAL_ERROR', `Unknown format ${format}`]);
  if (req.headers['transfer-encoding']) return fail(404, 'not found', ['INTERNAL_ERROR', `Cannot handle encoding: ${String(req.headers['transfer-encoding'])}`]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'task-id': task, connection: 'close' });
  res.flushHeaders();
  // From here the answer is given: a failure is the task's (TaskHelper.failed), the response just ends.
  const failTask = (error: string[]): void => {
    store.update('task', task, { status: 'failure', error_info: error, finished: new XDate(new Date()), allowed_operations: [] });
    res.end();
  };
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      if (head.length < 512) head = Buffer.concat([head, c.subarray(0, 512 - head.length)]);
      if (store.has('task', task)) store.update('task', task, { progress: new XFloat(Math.min(0.99, bytes / Math.max(1, Number(req.headers['content-length'] ?? bytes)))) });
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  const r = store.rec('VDI', vdi);
  const size = format === 'vhd' ? vhdVirtualSize(head) : bytes;
  if (size === undefined) return failTask(['INTERNAL_ERROR', 'vhd-tool: not a VHD (no conectix cookie)']);
  if (size > (r['virtual_size'] as number)) return failTask(['INTERNAL_ERROR', `vhd-tool: the image (${size} bytes) is larger than the VDI (${String(r['virtual_size'])} bytes)`]);
  const row = store.row('VDI', vdi);
  row.hidden['sha256'] = hash.digest('hex');
  row.hidden['bytes'] = bytes;
  store.update('VDI', vdi, { physical_utilisation: bytes });
  refreshSr(sim, r['SR'] as string);
  store.update('task', task, { status: 'success', progress: new XFloat(1), result: taskResultOf(vdi), finished: new XDate(new Date()), allowed_operations: [] });
  res.end();
}

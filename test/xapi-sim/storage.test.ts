/**
 * The simulator's disks, CDs, NICs and PUT /import_raw_vdi against xapi's rules (import_raw_vdi.ml,
 * xapi_vbd.ml, xapi_vif.ml): the handler's session, format and encoding checks with the task's
 * error, a VHD's size from its footer, the bytes' digest carried by VDI.copy and VM.clone, and
 * the device calls' errors (busy device numbers, a CD that is not read-only, plug on a halted VM,
 * eject of an empty drive, destroy of a plugged disk). In a pool of two, a VDI on the member's
 * local SR sent to the master is a 302 to the member (the same path and query, the caller's task
 * untouched, nothing filled), where the same request fills it.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

type Rec = Record<string, unknown>;
const MiB = 2 ** 20;

let sim: RunningSim;
let s: Session;
let sr: string;
beforeAll(async () => {
  sim = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, vms: [{ name: 'base', memoryMiB: 512 }] });
  s = await Session.login(sim.info().url, 'root', 'pw');
  sr = (await s.call<Rec>('pool.get_record', (await s.call<string[]>('pool.get_all'))[0]))['default_SR'] as string;
});
afterAll(() => sim.stop());

const newVdi = (size: number, name = 'x') => s.call<string>('VDI.create', { name_label: name, name_description: '', SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [] });
/** One PUT to the handler with BODY (Content-Length, or chunked when asked). */
function put(query: string, body: Buffer, opts: { chunked?: boolean; cookie?: string } = {}): Promise<{ status: number; taskId?: string }> {
  const url = new URL(`/import_raw_vdi?${query}`, sim.info().url);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }), ...(opts.cookie ? { cookie: opts.cookie } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, taskId: res.headers['task-id'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const digest = (ref: string) => sim.sim.store.row('VDI', ref).hidden['sha256'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PUT /import_raw_vdi in a pool of two: another host\'s local SR', () => {
  let pool: RunningSim;
  let p: Session;
  beforeAll(async () => {
    pool = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, hosts: 2 });
    p = await Session.login(pool.info().url, 'root', 'pw');
  });
  afterAll(() => pool.stop());

  const send = (url: string, body: Buffer): Promise<{ status: number; location?: string }> => new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });

  it('the master answers 302 to the member that reaches it, the query kept and the task untouched; the member fills the VDI', async () => {
    const [, member] = pool.info().hosts;
    const local2 = (await p.call<string[]>('SR.get_by_name_label', `Local storage on ${member!.name_label}`))[0]!;
    const vdi = await p.call<string>('VDI.create', { name_label: 'on-member', name_description: '', SR: local2, virtual_size: MiB, type: 'user', sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [] });
    const task = await p.call<string>('task.create', 'import', '');
    const body = Buffer.alloc(64 * 1024, 9);
    const query = `session_id=${p.ref}&vdi=${vdi}&format=raw&task_id=${task}`;
    const atMaster = await send(new URL(`/import_raw_vdi?${query}`, pool.info().url).toString(), body);
    expect(atMaster.status).toBe(302);
    const location = new URL(atMaster.location!);
    expect([location.hostname, location.pathname, location.search]).toEqual([member!.address, '/import_raw_vdi', `?${query}`]);
    expect(await p.call<Rec>('task.get_record', task)).toMatchObject({ status: 'pending' });
    expect(pool.sim.store.row('VDI', vdi).hidden['sha256']).not.toBe(sha(body));
    expect((await send(location.toString(), body)).status).toBe(200);
    expect(await p.call<Rec>('task.get_record', task)).toMatchObject({ status: 'success', result: `<value>${vdi}</value>` });
    expect(pool.sim.store.row('VDI', vdi).hidden['sha256']).toBe(sha(body));
  });
});

describe('PUT /import_raw_vdi', () => {
  it('fills a VDI (by ref or uuid, session in the query or a cookie); the task named in task_id ends with the VDI', async () => {
    const vdi = await newVdi(4 * MiB);
    const bytes = Buffer.alloc(MiB, 'raw;');
    const task = await s.call<string>('task.create', 'import', '');
    const r = await put(`session_id=${s.ref}&vdi=${vdi}&task_id=${task}`, bytes);
    expect(r).toEqual({ status: 200, taskId: task });
    expect(await s.call<Rec>('task.get_record', task)).toMatchObject({ status: 'success', result: `<value>${vdi}</value>` });
    expect(digest(vdi)).toBe(sha(bytes));
    const uuid = await s.call<string>('VDI.get_uuid', vdi);
    const other = Buffer.alloc(2 * MiB, 'two;');
    expect((await put(`vdi=${uuid}&format=raw`, other, { cookie: `session_id=${s.ref}` })).status).toBe(200);
    expect(digest(vdi)).toBe(sha(other));
  });

  it('a VHD is sized by its footer; more than the VDI holds fails the task', async () => {
    const footer = Buffer.alloc(512);
    footer.write('conectix', 0, 'latin1');
    footer.writeBigUInt64BE(BigInt(8 * MiB), 48);
    const small = await newVdi(8 * MiB);
    expect((await put(`session_id=${s.ref}&vdi=${small}&format=vhd`, Buffer.concat([footer, Buffer.alloc(4096), footer]))).status).toBe(200);
    const tiny = await newVdi(MiB);
    const task = await s.call<string>('task.create', 'import', '');
    // The 200 went out before the body was read (import_raw_vdi.ml): the failure is the task's.
    expect((await put(`session_id=${s.ref}&vdi=${tiny}&format=vhd&task_id=${task}`, Buffer.concat([footer, footer]))).status).toBe(200);
    expect(await s.call<Rec>('task.get_record', task)).toMatchObject({ status: 'failure', error_info: ['INTERNAL_ERROR', `vhd-tool: the image (${8 * MiB} bytes) is larger than the VDI (${MiB} bytes)`] });
  });

  it('refuses a bad session (401), an unknown format (404, task failed), a chunked body (404) and a missing VDI (400)', async () => {
    const vdi = await newVdi(MiB);
    expect((await put(`session_id=OpaqueRef:nope&vdi=${vdi}`, Buffer.alloc(10))).status).toBe(401);
    const task = await s.call<string>('task.create', 'import', '');
    expect((await put(`session_id=${s.ref}&vdi=${vdi}&format=qcow2&task_id=${task}`, Buffer.alloc(10))).status).toBe(404);
    expect(await s.call<Rec>('task.get_record', task)).toMatchObject({ status: 'failure', error_info: ['INTERNAL_ERROR', 'Unknown format qcow2'] });
    expect((await put(`session_id=${s.ref}&vdi=${vdi}`, Buffer.alloc(10), { chunked: true })).status).toBe(404);
    expect((await put(`session_id=${s.ref}&vdi=no-such-uuid`, Buffer.alloc(10))).status).toBe(400);
  });

  it('the bytes go with VDI.copy and with a clone of a VM holding the disk', async () => {
    const vdi = await newVdi(MiB, 'img');
    const bytes = Buffer.alloc(4096, 'img;');
    await put(`session_id=${s.ref}&vdi=${vdi}`, bytes);
    const copy = await s.callAsync<string>('VDI.copy', vdi, sr);
    expect(copy).not.toBe(vdi);
    expect(digest(copy)).toBe(sha(bytes));
    const vm = (await s.call<string[]>('VM.get_by_name_label', 'base'))[0]!;
    await s.call('VBD.create', { VM: vm, VDI: copy, userdevice: '1', bootable: false, mode: 'RW', type: 'Disk', unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    const clone = await s.callAsync<string>('VM.clone', vm, 'base-clone');
    const vbds = await Promise.all((await s.call<string[]>('VM.get_VBDs', clone)).map((b) => s.call<Rec>('VBD.get_record', b)));
    const data = vbds.find((b) => b['userdevice'] === '1')!;
    expect(data['VDI']).not.toBe(copy);
    expect(digest(data['VDI'] as string)).toBe(sha(bytes));
  });
});

describe('VBD and VIF calls', () => {
  it('device numbers, CD rules, plug/unplug/eject and destroy follow xapi', async () => {
    const vm = await s.callAsync<string>('VM.clone', (await s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'devices');
    const vbd = (args: Rec) => s.call<string>('VBD.create', { VM: vm, VDI: 'OpaqueRef:NULL', userdevice: '2', bootable: false, mode: 'RW', type: 'Disk', unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, ...args });
    const disk = await newVdi(MiB);
    const made = await vbd({ VDI: disk });
    expect(await failureOf(vbd({ VDI: disk }))).toEqual(['DEVICE_ALREADY_EXISTS', '2']);
    expect(await failureOf(vbd({ userdevice: '3', type: 'CD', empty: true }))).toEqual(['VBD_CDS_MUST_BE_READONLY']);
    const cd = await vbd({ userdevice: '3', type: 'CD', mode: 'RO', empty: true });
    expect(await failureOf(s.call('VBD.eject', cd))).toEqual(['VBD_IS_EMPTY', cd]);
    expect(await failureOf(s.call('VBD.plug', made))).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    expect(await s.call<string[]>('VM.get_allowed_VBD_devices', vm)).not.toContain('2');
    await s.call('VM.start', vm, false, false);
    // Plugged with the domain; a plugged disk is not destroyed, an unplugged one is.
    expect(await s.call<Rec>('VBD.get_record', made)).toMatchObject({ currently_attached: true, device: 'xvdc' });
    expect(await failureOf(s.call('VBD.destroy', made))).toEqual(['OPERATION_NOT_ALLOWED', 'VBD currently attached to a running VM']);
    expect(await failureOf(s.call('VBD.unplug', cd))).toEqual(['VBD_NOT_UNPLUGGABLE', cd]);
    await s.call('VBD.unplug', made);
    await s.call('VBD.destroy', made);
    expect(await s.call<Rec>('VDI.get_record', disk)).toMatchObject({ VBDs: [] });
    await s.call('VBD.insert', cd, disk);
    expect(await failureOf(s.call('VBD.insert', cd, disk))).toEqual(['VBD_NOT_EMPTY', cd]);
    const network = (await s.call<string[]>('network.get_all'))[0]!;
    const vif = (args: Rec) => s.call<string>('VIF.create', { device: '1', network, VM: vm, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, ...args });
    const nic = await vif({ MAC: '02:AA:bb:cc:dd:ee' });
    expect(await s.call<Rec>('VIF.get_record', nic)).toMatchObject({ MAC: '02:aa:bb:cc:dd:ee', currently_attached: false, MAC_autogenerated: false });
    expect(await failureOf(vif({}))).toEqual(['DEVICE_ALREADY_EXISTS', '1']);
    expect(await failureOf(vif({ device: '2', MAC: 'not-a-mac' }))).toEqual(['MAC_INVALID', 'not-a-mac']);
    await s.call('VIF.plug', nic);
    expect(await failureOf(s.call('VIF.destroy', nic))).toEqual(['OPERATION_NOT_ALLOWED', 'VIF currently attached to a running VM']);
  });
});

describe('SM features: resize, resize_online, an ISO library', () => {
  let ceph: RunningSim;
  let c: Session;
  beforeAll(async () => {
    ceph = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, sharedSrType: 'rbd', isoLibrary: true, vms: [{ name: 'run', power_state: 'Running', memoryMiB: 512 }, { name: 'bare', power_state: 'Running', memoryMiB: 512, tools: false }] });
    c = await Session.login(ceph.info().url, 'root', 'pw');
  });
  afterAll(() => ceph.stop());

  const disk = (session: Session, on: string) => session.call<string>('VDI.create', { name_label: 'd', name_description: '', SR: on, virtual_size: MiB, type: 'user', sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [] });
  const plugInto = async (session: Session, vm: string, vdi: string) => {
    const vbd = await session.call<string>('VBD.create', { VM: vm, VDI: vdi, userdevice: '4', bootable: false, mode: 'RW', type: 'Disk', unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    await session.call('VBD.plug', vbd);
    return vbd;
  };

  it('an attached disk is VDI_IN_USE for resize; resize_online needs VDI_RESIZE_ONLINE (NFS lacks it, RBD has it)', async () => {
    // NFS (the first pool's default SR): offline resize only.
    const vm = await s.callAsync<string>('VM.clone', (await s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'resizing');
    await s.call('VM.start', vm, false, false);
    const nfsDisk = await disk(s, sr);
    await plugInto(s, vm, nfsDisk);
    expect(await failureOf(s.call('VDI.resize', nfsDisk, 2 * MiB))).toEqual(['VDI_IN_USE', nfsDisk, 'resize']);
    expect(await failureOf(s.call('VDI.resize_online', nfsDisk, 2 * MiB))).toEqual(['SR_OPERATION_NOT_SUPPORTED', sr]);
    expect(await s.call('VDI.get_virtual_size', nfsDisk)).toBe(MiB);
    // RBD: online.
    const cephSr = (await c.call<Rec>('pool.get_record', (await c.call<string[]>('pool.get_all'))[0]))['default_SR'] as string;
    const run = (await c.call<string[]>('VM.get_by_name_label', 'run'))[0]!;
    const cephDisk = await disk(c, cephSr);
    await plugInto(c, run, cephDisk);
    await c.callAsync('VDI.resize_online', cephDisk, 3 * MiB);
    expect(await c.call('VDI.get_virtual_size', cephDisk)).toBe(3 * MiB);
    expect(await failureOf(c.call('VDI.resize_online', cephDisk, MiB))).toEqual(['SR_OPERATION_NOT_SUPPORTED', cephSr]);
  });

  it('an ISO SR makes a VDI from sm_config path (ISOSR), refuses a bad or taken path, and resizes nothing', async () => {
    const iso = (await c.call<Record<string, Rec>>('SR.get_all_records').then((all) => Object.entries(all).find(([, r]) => r['type'] === 'iso')))!;
    const mk = (path?: string) => c.call<string>('VDI.create', { name_label: 'x.iso', name_description: '', SR: iso[0], virtual_size: MiB, type: 'user', sharable: false, read_only: true, other_config: {}, xenstore_data: {}, sm_config: path ? { path } : {}, tags: [] });
    const vdi = await mk('kiln-iso-1.iso');
    expect(await c.call<Rec>('VDI.get_record', vdi)).toMatchObject({ location: 'kiln-iso-1.iso', read_only: false, SR: iso[0] });
    expect(await failureOf(mk('kiln-iso-1.iso'))).toEqual(['SR_BACKEND_FAILURE_43', '', 'The VDI already exists', '']);
    expect(await failureOf(mk('../etc/passwd.iso'))).toEqual(['SR_BACKEND_FAILURE_78', '', 'VDI Creation failed', 'Invalid path "../etc/passwd.iso"']);
    expect(await c.call<Rec>('VDI.get_record', await mk())).toMatchObject({ location: expect.stringMatching(/^[0-9a-f-]{36}\.img$/) });
    expect(await failureOf(c.call('VDI.resize', vdi, 2 * MiB))).toEqual(['SR_OPERATION_NOT_SUPPORTED', iso[0]]);
  });

  it('a NIC is hot-plugged and unplugged only into a guest with PV drivers', async () => {
    const bare = (await c.call<string[]>('VM.get_by_name_label', 'bare'))[0]!;
    const network = (await c.call<string[]>('network.get_all'))[0]!;
    const nic = await c.call<string>('VIF.create', { device: '1', network, VM: bare, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    expect(await failureOf(c.call('VIF.plug', nic))).toEqual(['VM_MISSING_PV_DRIVERS', bare]);
    expect(await c.call('VIF.get_currently_attached', nic)).toBe(false);
  });
});

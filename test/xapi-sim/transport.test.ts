/**
 * §6.1–§6.3 and §6.6 of xenapi.md against the simulator: the wire (JSON-RPC v1/v2, XML-RPC,
 * content types, error shapes, malformed requests), sessions, the generic object API, and the
 * pool/host/memory model. Most run in-process over HTTP; the process helper is checked over
 * HTTPS (thumbprint, rekey, a member answering HOST_IS_SLAVE).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XapiSim } from '../helpers/xapi-sim.js';
import { failureOf, jsonCall, post, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';
import { decodeResponseValue, XDate } from './wire.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

let sim: RunningSim;
let url: string;
let s: Session;
beforeAll(async () => {
  sim = await startSimulator({ http: true, hosts: 2, password: 'secret' });
  url = sim.info().url;
  s = await Session.login(url, 'root', 'secret');
});
afterAll(() => sim.stop());

const xmlCall = (method: string, params: string[]): string =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param>${p}</param>`).join('')}</params></methodCall>`;

describe('JSON-RPC (§1.2, §6.1)', () => {
  it('answers v2 with exactly application/json, echoing the id', async () => {
    const res = await post(url, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [s.ref], id: 'abc' }), 'application/json');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/json');
    const msg = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(msg).sort()).toEqual(['id', 'jsonrpc', 'result']);
    expect(msg['id']).toBe('abc');
    expect(msg['result']).toEqual([sim.sim.pool]);
  });

  it('gives a v2 error as HTTP 200 with {code: 1, message: CODE, data: [params]}', async () => {
    const res = await post(url, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_record', params: [s.ref, 'OpaqueRef:nope'], id: 3 }), 'application/json');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ jsonrpc: '2.0', error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:nope'] }, id: 3 });
  });

  it('speaks v1 when jsonrpc is absent: {result, error: null, id} and array errors', async () => {
    const ok = JSON.parse((await post(url, '/jsonrpc', JSON.stringify({ method: 'pool.get_all', params: [s.ref], id: 'xyz' }), 'application/json')).body) as unknown;
    expect(ok).toEqual({ result: [sim.sim.pool], error: null, id: 'xyz' });
    const bad = JSON.parse((await post(url, '/jsonrpc', JSON.stringify({ method: 'session.login_with_password', params: ['root', 'wrong'], id: 'xyz' }), 'application/json')).body) as unknown;
    expect(bad).toEqual({ result: null, error: ['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure'], id: 'xyz' });
  });

  it('answers a malformed request (no id, params not an array, not JSON) with HTTP 500 and HTML', async () => {
    for (const body of [JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [s.ref] }), JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: 's', id: 1 }), '{not json']) {
      const res = await post(url, '/jsonrpc', body, 'application/json');
      expect(res.status).toBe(500);
      expect(res.contentType).toBe('text/html');
      expect(res.body).toContain('Malformed_method_request');
    }
  });

  it('refuses unknown methods and wrong arity with the §1.5 parameters', async () => {
    expect(await failureOf(s.call('VM.frobnicate'))).toEqual(['MESSAGE_METHOD_UNKNOWN', 'VM.frobnicate']);
    expect(await failureOf(s.call('VM.get_record'))).toEqual(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.get_record', '2', '1']);
    // Setters exist only for RW fields.
    expect(await failureOf(s.call('VM.set_power_state', 'OpaqueRef:x', 'Running'))).toEqual(['MESSAGE_METHOD_UNKNOWN', 'VM.set_power_state']);
  });

  it('lists every method, with <Class>.get_all_records for each class, without a session', async () => {
    const methods = await jsonCall<string[]>(url, 'system.listMethods', []);
    for (const cls of ['pool', 'host', 'host_metrics', 'VM', 'VM_metrics', 'console', 'task', 'GPU_group', 'PGPU', 'VGPU', 'VGPU_type', 'PCI', 'VBD', 'VIF', 'VDI', 'SR', 'network']) {
      expect(methods).toContain(`${cls}.get_all_records`);
    }
    expect(methods).toContain('session.login_with_password');
  });
});

describe('XML-RPC (§1.3, §6.1)', () => {
  it('logs in on POST /, /RPC2 and /xmlrpc with a Status/Value struct in text/xml', async () => {
    for (const path of ['/', '/RPC2', '/xmlrpc']) {
      const res = await post(url, path, xmlCall('session.login_with_password', ['<value>root</value>', '<value><string>secret</string></value>']), 'text/xml');
      expect(res.status).toBe(200);
      expect(res.contentType).toBe('text/xml');
      expect(res.body).not.toContain('<fault>');
      const v = decodeResponseValue(res.body.replace(/^.*?<param>/s, '').replace(/<\/param>.*$/s, '')) as { Status: string; Value: string };
      expect(v.Status).toBe('Success');
      expect(v.Value).toMatch(/^OpaqueRef:/);
      // A session made over XML-RPC works over JSON-RPC (wire-protocol.md).
      expect(await jsonCall(url, 'pool.get_all', [v.Value])).toEqual([sim.sim.pool]);
    }
  });

  it('fails with Status Failure and ErrorDescription [CODE, params…], never <fault>', async () => {
    const res = await post(url, '/', xmlCall('VM.get_record', [`<value>${s.ref}</value>`, '<value>OpaqueRef:nope</value>']), 'text/xml');
    expect(res.body).not.toContain('<fault>');
    const v = decodeResponseValue(res.body.replace(/^.*?<param>/s, '').replace(/<\/param>.*$/s, '')) as Record<string, unknown>;
    expect(v).toEqual({ Status: 'Failure', ErrorDescription: ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'] });
  });

  it('sends ints as strings and datetimes as dateTime.iso8601, and takes <i4>/<int>/digit strings', async () => {
    const host = sim.sim.master;
    const metrics = sim.sim.store.rec('host', host)['metrics'] as string;
    const res = await post(url, '/', xmlCall('host_metrics.get_memory_total', [`<value>${s.ref}</value>`, `<value>${metrics}</value>`]), 'text/xml');
    expect(res.body).toContain(`<value>${64 * GiB}</value>`);
    const time = await post(url, '/', xmlCall('host.get_servertime', [`<value>${s.ref}</value>`, `<value>${host}</value>`]), 'text/xml');
    expect(time.body).toMatch(/<dateTime\.iso8601>\d{8}T\d\d:\d\d:\d\dZ<\/dateTime\.iso8601>/);
    const vm = sim.sim.store.all('VM').find((r) => !r.rec['is_control_domain'] && r.rec['is_a_template'])!.ref;
    for (const n of ['<value><i4>7</i4></value>', '<value><int>7</int></value>', '<value>7</value>']) {
      const set = await post(url, '/', xmlCall('VM.set_user_version', [`<value>${s.ref}</value>`, `<value>${vm}</value>`, n]), 'text/xml');
      expect(set.body).toContain('Success');
      expect(sim.sim.store.rec('VM', vm)['user_version']).toBe(7);
    }
  });

  it('escapes and unescapes hostile text both ways (strings and map keys)', async () => {
    const vm = sim.sim.store.all('VM').find((r) => r.rec['name_label'] === 'Other install media')!.ref;
    const hostile = '</value></param><fault>&amp; "x" \'y\' <z>';
    const esc = hostile.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const set = await post(url, '/', xmlCall('VM.set_name_description', [`<value>${s.ref}</value>`, `<value>${vm}</value>`, `<value>${esc}</value>`]), 'text/xml');
    expect(set.body).toContain('Success');
    expect(await s.call('VM.get_name_description', vm)).toBe(hostile);
    await s.call('VM.add_to_other_config', vm, hostile, hostile);
    const res = await post(url, '/', xmlCall('VM.get_other_config', [`<value>${s.ref}</value>`, `<value>${vm}</value>`]), 'text/xml');
    expect(res.body).not.toContain('<fault>');
    const v = decodeResponseValue(res.body.replace(/^.*?<param>/s, '').replace(/<\/param>.*$/s, '')) as { Value: Record<string, string> };
    expect(v.Value[hostile]).toBe(hostile);
    await s.call('VM.remove_from_other_config', vm, hostile);
  });

  it('returns system.listMethods unwrapped (no Status/Value)', async () => {
    const res = await post(url, '/', xmlCall('system.listMethods', []), 'text/xml');
    expect(res.body).not.toContain('Status');
    const v = decodeResponseValue(res.body.replace(/^.*?<param>/s, '').replace(/<\/param>.*$/s, '')) as string[];
    expect(v).toContain('VM.get_all_records');
  });
});

describe('sessions (§1.4, §6.2)', () => {
  it('takes 2, 3 or 4 login parameters and refuses bad credentials with [uname, "Authentication failure"]', async () => {
    for (const params of [['root', 'secret'], ['root', 'secret', '1.1'], ['root', 'secret', '1.1', 'me']]) {
      expect(await jsonCall(url, 'session.login_with_password', params)).toMatch(/^OpaqueRef:/);
    }
    expect(await failureOf(jsonCall(url, 'session.login_with_password', ['root', 'bad']))).toEqual(['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']);
  });

  it('logout returns "" and the session is then SESSION_INVALID [s]', async () => {
    const t = await Session.login(url, 'root', 'secret');
    expect(await t.call('session.logout')).toBe('');
    expect(await failureOf(t.call('pool.get_all'))).toEqual(['SESSION_INVALID', t.ref]);
  });

  it('get_this_host is the host logged in to; get_record names the user', async () => {
    expect(await s.call('session.get_this_host', s.ref)).toBe(sim.sim.master);
    expect(await s.call('session.get_record', s.ref)).toMatchObject({ this_host: sim.sim.master, auth_user_name: 'root', originator: 'xapi-sim-test' });
  });
});

describe('the generic object API (§6.3)', () => {
  const vmRef = (): string => sim.sim.store.all('VM').find((r) => r.rec['name_label'] === 'Debian Bookworm 12')!.ref;

  it('get_all_records is keyed by ref and get_record/get_by_uuid/get_by_name_label/get_<field> agree', async () => {
    const all = await s.call<Record<string, Record<string, unknown>>>('VM.get_all_records');
    const ref = vmRef();
    const rec = all[ref]!;
    expect(rec['name_label']).toBe('Debian Bookworm 12');
    expect(await s.call('VM.get_record', ref)).toEqual(rec);
    expect(await s.call('VM.get_by_uuid', rec['uuid'])).toBe(ref);
    expect(await s.call('VM.get_by_name_label', 'Debian Bookworm 12')).toEqual([ref]);
    expect(await s.call('VM.get_is_a_template', ref)).toBe(true);
    expect(await s.call('VM.get_VBDs', ref)).toEqual([]);
    expect(await failureOf(s.call('VM.get_by_uuid', '00000000-0000-0000-0000-000000000000'))).toEqual(['UUID_INVALID', 'VM', '00000000-0000-0000-0000-000000000000']);
  });

  it('records carry every datamodel field with its default', async () => {
    const rec = await s.call<Record<string, unknown>>('VM.get_record', vmRef());
    expect(rec).toMatchObject({ snapshot_of: 'OpaqueRef:NULL', snapshots: [], VGPUs: [], blocked_operations: {}, tags: [], snapshot_time: '19700101T00:00:00Z', domid: -1, power_state: 'Halted' });
    const pool = await s.call<Record<string, unknown>>('pool.get_record', sim.sim.pool);
    expect(pool).toMatchObject({ master: sim.sim.master, other_config: {} });
  });

  it('HANDLE_INVALID names the class asked for, also for a ref of another class', async () => {
    expect(await failureOf(s.call('VM.get_record', sim.sim.master))).toEqual(['HANDLE_INVALID', 'VM', sim.sim.master]);
    expect(await failureOf(s.call('host.get_name_label', 'OpaqueRef:NULL'))).toEqual(['HANDLE_INVALID', 'host', 'OpaqueRef:NULL']);
  });

  it('sets RW fields, maps with MAP_DUPLICATE_KEY [Class, field, uuid, key], and sets', async () => {
    const ref = vmRef();
    const uuid = sim.sim.store.rec('VM', ref)['uuid'] as string;
    await s.call('VM.set_name_description', ref, 'a "quoted" <desc> & more');
    expect(await s.call('VM.get_name_description', ref)).toBe('a "quoted" <desc> & more');
    await s.call('VM.add_to_other_config', ref, 'kiln', '1');
    expect(await failureOf(s.call('VM.add_to_other_config', ref, 'kiln', '2'))).toEqual(['MAP_DUPLICATE_KEY', 'VM', 'other_config', uuid, 'kiln']);
    await s.call('VM.remove_from_other_config', ref, 'kiln');
    await s.call('VM.remove_from_other_config', ref, 'never-there'); // no error for a missing key
    expect((await s.call<Record<string, string>>('VM.get_other_config', ref))['kiln']).toBeUndefined();
    await s.call('VM.add_tags', ref, 'gpu');
    await s.call('VM.add_tags', ref, 'gpu');
    expect(await s.call('VM.get_tags', ref)).toEqual(['gpu']);
    await s.call('VM.remove_tags', ref, 'gpu');
    expect(await s.call('VM.get_tags', ref)).toEqual([]);
    await s.call('VM.set_tags', ref, ['a', 'b']);
    expect(await s.call('VM.get_tags', ref)).toEqual(['a', 'b']);
    expect(await failureOf(s.call('VM.set_domain_type', ref, 'bogus'))).toEqual(['INVALID_VALUE', 'domain_type', 'bogus']);
  });
});

describe('pool, hosts and memory (§6.6)', () => {
  it('has one pool whose master is host 1, and hosts with address, cpu_info, software_version, metrics', async () => {
    const hosts = await s.call<Record<string, Record<string, unknown>>>('host.get_all_records');
    expect(Object.keys(hosts)).toHaveLength(2);
    const master = hosts[sim.sim.master]!;
    expect(master).toMatchObject({ address: '127.0.0.1', enabled: true, API_version_major: 2, software_version: { product_brand: 'XenServer' } });
    expect((master['cpu_info'] as Record<string, string>)['cpu_count']).toBe('16');
    expect(Object.keys(master['cpu_info'] as object)).toEqual(expect.arrayContaining(['cpu_count', 'socket_count', 'threads_per_core', 'nr_nodes', 'vendor', 'speed', 'modelname', 'family', 'model', 'stepping', 'flags']));
    expect(master['host_CPUs']).toHaveLength(16);
  });

  it('runs a control domain per host, and free memory = total − host overhead − resident VMs (target + overhead)', async () => {
    const vms = await s.call<Record<string, Record<string, unknown>>>('VM.get_all_records');
    for (const host of sim.sim.store.all('host')) {
      const dom0 = vms[host.rec['control_domain'] as string]!;
      expect(dom0).toMatchObject({ is_control_domain: true, power_state: 'Running', resident_on: host.ref, domid: 0 });
      const free = await s.call<number>('host.compute_free_memory', host.ref);
      expect(free).toBe(64 * GiB - 256 * MiB - (1 * GiB + (dom0['memory_overhead'] as number)));
      expect(await s.call('host_metrics.get_memory_free', host.rec['metrics'])).toBe(free);
      expect(await s.call('host_metrics.get_live', host.rec['metrics'])).toBe(true);
    }
  });

  it('host.disable/enable flip enabled; get_servertime is a datetime', async () => {
    const h = sim.sim.store.all('host')[1]!.ref;
    await s.call('host.disable', h);
    expect(await s.call('host.get_enabled', h)).toBe(false);
    await s.call('host.enable', h);
    expect(await s.call('host.get_enabled', h)).toBe(true);
    expect(await s.call<string>('host.get_servertime', h)).toMatch(/^\d{8}T\d\d:\d\d:\d\dZ$/);
    expect(new XDate(new Date(0)).text).toBe('19700101T00:00:00Z');
  });
});

describe('fault injection (§6.10)', () => {
  it('a fault armed with after waits for that method: the calls before it are answered, the next one after it fails', async () => {
    const arm = await fetch(`${sim.info().controlUrl}/_sim/fault`, { method: 'POST', body: JSON.stringify({ method: 'pool.get_all_records', error: ['INTERNAL_ERROR', 'cut'], after: 'host.get_all' }) });
    expect(arm.status).toBe(200);
    expect(Object.keys(await s.call<Record<string, unknown>>('pool.get_all_records'))).toEqual([sim.sim.pool]);
    await s.call('host.get_all');
    expect(await failureOf(s.call('pool.get_all_records'))).toEqual(['INTERNAL_ERROR', 'cut']);
    expect(Object.keys(await s.call<Record<string, unknown>>('pool.get_all_records'))).toEqual([sim.sim.pool]);
  });
});

describe('the simulator as a process over HTTPS (test/helpers/xapi-sim.ts)', () => {
  let proc: XapiSim;
  beforeAll(async () => {
    proc = await XapiSim.start({ hosts: 3 });
  });
  afterAll(() => proc.stop());

  it('serves HTTPS with the self-signed certificate whose thumbprint it reports, and rekey changes it', async () => {
    expect(proc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const before = await post(proc.url, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'system.listMethods', params: [], id: 1 }), 'application/json');
    expect(before.thumbprint).toBe(proc.thumbprint);
    expect(proc.thumbprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const old = proc.thumbprint;
    const next = await proc.rekey();
    expect(next).not.toBe(old);
    const after = await post(proc.url, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'system.listMethods', params: [], id: 1 }), 'application/json');
    expect(after.thumbprint).toBe(next);
  });

  it('a member host answers login with HOST_IS_SLAVE [master address]; after set-master the old master does', async () => {
    const [, second, third] = proc.info.hosts;
    expect(second!.url).toBe(proc.url.replace('127.0.0.1', '127.0.0.2'));
    expect(await failureOf(jsonCall(second!.url, 'session.login_with_password', [proc.username, proc.password]))).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
    await proc.setMaster(third!.ref);
    expect(proc.url).toBe(third!.url);
    expect(await failureOf(jsonCall(proc.info.hosts[0]!.url, 'session.login_with_password', [proc.username, proc.password]))).toEqual(['HOST_IS_SLAVE', '127.0.0.3']);
    const t = await Session.login(third!.url, proc.username, proc.password);
    expect(await t.call('session.get_this_host', t.ref)).toBe(third!.ref);
    await proc.setMaster(0);
  });

  it('expire-sessions makes every session SESSION_INVALID; a fault fails the next call; host-down refuses connections until host-up', async () => {
    const t = await Session.login(proc.url, proc.username, proc.password);
    await proc.expireSessions();
    expect(await failureOf(t.call('pool.get_all'))).toEqual(['SESSION_INVALID', t.ref]);
    const u = await Session.login(proc.url, proc.username, proc.password);
    await proc.fault('VM.get_all', { error: ['INTERNAL_ERROR', 'injected'] });
    expect(await failureOf(u.call('VM.get_all'))).toEqual(['INTERNAL_ERROR', 'injected']);
    expect(await u.call('VM.get_all')).toHaveLength(5);
    await proc.hostDown(0);
    await expect(u.call('pool.get_all')).rejects.toThrow(/ECONNREFUSED/);
    await proc.hostUp(0);
    expect(await u.call('pool.get_all')).toHaveLength(1);
  });

  it('seeds at run time: a host with its own listener, a GRID board, a running VM', async () => {
    const info = await proc.addHost({ name: 'late', gpus: ['K2'] });
    const late = info.hosts.find((h) => h.name_label === 'late')!;
    expect(late.address).toBe('127.0.0.4');
    expect(await failureOf(jsonCall(late.url, 'session.login_with_password', [proc.username, proc.password]))).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
    const t = await Session.login(proc.url, proc.username, proc.password);
    expect(await t.call('host.get_PGPUs', late.ref)).toHaveLength(2);
    const { pgpus } = await proc.addBoard(0, 'K1');
    expect(pgpus).toHaveLength(4);
    const { vm } = await proc.addVm({ name: 'seeded', power_state: 'Running', host: 3, vgpu: 'GRID K260Q' });
    expect(await t.call('VM.get_resident_on', vm)).toBe(late.ref);
    const [vgpu] = await t.call<string[]>('VM.get_VGPUs', vm);
    expect(await t.call('VGPU.get_currently_attached', vgpu)).toBe(true);
  });
});

/**
 * Registering templates and ISOs (issue 10, security item 2), on the simulator. No one but the
 * root admin names a path on the hosts, and only inside kiln.template.local.dir; file://, device
 * paths, dot segments and other schemes are refused with 431 naming the parameter, writing
 * nothing. Everyone else registers by http(s) URL: the engine downloads it into the zone's image
 * store from a real local HTTP server here, with checksum and size checks and the progress
 * listTemplates shows, and a VM deploys from it only once it is ready.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import { openDatabase } from '../../main/engine/db/database.js';
import { MIGRATIONS } from '../../main/engine/db/migrations.js';

const MiB = 1024 * 1024;

/** A self-contained qcow2 (the header fields Kiln reads) of VIRTUAL bytes, padded to LENGTH. */
function qcow2(length: number, virtual = 1024 * MiB, options: { backingFile?: boolean } = {}): Buffer {
  const image = Buffer.alloc(length);
  image.writeUInt32BE(0x514649fb, 0);
  image.writeUInt32BE(3, 4);
  if (options.backingFile) {
    image.writeBigUInt64BE(512n, 8);
    image.writeUInt32BE(11, 16);
    image.write('/etc/shadow', 512, 'latin1');
  }
  image.writeBigUInt64BE(BigInt(virtual), 24);
  image.writeUInt32BE(104, 100);
  for (let i = 4096; i < length; i += 4096) image.writeUInt32BE(i, i);
  return image;
}

function iso(length: number): Buffer {
  const image = Buffer.alloc(length);
  image.write('\u0001CD001', 32768, 'latin1');
  return image;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Files the test server serves; a `gate` holds the second half back until it is opened. */
interface Served {
  body: Buffer;
  claimLength?: number;
  gate?: { open: Promise<void> };
}

let server: Server;
let base: string;
const files = new Map<string, Served>();
const requests: string[] = [];

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let user: Caller;
let os: string;

async function serve(res: ServerResponse, file: Served): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.claimLength ?? file.body.length) });
  if (file.claimLength) {
    res.write(file.body);
    return; // the rest never comes: Kiln must stop on the header alone
  }
  if (!file.gate) return void res.end(file.body);
  const half = Math.floor(file.body.length / 2);
  res.write(file.body.subarray(0, half));
  await file.gate.open;
  if (!res.destroyed) res.end(file.body.subarray(half));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = files.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end('no such file');
    void serve(res, file);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await testEngine();
  ids = demoIds(t.engine);
  const domainId = t.engine.accounts.rootDomainId();
  const { userId } = t.engine.accounts.createAccount({ name: 'tpl-user', role: 'User', domainId, username: 'tpl-user', password: 'secret-pw' });
  user = t.engine.accounts.byUserId(userId)!;
  os = (t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).get() as { uuid: string }).uuid;
});
afterAll(async () => {
  await t?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

function register(params: Record<string, string>, caller: Caller = t.admin) {
  return t.call('registerTemplate', { name: 'tpl', format: 'QCOW2', hypervisor: 'Simulator', ostypeid: os, zoneid: ids.zoneid, ...params }, caller);
}

interface Listed { id: string; isready: boolean; status: string; size: number; checksum?: string; downloaddetails: { downloadPercent: string; downloadState: string }[] }

async function listed(id: string, command = 'listTemplates'): Promise<Listed> {
  const res = await t.call(command, command === 'listTemplates' ? { templatefilter: 'all', id } : { id });
  return ((res.body[command === 'listTemplates' ? 'template' : 'iso'] as Listed[]) ?? [])[0]!;
}

async function settled(id: string): Promise<Listed> {
  const row = t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').get(id) as { id: number };
  await t.engine.images.wait(row.id);
  return listed(id);
}

function registeredId(res: { body: Record<string, unknown> }): string {
  return (res.body['template'] as { id: string }[])[0]!.id;
}

describe('refused image sources: a 431 or 531 naming the parameter, and no row written', () => {
  beforeEach(async () => {
    await t.call('updateConfiguration', { name: 'kiln.template.local.dir', value: '' });
  });

  const cases: { what: string; params: Record<string, string>; as: 'user' | 'admin'; code: number; text: RegExp; localDir?: string }[] = [
    { what: 'a user naming /etc/shadow as an ISO', params: { url: '/etc/shadow', format: 'ISO' }, as: 'user', code: 531, text: /^url: a path on the hosts is for the root admin only/ },
    { what: 'a user naming /etc/shadow as a template', params: { url: '/etc/shadow' }, as: 'user', code: 531, text: /^url: a path on the hosts is for the root admin only/ },
    { what: 'file:///etc/passwd', params: { url: 'file:///etc/passwd' }, as: 'user', code: 431, text: /^url: file:\/\/ URLs are refused/ },
    { what: 'file:// even from the root admin', params: { url: 'file:///tmp/img.qcow2' }, as: 'admin', code: 431, text: /^url: file:\/\/ URLs are refused/, localDir: '/tmp' },
    { what: 'a device path', params: { url: '/dev/sda' }, as: 'user', code: 431, text: /^url: device paths \(\/dev\/…\) are refused/ },
    { what: 'a device path from the root admin', params: { url: '/dev/sda' }, as: 'admin', code: 431, text: /^url: device paths/, localDir: '/dev' },
    { what: 'ftp://', params: { url: 'ftp://example.com/a.qcow2' }, as: 'user', code: 431, text: /^url: only http and https URLs are accepted, not ftp:/ },
    { what: 'nfs://', params: { url: 'nfs://10.0.0.1/export/a.qcow2' }, as: 'admin', code: 431, text: /^url: only http and https URLs are accepted, not nfs:/ },
    { what: '.. in a URL', params: { url: 'http://example.com/images/../secret.qcow2' }, as: 'user', code: 431, text: /^url: "\.\." and "\." path segments are refused/ },
    { what: 'an encoded .. in a URL', params: { url: 'http://example.com/images/%2e%2e/secret.qcow2' }, as: 'user', code: 431, text: /^url: "\.\." and "\." path segments are refused/ },
    { what: 'a user URL to this machine', params: { url: 'http://127.0.0.1:8080/client/api' }, as: 'user', code: 431, text: /^url: 127\.0\.0\.1 is an address of this machine/ },
    { what: 'a user URL to this machine in IPv4-mapped IPv6 form', params: { url: 'http://[::ffff:127.0.0.1]:8080/client/api' }, as: 'user', code: 431, text: /^url: \[::ffff:7f00:1\] is an address of this machine/ },
    { what: 'a user URL to ::1', params: { url: 'http://[::1]/a.qcow2' }, as: 'user', code: 431, text: /^url: \[::1\] is an address of this machine/ },
    { what: 'a user URL to the link-local metadata address', params: { url: 'http://169.254.169.254/latest/meta-data' }, as: 'user', code: 431, text: /^url: 169\.254\.169\.254 is an address of this machine/ },
    { what: 'a user URL to a decimal-encoded loopback', params: { url: 'http://2130706433/a.qcow2' }, as: 'user', code: 431, text: /^url: 127\.0\.0\.1 is an address of this machine/ },
    { what: 'a relative path', params: { url: 'images/a.qcow2' }, as: 'admin', code: 431, text: /^url: give an http\(s\) URL/ },
    { what: 'a host path while kiln.template.local.dir is empty', params: { url: '/tmp/kiln-images/a.qcow2' }, as: 'admin', code: 431, text: /^url: host paths are disabled; set kiln\.template\.local\.dir/ },
    { what: 'a host path outside the directory', params: { url: '/etc/shadow' }, as: 'admin', code: 431, text: /^url: \/etc\/shadow is outside kiln\.template\.local\.dir \(\/tmp\/kiln-images\)/, localDir: '/tmp/kiln-images' },
    { what: 'a sibling directory sharing the prefix', params: { url: '/tmp/kiln-images-evil/a.qcow2' }, as: 'admin', code: 431, text: /is outside kiln\.template\.local\.dir/, localDir: '/tmp/kiln-images' },
    { what: '.. out of the directory', params: { url: '/tmp/kiln-images/../../etc/shadow' }, as: 'admin', code: 431, text: /^url: "\.\." and "\." path segments are refused/, localDir: '/tmp/kiln-images' },
    { what: 'a user kernel detail', params: { url: 'http://example.com/a.qcow2', 'details[0].kernel': '/etc/shadow' }, as: 'user', code: 531, text: /^details: the kernel detail is for the root admin only/ },
    { what: 'a user initrd detail', params: { url: 'http://example.com/a.qcow2', 'details[0].initrd': '/boot/initrd.img' }, as: 'user', code: 531, text: /^details: the initrd detail is for the root admin only/ },
    { what: 'a user kernelArgs detail', params: { url: 'http://example.com/a.qcow2', 'details[0].kernelArgs': 'init=/bin/sh' }, as: 'user', code: 531, text: /^details: the kernelArgs detail is for the root admin only/ },
    { what: 'an admin kernel outside the directory', params: { url: 'http://example.com/a.qcow2', 'details[0].kernel': '/etc/shadow' }, as: 'admin', code: 431, text: /^details\.kernel: \/etc\/shadow is outside kiln\.template\.local\.dir/, localDir: '/tmp/kiln-images' },
    { what: 'an admin kernel that is a device', params: { url: 'http://example.com/a.qcow2', 'details[0].kernel': '/dev/sda' }, as: 'admin', code: 431, text: /^details\.kernel: device paths/, localDir: '/tmp/kiln-images' },
    { what: 'a malformed checksum', params: { url: 'http://example.com/a.qcow2', checksum: '{SHA-256}abc' }, as: 'user', code: 431, text: /^checksum: a SHA-256 checksum has 64 hex digits, not 3/ },
    { what: 'an unknown checksum algorithm', params: { url: 'http://example.com/a.qcow2', checksum: `{CRC32}${'0'.repeat(8)}` }, as: 'user', code: 431, text: /^checksum: unknown algorithm \{CRC32\}/ },
    { what: 'a URL without a zone', params: { url: 'http://example.com/a.qcow2', zoneid: '' }, as: 'user', code: 431, text: /^zoneid: an image registered by URL is downloaded into a zone's image store/ },
  ];

  for (const c of cases) {
    it(`${c.what}: ${c.code}`, async () => {
      if (c.localDir) await t.call('updateConfiguration', { name: 'kiln.template.local.dir', value: c.localDir });
      const params = { ...c.params };
      if (params['zoneid'] === '') delete params['zoneid'];
      const before = dbFingerprint(t.engine);
      const res = await t.call('registerTemplate', { name: 'tpl', format: 'QCOW2', hypervisor: 'Simulator', ostypeid: os, ...(c.params['zoneid'] === '' ? {} : { zoneid: ids.zoneid }), ...params }, c.as === 'user' ? user : t.admin);
      expect(res.status).toBe(c.code);
      expect(String(res.body['errortext'])).toMatch(c.text);
      expect(dbFingerprint(t.engine)).toBe(before);
    });
  }

  it('lets the root admin register a host path inside the directory, canonical and ready at once', async () => {
    await t.call('updateConfiguration', { name: 'kiln.template.local.dir', value: '/tmp/kiln-images/' });
    const res = await register({ name: 'local', url: '/tmp/kiln-images//sub/a.qcow2', 'details[0].kernel': '/tmp/kiln-images/boot/vmlinuz' });
    expect(res.status).toBe(200);
    const row = t.engine.db.prepare('SELECT image_path, details FROM templates WHERE uuid=?').get(registeredId(res)) as { image_path: string; details: string };
    expect(row.image_path).toBe('/tmp/kiln-images/sub/a.qcow2');
    expect(JSON.parse(row.details)).toEqual({ kernel: '/tmp/kiln-images/boot/vmlinuz' });
    expect(await listed(registeredId(res))).toMatchObject({ isready: true, status: 'Download Complete' });
  });

  it('refuses kernel details on updateTemplate for a user, even on their own template, and changes nothing', async () => {
    files.set('/own.qcow2', { body: qcow2(64 * 1024) });
    // Only the root admin may download from this machine; the user's template points elsewhere and never finishes.
    const own = await register({ name: 'own', url: 'http://example.invalid/own.qcow2' }, user);
    expect(own.status).toBe(200);
    const id = registeredId(own);
    await settled(id);
    const before = dbFingerprint(t.engine);
    for (const key of ['kernel', 'initrd', 'kernelArgs']) {
      const res = await t.call('updateTemplate', { id, displaytext: 'changed', [`details[0].${key}`]: '/etc/shadow' }, user);
      expect(res.status).toBe(531);
      expect(String(res.body['errortext'])).toBe(`details: the ${key} detail is for the root admin only`);
    }
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});

describe('migration 9', () => {
  it("keeps the demo zone's seeded templates and ISO ready", async () => {
    const seeded = ((await t.call('listTemplates', { templatefilter: 'featured' })).body['template'] as (Listed & { name: string })[]).map((x) => [x.name, x.isready, x.status]);
    expect(seeded).toEqual([['Debian 12', true, 'Download Complete'], ['Ubuntu 24.04', true, 'Download Complete'], ['Rocky 9', true, 'Download Complete']]);
    expect(((await t.call('listIsos', { isofilter: 'featured' })).body['iso'] as Listed[]).map((x) => x.isready)).toEqual([true]);
  });

  it('makes a host path or kernel detail a non-admin account registered before Inactive, and deploy refuses it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-test-'));
    const db = openDatabase(join(dataDir, 'kiln.db'), MIGRATIONS.filter((m) => m.version <= 8));
    const at = '2026-01-01T00:00:00Z';
    db.prepare(`INSERT INTO domains (id, uuid, name, parent_id, path, created) VALUES (1, 'd0000000-0000-4000-8000-000000000001', 'ROOT', NULL, '/', ?)`).run(at);
    db.prepare(`INSERT INTO accounts (id, uuid, name, domain_id, role, created) VALUES (1, 'a0000000-0000-4000-8000-000000000001', 'admin', 1, 'Admin', ?), (2, 'a0000000-0000-4000-8000-000000000002', 'old-user', 1, 'User', ?)`).run(at, at);
    db.prepare(`INSERT INTO users (uuid, username, account_id, created) VALUES ('b0000000-0000-4000-8000-000000000001', 'admin', 1, ?)`).run(at);
    db.prepare(`INSERT INTO guest_os_categories (id, uuid, name) VALUES (1, 'c0000000-0000-4000-8000-000000000001', 'Other')`).run();
    db.prepare(`INSERT INTO guest_os (id, uuid, category_id, display_name) VALUES (1, 'e0000000-0000-4000-8000-000000000001', 1, 'Other (64-bit)')`).run();
    db.prepare(`INSERT INTO zones (id, uuid, name, created) VALUES (1, 'f0000000-0000-4000-8000-000000000001', 'Old', ?)`).run(at);
    db.prepare(`INSERT INTO service_offerings (uuid, name, display_text, cpu_number, cpu_speed, memory, created) VALUES ('90000000-0000-4000-8000-000000000001', 'small', 'small', 1, 500, 512, ?)`).run(at);
    const template = (uuid: string, name: string, account: number, imagePath: string, details: Record<string, string> = {}) =>
      db.prepare(`INSERT INTO templates (uuid, name, display_text, format, hypervisor, os_type_id, account_id, image_path, details, zone_id, created) VALUES (?,?,?,'QCOW2','KVM',1,?,?,?,1,?)`).run(uuid, name, name, account, imagePath, JSON.stringify(details), at);
    template('10000000-0000-4000-8000-000000000001', 'user-shadow', 2, '/etc/shadow');
    template('10000000-0000-4000-8000-000000000002', 'user-kernel', 2, 'guest.qcow2', { kernel: '/etc/shadow' });
    template('10000000-0000-4000-8000-000000000003', 'user-volume', 2, 'guest.qcow2', { resetonreboot: 'true' });
    template('10000000-0000-4000-8000-000000000004', 'admin-path', 1, '/srv/images/guest.qcow2', { kernel: '/srv/images/vmlinuz' });
    db.close();
    const upgraded = await testEngine({ dataDir });
    try {
      const rows = (await upgraded.call('listTemplates', { templatefilter: 'all' })).body['template'] as (Listed & { name: string })[];
      expect(rows.map((x) => [x.name, x.isready])).toEqual([['user-shadow', false], ['user-kernel', false], ['user-volume', true], ['admin-path', true]]);
      expect(rows[0]!.status).toBe('Inactive: registered by a non-admin account with a host path or kernel/initrd detail; register it again by http(s) URL');
      const deploy = await upgraded.call('deployVirtualMachine', { zoneid: 'f0000000-0000-4000-8000-000000000001', templateid: '10000000-0000-4000-8000-000000000001', serviceofferingid: '90000000-0000-4000-8000-000000000001' });
      expect(deploy.status).toBe(431);
      expect(String(deploy.body['errortext'])).toBe('templateid: template user-shadow is not ready: Inactive: registered by a non-admin account with a host path or kernel/initrd detail; register it again by http(s) URL');
    } finally {
      await upgraded.close();
    }
  });
});

describe('VM details', () => {
  it('never turn into a kernel, initrd or kernel command line: only the root admin\'s template details do', async () => {
    const job = await t.run('deployVirtualMachine', {
      zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, startvm: 'false',
      'details[0].kernel': '/etc/shadow', 'details[1].initrd': '/etc/shadow', 'details[2].kernelArgs': 'init=/bin/sh',
    }, user);
    const vmId = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const row = t.engine.db.prepare('SELECT * FROM vm_instances WHERE uuid=?').get(vmId) as Parameters<typeof t.engine.vms.spec>[0];
    const spec = t.engine.vms.spec(row);
    expect([spec.kernel, spec.initrd, spec.kernelArgs]).toEqual([undefined, undefined, undefined]);
    await t.run('destroyVirtualMachine', { id: vmId, expunge: 'true' });
  });
});

describe('downloads into the zone image store', () => {
  it('downloads with a matching SHA-256, shows progress and then isready, and deploys once ready', async () => {
    let open!: () => void;
    const image = qcow2(4 * MiB);
    files.set('/good.qcow2', { body: image, gate: { open: new Promise<void>((resolve) => (open = resolve)) } });
    const res = await register({ name: 'good', url: `${base}/good.qcow2`, checksum: `{SHA-256}${sha256(image).toUpperCase()}` });
    expect(res.status).toBe(200);
    const id = registeredId(res);
    expect((res.body['template'] as Listed[])[0]).toMatchObject({ isready: false, status: 'Download In Progress' });

    // Half the bytes are in: listTemplates says how far, and a deploy is refused naming templateid.
    const deadline = Date.now() + 10_000;
    let during = await listed(id);
    while (during.status !== '50% Downloaded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      during = await listed(id);
    }
    expect(during).toMatchObject({ isready: false, status: '50% Downloaded', downloaddetails: [{ downloadPercent: '50', downloadState: 'Downloading' }] });
    // As in CloudStack, the filters a deploy picks from list only ready templates; self shows this one with its progress.
    const listedIds = async (filter: string) => (((await t.call('listTemplates', { templatefilter: filter })).body['template'] as Listed[]) ?? []).map((x) => x.id);
    expect(await listedIds('executable')).not.toContain(id);
    expect(await listedIds('featured')).not.toContain(id);
    expect(await listedIds('self')).toContain(id);
    const before = dbFingerprint(t.engine);
    const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: id, serviceofferingid: ids.small });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toBe('templateid: template good is not ready: 50% Downloaded');
    expect(dbFingerprint(t.engine)).toBe(before);

    open();
    const done = await settled(id);
    expect(await listedIds('executable')).toContain(id);
    expect(done).toMatchObject({ isready: true, status: 'Download Complete', size: 1024 * MiB, checksum: `{SHA-256}${sha256(image).toUpperCase()}` });
    const row = t.engine.db.prepare('SELECT store_path, image_path FROM templates WHERE uuid=?').get(id) as { store_path: string; image_path: string };
    expect(row.store_path).toBe(join(t.dataDir, 'image-store', `zone-${ids.zoneid}`, `${id}.qcow2`));
    expect(sha256(Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(row.store_path))))).toBe(sha256(image));
    expect(row.image_path).toBe(`kiln-tmpl-${id}.qcow2`);

    // The host gets its copy (by Kiln's name) when the first VM needs it, and the VM's root disk is backed by it.
    const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: id, serviceofferingid: ids.small, name: 'from-download' });
    expect(job['jobstatus']).toBe(1);
    expect(t.engine.simulator.world.images[`kiln-tmpl-${id}.qcow2`]).toEqual({ sha256: sha256(image), sizeBytes: image.length, format: 'qcow2' });
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    const internal = (t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm.id) as { internal_name: string }).internal_name;
    const domain = Object.values(t.engine.simulator.world.find('sim-host-1')!.domains).concat(
      Object.values(t.engine.simulator.world.find('sim-host-2')!.domains), Object.values(t.engine.simulator.world.find('sim-host-3')!.domains),
    ).find((d) => d.spec.internalName === internal)!;
    expect(domain.spec.disks[0]!.backingImage).toBe(`kiln-tmpl-${id}.qcow2`);
    await t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
  });

  it('accepts a plain MD5 checksum, as CloudStack does, and downloads an ISO that listIsos shows ready', async () => {
    const image = iso(64 * 1024);
    files.set('/tools.iso', { body: image });
    const res = await register({ name: 'tools', format: 'ISO', url: `${base}/tools.iso`, checksum: md5(image) });
    expect(res.status).toBe(200);
    const id = registeredId(res);
    await settled(id);
    expect(await listed(id, 'listIsos')).toMatchObject({ isready: true, status: 'Download Complete', size: image.length });
  });

  it('fails a download whose checksum does not match: the error is the status, no file is kept, deploy is refused', async () => {
    const image = qcow2(256 * 1024);
    files.set('/bad.qcow2', { body: image });
    const wrong = md5(Buffer.from('something else'));
    const res = await register({ name: 'bad', url: `${base}/bad.qcow2`, checksum: `{MD5}${wrong}` });
    const id = registeredId(res);
    const after = await settled(id);
    expect(after.isready).toBe(false);
    expect(after.status).toBe(`Download Failed: checksum mismatch: the image's MD5 is ${md5(image)}, not ${wrong}`);
    expect(after.downloaddetails[0]!.downloadState).toBe('Download Error');
    const store = join(t.dataDir, 'image-store', `zone-${ids.zoneid}`);
    expect(readdirSync(store).filter((f) => f.startsWith(id))).toEqual([]);
    const deploy = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: id, serviceofferingid: ids.small });
    expect(deploy.status).toBe(431);
    expect(String(deploy.body['errortext'])).toMatch(/^templateid: template bad is not ready: Download Failed: checksum mismatch/);
    // Nor can a VM be restored onto it: refused before any job starts.
    const vm = (await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'restore-target' }))['jobresult'] as { virtualmachine: { id: string } };
    const before = dbFingerprint(t.engine);
    const restore = await t.call('restoreVirtualMachine', { virtualmachineid: vm.virtualmachine.id, templateid: id });
    expect(restore.status).toBe(431);
    expect(String(restore.body['errortext'])).toMatch(/^templateid: template bad is not ready: Download Failed/);
    expect(dbFingerprint(t.engine)).toBe(before);
    await t.run('destroyVirtualMachine', { id: vm.virtualmachine.id, expunge: 'true' });
  });

  it('settles a download the server refuses or cannot be reached for on the error, with the reason as status', async () => {
    const missing = await settled(registeredId(await register({ name: 'missing', url: `${base}/no-such.qcow2` })));
    expect(missing).toMatchObject({ isready: false, status: `Download Failed: the server answered HTTP 404 for ${base}/no-such.qcow2` });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await settled(registeredId(await register({ name: 'refused', url: `http://127.0.0.1:${port}/a.qcow2` })));
    expect(refused).toMatchObject({ isready: false, status: `Download Failed: connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('fails an image larger than max.template.iso.size from its Content-Length, before reading it', async () => {
    await t.call('updateConfiguration', { name: 'max.template.iso.size', value: '1' });
    try {
      files.set('/huge.qcow2', { body: qcow2(64 * 1024), claimLength: 2 * 1024 * MiB });
      const id = registeredId(await register({ name: 'huge', url: `${base}/huge.qcow2` }));
      const after = await settled(id);
      expect(after).toMatchObject({ isready: false, status: `Download Failed: the image is ${2 * 1024 * MiB} bytes, larger than max.template.iso.size (1 GiB)` });
      expect(existsSync(join(t.dataDir, 'image-store', `zone-${ids.zoneid}`, `${id}.qcow2.part`))).toBe(false);
    } finally {
      await t.call('updateConfiguration', { name: 'max.template.iso.size', value: '50' });
    }
  });

  it('refuses a qcow2 that names a backing file (a host file the guest would read), and a "RAW" that is really qcow2', async () => {
    files.set('/backed.qcow2', { body: qcow2(64 * 1024, 1024 * MiB, { backingFile: true }) });
    const backed = await settled(registeredId(await register({ name: 'backed', url: `${base}/backed.qcow2` })));
    expect(backed).toMatchObject({ isready: false, status: 'Download Failed: the QCOW2 image names a backing file; Kiln accepts only self-contained images' });
    files.set('/disguised.img', { body: qcow2(64 * 1024) });
    const disguised = await settled(registeredId(await register({ name: 'disguised', format: 'RAW', url: `${base}/disguised.img` })));
    expect(disguised).toMatchObject({ isready: false, status: 'Download Failed: the file is a QCOW2 image, not RAW; register it with format QCOW2' });
  });

  it('keeps a user\'s download off this machine even through a host name (localhost resolves to loopback)', async () => {
    files.set('/local-only.qcow2', { body: qcow2(64 * 1024) });
    const served = requests.length;
    const res = await register({ name: 'sneaky', url: `${base.replace('127.0.0.1', 'localhost')}/local-only.qcow2` }, user);
    expect(res.status).toBe(200);
    const after = await settled(registeredId(res));
    expect(after.isready).toBe(false);
    expect(after.status).toMatch(/^Download Failed: localhost resolves to (127\.0\.0\.1|::1), an address of this machine; only the root admin may download from it$/);
    expect(requests.length).toBe(served);
  });

  const lanAddress = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(!lanAddress)('keeps a user\'s download off this machine when a redirect points back at it', async () => {
    // A server on a non-loopback address, which a user may reach, that redirects to 127.0.0.1.
    const redirector = createServer((_req, res) => void res.writeHead(302, { location: `${base}/local-only.qcow2` }).end());
    await new Promise<void>((resolve) => redirector.listen(0, lanAddress, resolve));
    try {
      files.set('/local-only.qcow2', { body: qcow2(64 * 1024) });
      const served = requests.length;
      const res = await register({ name: 'redirected', url: `http://${lanAddress}:${(redirector.address() as AddressInfo).port}/image.qcow2` }, user);
      expect(res.status).toBe(200);
      const after = await settled(registeredId(res));
      expect(after).toMatchObject({ isready: false, status: `Download Failed: ${base.slice('http://'.length)} is an address of this machine; only the root admin may download from it` });
      expect(requests.length).toBe(served);
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
    }
  });

  it('starts an interrupted download again when the engine reopens, so it never stays in progress', async () => {
    const dataDir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'kiln-dl-'));
    const first = await testEngine({ dataDir, keep: true });
    const zoneid = demoIds(first.engine).zoneid;
    const image = qcow2(2 * MiB);
    files.set('/slow.qcow2', { body: image, gate: { open: new Promise<void>(() => undefined) } });
    const firstOs = (first.engine.db.prepare(`SELECT uuid FROM guest_os LIMIT 1`).get() as { uuid: string }).uuid;
    const res = await first.call('registerTemplate', { name: 'slow', format: 'QCOW2', hypervisor: 'Simulator', ostypeid: firstOs, zoneid, url: `${base}/slow.qcow2`, checksum: `{SHA-256}${sha256(image)}` });
    const id = registeredId(res);
    const seen = requests.filter((r) => r === '/slow.qcow2').length;
    while (requests.filter((r) => r === '/slow.qcow2').length === seen) await new Promise((r) => setTimeout(r, 20));
    await first.close(); // mid-download: the row stays in progress for the next process
    files.set('/slow.qcow2', { body: image });
    const second = await testEngine({ dataDir });
    try {
      const row = second.engine.db.prepare('SELECT id, download_state FROM templates WHERE uuid=?').get(id) as { id: number; download_state: string };
      expect(row.download_state).toBe('DOWNLOAD_IN_PROGRESS');
      await second.engine.images.wait(row.id);
      const listedAgain = ((await second.call('listTemplates', { templatefilter: 'all', id })).body['template'] as Listed[])[0]!;
      expect(listedAgain).toMatchObject({ isready: true, status: 'Download Complete' });
      expect(requests.filter((r) => r === '/slow.qcow2').length).toBe(seen + 2);
    } finally {
      await second.close();
    }
  });
});

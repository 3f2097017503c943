/**
 * The metadata HTTP service and the config drive (R62, R64) on the simulator: the CloudStack
 * paths answer the guest whose NIC address the request comes from, and only it; the password
 * server answers as cloud-init expects; a config-drive network's VM gets its ISO (label config-2,
 * OpenStack and cloudstack/ trees) attached at start, rebuilt when user data or keys change.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { MetadataService } from '../../main/engine/metadata/metadata-service.js';
import { configDriveDir } from '../../main/engine/metadata/delivery.js';
import { configDriveName } from '../../main/engine/metadata/config-drive.js';
import { join } from 'node:path';
import { existsSync, rmSync, statSync } from 'node:fs';

let t: TestEngine;
let service: MetadataService;
let ports: { metadata: number; password: number };
let vm1: Record<string, string>;
let vm2: Record<string, string>;
const KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd4b4Yl4vW7cB1nBq7a2qg2l0ydQm0pYV7XbZ0b1wQ9 one@kiln';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE8o3c9Xo2H9X6l6m8tJ8r5h0V1kq3s4a6Y2n1bW0c7d two@kiln';
const demoL2 = () => (t.engine.db.prepare(`SELECT uuid FROM networks WHERE name='Demo L2'`).get() as { uuid: string }).uuid;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function get(path: string, from: string, port = ports.metadata, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  t = await testEngine();
  const ids = demoIds(t.engine);
  const net = await t.call('createNetwork', { name: 'md-net', zoneid: ids.zoneid, guestiptype: 'Shared', gateway: '127.0.0.1', netmask: '255.0.0.0', startip: '127.0.0.10', endip: '127.0.0.20' });
  expect(net.status).toBe(200);
  const networkid = (net.body['network'] as { id: string }).id;
  for (const [name, key] of [['k1', KEY1], ['k2', KEY2]]) expect((await t.call('registerSSHKeyPair', { name: name!, publickey: key! })).status).toBe(200);
  vm1 = await deployDemo(t, { name: 'guest-one', networkids: networkid, keypair: 'k1', userdata: b64('#cloud-config\nruncmd:\n - echo one\n') });
  vm2 = await deployDemo(t, { name: 'guest-two', networkids: networkid, keypair: 'k2', userdata: b64('#cloud-config\nruncmd:\n - echo two\n') });
  service = new MetadataService(t.engine);
  ports = await service.listen('127.0.0.1', { metadata: 0, password: 0 });
});
afterAll(async () => {
  await service?.close();
  await t?.close();
});

describe('metadata HTTP service', () => {
  it('answers each guest its own metadata and user data, by source address', async () => {
    const ip1 = (vm1['nic'] as unknown as { ipaddress: string }[])[0]!.ipaddress;
    const ip2 = (vm2['nic'] as unknown as { ipaddress: string }[])[0]!.ipaddress;
    expect([ip1, ip2]).toEqual(['127.0.0.10', '127.0.0.11']);
    const index = await get('/latest/meta-data/', ip1);
    expect(index.body.split('\n')).toEqual(expect.arrayContaining(['service-offering', 'availability-zone', 'local-ipv4', 'local-hostname', 'public-ipv4', 'public-hostname', 'instance-id', 'vm-id', 'public-keys']));
    expect((await get('/latest/meta-data/instance-id', ip1)).body).toBe(vm1['id']);
    expect((await get('/latest/meta-data/local-hostname', ip1)).body).toBe('guest-one');
    expect((await get('/latest/meta-data/local-ipv4', ip1)).body).toBe(ip1);
    expect((await get('/latest/meta-data/availability-zone', ip1)).body).toBe('Demo');
    expect((await get('/latest/meta-data/public-keys', ip1)).body).toContain(KEY1.split(' ')[1]);
    expect((await get('/latest/user-data', ip1)).body).toBe('#cloud-config\nruncmd:\n - echo one\n');
    // The same fields under /latest/ as CloudStack's router has them.
    expect((await get('/latest/vm-id', ip1)).body).toBe(vm1['id']);
    expect((await get('/latest/local-hostname', ip2)).body).toBe('guest-two');
    expect((await get('/latest/user-data', ip2)).body).toContain('echo two');
    expect((await get('/latest/meta-data/public-keys', ip2)).body).toContain(KEY2.split(' ')[1]);
  });

  it('one guest can never read another: every path answers the caller only, an unknown source gets 404', async () => {
    for (const path of ['/latest/meta-data/instance-id', '/latest/user-data', '/latest/meta-data/public-keys', `/latest/meta-data/instance-id?ip=127.0.0.11`, '/latest/../latest/user-data']) {
      const mine = await get(path, '127.0.0.10');
      expect(mine.body).not.toContain(vm2['id']);
      expect(mine.body).not.toContain('echo two');
      expect(mine.body).not.toContain(KEY2);
    }
    for (const path of ['/', '/latest/', '/latest/meta-data/', '/latest/user-data', '/latest/meta-data/instance-id']) {
      const stranger = await get(path, '127.0.0.12');
      expect(stranger.status).toBe(404);
      expect(stranger.body).not.toContain(vm1['id']);
    }
  });

  it('the password server answers saved_password to a known guest (nothing pending) and 404 to a stranger', async () => {
    expect(await get('/', '127.0.0.10', ports.password, { DomU_Request: 'send_my_password' })).toEqual({ status: 200, body: 'saved_password' });
    expect(await get('/', '127.0.0.10', ports.password, { DomU_Request: 'saved_password' })).toEqual({ status: 200, body: 'saved_password' });
    expect((await get('/', '127.0.0.10', ports.password, { DomU_Request: 'something' })).body).toBe('bad_request');
    expect((await get('/', '127.0.0.12', ports.password, { DomU_Request: 'send_my_password' })).status).toBe(404);
  });

  it('a destroyed guest is answered no more', async () => {
    const mdNet = (t.engine.db.prepare(`SELECT uuid FROM networks WHERE name='md-net'`).get() as { uuid: string }).uuid;
    const vm3 = await deployDemo(t, { name: 'guest-three', networkids: mdNet });
    const ip3 = (vm3['nic'] as unknown as { ipaddress: string }[])[0]!.ipaddress;
    expect((await get('/latest/meta-data/instance-id', ip3)).body).toBe(vm3['id']);
    expect((await t.run('destroyVirtualMachine', { id: vm3['id']! }))['jobstatus']).toBe(1);
    expect((await get('/latest/meta-data/instance-id', ip3)).status).toBe(404);
  });
});

describe('config drive', () => {
  const isoFile = (vmId: string, path: string) => execFileSync('isoinfo', ['-R', '-i', join(configDriveDir(t.engine), configDriveName(vmId)), '-x', path]).toString();

  it('an L2 (config drive) VM gets an ISO labelled config-2 at start, with the OpenStack and cloudstack/ layout, and no HTTP answers', async () => {
    const vm = await deployDemo(t, { name: 'drive-one', networkids: demoL2(), keypair: 'k1', userdata: b64('#cloud-config\nruncmd:\n - touch /x\n') });
    const file = join(configDriveDir(t.engine), configDriveName(vm['id']!));
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(execFileSync('isoinfo', ['-d', '-i', file]).toString()).toMatch(/Volume id: config-2/);
    const md = JSON.parse(isoFile(vm['id']!, '/openstack/latest/meta_data.json')) as Record<string, unknown>;
    expect(md).toMatchObject({ uuid: vm['id'], hostname: 'drive-one', name: 'drive-one', availability_zone: 'Demo', public_keys: { k1: expect.stringContaining(KEY1.split(' ')[1]!) } });
    expect(isoFile(vm['id']!, '/openstack/latest/user_data')).toBe('#cloud-config\nruncmd:\n - touch /x\n');
    expect(isoFile(vm['id']!, '/cloudstack/userdata/user_data.txt')).toContain('touch /x');
    expect(isoFile(vm['id']!, '/cloudstack/metadata/instance-id.txt')).toBe(vm['id']);
    expect(isoFile(vm['id']!, '/cloudstack/metadata/local-hostname.txt')).toBe('drive-one');
    // Delivered: the simulated domain has it as a CD-ROM, and the host has the staged image.
    const row = t.engine.db.prepare('SELECT v.internal_name, h.name AS host FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(vm['id']) as { internal_name: string; host: string };
    const sim = t.engine.simulator.world.find(row.host)!.domains[row.internal_name]!;
    expect(sim.spec.disks.filter((d) => d.device === 'cdrom').map((d) => d.name)).toEqual([configDriveName(vm['id']!)]);
    expect(t.engine.simulator.world.images[configDriveName(vm['id']!)]?.format).toBe('iso');
  });

  it('is rebuilt when the key or user data change (seen at the next start), and kept when nothing changed', async () => {
    const vm = await deployDemo(t, { name: 'drive-two', networkids: demoL2(), keypair: 'k1', userdata: b64('#cloud-config\n') });
    const sha = () => t.engine.simulator.world.images[configDriveName(vm['id']!)]!.sha256;
    const first = sha();
    expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect((await t.run('startVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect(sha()).toBe(first);
    expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect((await t.run('resetSSHKeyForVirtualMachine', { id: vm['id']!, keypair: 'k2' }))['jobstatus']).toBe(1);
    expect((await t.call('updateVirtualMachine', { id: vm['id']!, userdata: b64('#cloud-config\nruncmd:\n - echo changed\n') })).status).toBe(200);
    expect((await t.run('startVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect(sha()).not.toBe(first);
    expect(JSON.parse(isoFile(vm['id']!, '/openstack/latest/meta_data.json'))).toMatchObject({ public_keys: { k2: expect.stringContaining(KEY2.split(' ')[1]!) } });
    expect(isoFile(vm['id']!, '/openstack/latest/user_data')).toContain('echo changed');
    // The HTTP service does not answer a config-drive guest (its network does not use it).
    const ip = t.engine.db.prepare('SELECT ip4_address FROM nics n JOIN vm_instances v ON v.id=n.vm_id WHERE v.uuid=?').get(vm['id']) as { ip4_address: string | null };
    expect(ip.ip4_address).toBeNull();
  });

  it('a config drive that cannot be built fails the start with the reason and leaves the VM settled', async () => {
    const vm = await deployDemo(t, { name: 'drive-nogen', networkids: demoL2(), startvm: 'false' });
    expect(vm['state']).toBe('Created');
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    let job: Record<string, unknown>;
    try {
      job = await t.run('startVirtualMachine', { id: vm['id']! });
    } finally {
      process.env['PATH'] = path;
    }
    expect(job['jobstatus']).toBe(2);
    expect(JSON.stringify(job['jobresult'])).toContain('needs genisoimage');
    const state = (t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(vm['id']) as { state: string }).state;
    // A Created VM whose start fails stays Created (vm-service start's rule), nothing half-started.
    expect(state).toBe('Created');
  });

  it('expunge removes the drive from Kiln and the host', async () => {
    const vm = await deployDemo(t, { name: 'drive-three', networkids: demoL2() });
    const file = join(configDriveDir(t.engine), configDriveName(vm['id']!));
    expect(existsSync(file)).toBe(true);
    expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(existsSync(file)).toBe(false);
  });

  it('createNetwork userdataprovider picks the path per network, and refuses other values with 431', async () => {
    const ids = demoIds(t.engine);
    const bad = await t.call('createNetwork', { name: 'bad', zoneid: ids.zoneid, userdataprovider: 'Floppy' });
    expect(bad.status).toBe(431);
    expect(String(bad.body['errortext'])).toMatch(/userdataprovider/);
    const net = await t.call('createNetwork', { name: 'cd-shared', zoneid: ids.zoneid, guestiptype: 'Shared', gateway: '127.0.1.1', netmask: '255.255.255.0', startip: '127.0.1.10', endip: '127.0.1.20', userdataprovider: 'ConfigDrive' });
    const vm = await deployDemo(t, { name: 'drive-four', networkids: (net.body['network'] as { id: string }).id });
    expect(existsSync(join(configDriveDir(t.engine), configDriveName(vm['id']!)))).toBe(true);
    expect((await get('/latest/meta-data/instance-id', '127.0.1.10')).status).toBe(404);
  });
});

describe('kiln.metadata.listen.address', () => {
  it('makes the engine serve the metadata service there (ports 80 and 8080) while it runs', async () => {
    const first = await testEngine({ keep: true });
    expect((await first.call('updateConfiguration', { name: 'kiln.metadata.listen.address', value: '127.0.0.17' })).status).toBe(200);
    await first.close();
    const { Engine, silentLogger } = await import('../../main/engine/engine.js');
    const engine = await Engine.open({ dataDir: first.dataDir, background: true, log: silentLogger });
    try {
      const stranger = await new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.17', port: 80, path: '/latest/meta-data/instance-id' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject).end();
      });
      expect(stranger).toBe(404);
    } finally {
      await engine.close();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
    await expect(new Promise((resolve, reject) => request({ host: '127.0.0.17', port: 80, path: '/' }, resolve).on('error', reject).end())).rejects.toThrow(/ECONNREFUSED/);
  });
});

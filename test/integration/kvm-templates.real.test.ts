/**
 * Template registration on real KVM hosts (issue 10, security item 2). A user cannot make a
 * host open a file of its own (/etc/shadow, /etc/passwd, /dev/sda, a kernel): each is refused with
 * 431 or 531 and nothing appears on the hosts. The root admin registers by http(s) URL: the engine
 * downloads the test guest's disk from a local HTTP server into the zone's image store, copies it
 * into a host's pool on first use (volume named by Kiln, streamed over the host's SSH connection),
 * and a VM deployed from it boots on the host with that disk as its backing image.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { connect, ConsoleTap } from '../kvm/real-hosts.js';
import { dbFingerprint } from '../helpers/engine.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import type { Caller } from '../../main/engine/registry/types.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let user: Caller;
let server: Server;
let base: string;
let os: string;
const stagedVolumes: string[] = [];

/** What a refused registration must not have left: a domain or volume that names a host file. */
function hostFilesNamedOn(host: string): string {
  return onHost(host, 'sh', '-c', 'for d in $(virsh list --all --name); do virsh dumpxml --inactive "$d"; done | grep -o -e /etc/shadow -e /etc/passwd -e /dev/sda | sort -u; true');
}

function volumesOf(host: string): string[] {
  onHost(host, 'virsh', 'pool-refresh', 'kiln');
  return onHost(host, 'virsh', 'vol-list', 'kiln').split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

function domainsOf(host: string): string[] {
  return onHost(host, 'virsh', 'list', '--all', '--name').split('\n').map((l) => l.trim()).filter(Boolean);
}

describe.skipIf(!hosts)('registering templates on real KVM hosts', () => {
  beforeAll(async () => {
    const image = readFileSync(hosts!.templateImage);
    const iso = Buffer.alloc(64 * 1024);
    iso.write('\u0001CD001', 32768, 'latin1');
    server = createServer((req, res) => {
      const body = req.url === '/kiln-template.qcow2' ? image : req.url === '/tools.iso' ? iso : undefined;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    z = await kvmZone(hosts!);
    const { userId } = z.t.engine.accounts.createAccount({ name: 'kvm-tpl-user', role: 'User', domainId: z.t.engine.accounts.rootDomainId(), username: 'kvm-tpl-user', password: 'secret-pw' });
    user = z.t.engine.accounts.byUserId(userId)!;
    os = (z.t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).get() as { uuid: string }).uuid;
  }, 120_000);

  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
    // The hosts share the pool's directory: one delete removes the copy for both, the refresh makes host2 see it.
    for (const volume of stagedVolumes) {
      try {
        onHost('host1', 'virsh', 'vol-delete', '--pool', 'kiln', volume);
      } catch {
        /* already gone */
      }
    }
    for (const h of ['host1', 'host2']) onHost(h, 'virsh', 'pool-refresh', 'kiln');
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }, 300_000);

  it('refuses a user every way of naming a host file, with 431 or 531, and nothing is defined on the hosts', async () => {
    const before = { domains: { host1: domainsOf('host1'), host2: domainsOf('host2') }, db: dbFingerprint(z.t.engine) };
    const attempts: { params: Record<string, string>; code: number; text: RegExp }[] = [
      { params: { url: '/etc/shadow', format: 'ISO' }, code: 531, text: /^url: a path on the hosts is for the root admin only/ },
      { params: { url: '/etc/shadow', format: 'QCOW2' }, code: 531, text: /^url: a path on the hosts is for the root admin only/ },
      { params: { url: 'file:///etc/passwd', format: 'QCOW2' }, code: 431, text: /^url: file:\/\/ URLs are refused/ },
      { params: { url: '/dev/sda', format: 'RAW' }, code: 431, text: /^url: device paths/ },
      { params: { url: 'http://10.99.0.1/kiln-template.qcow2', format: 'QCOW2', 'details[0].kernel': '/etc/shadow' }, code: 531, text: /^details: the kernel detail is for the root admin only/ },
      { params: { url: `${base}/kiln-template.qcow2`, format: 'QCOW2' }, code: 431, text: /^url: 127\.0\.0\.1 is an address of this machine/ },
    ];
    for (const attempt of attempts) {
      const res = await z.t.call('registerTemplate', { name: 'hostile', hypervisor: 'KVM', ostypeid: os, zoneid: z.zoneid, ...attempt.params }, user);
      expect(res.status, JSON.stringify(attempt.params)).toBe(attempt.code);
      expect(String(res.body['errortext'])).toMatch(attempt.text);
    }
    // Nor can the user put a kernel on the admin's public test template.
    const onPublic = await z.t.call('updateTemplate', { id: z.templateid, 'details[0].kernel': '/etc/shadow' }, user);
    expect(onPublic.status).toBe(531);
    expect(dbFingerprint(z.t.engine)).toBe(before.db);
    for (const h of ['host1', 'host2'] as const) {
      // Other suites share these hosts; none of their domains is ours, and no domain anywhere names these files.
      const mine = domainsOf(h).filter((d) => !before.domains[h].includes(d) && d.endsWith(z.t.engine.settings.string('instance.name')));
      expect(mine).toEqual([]);
      expect(hostFilesNamedOn(h)).toBe('');
      expect(volumesOf(h).filter((v) => v.startsWith('kiln-tmpl-') || v.startsWith('kiln-iso-'))).toEqual([]);
    }
  });

  it('downloads an http template as the root admin, copies it to the host on first use, and a VM boots from it', { timeout: 240_000 }, async () => {
    const image = readFileSync(hosts!.templateImage);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const res = await z.t.call('registerTemplate', {
      name: 'Busybox by URL', format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, zoneid: z.zoneid, url: `${base}/kiln-template.qcow2`, checksum: `{SHA-256}${sha256}`,
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    });
    expect(res.status).toBe(200);
    const id = (res.body['template'] as { id: string; isready: boolean }[])[0]!;
    expect(id.isready).toBe(false);
    const row = z.t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').get(id.id) as { id: number };
    await z.t.engine.images.wait(row.id);
    const listed = ((await z.t.call('listTemplates', { templatefilter: 'all', id: id.id })).body['template'] as Record<string, unknown>[])[0]!;
    expect(listed).toMatchObject({ isready: true, status: 'Download Complete', size: 64 * 1024 * 1024, physicalsize: image.length });
    const volume = `kiln-tmpl-${id.id}.qcow2`;
    stagedVolumes.push(volume);
    expect(volumesOf('host1')).not.toContain(volume);

    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: id.id, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-from-url', hostid: z.hostIds['host1']! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    // The host's copy: Kiln's name, the downloaded bytes, and the VM's root disk backed by it.
    expect(volumesOf('host1')).toContain(volume);
    const copyPath = onHost('host1', 'virsh', 'vol-path', '--pool', 'kiln', volume).trim();
    expect(onHost('host1', 'sha256sum', copyPath).split(/\s+/)[0]).toBe(sha256);
    const internal = (z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm.id) as { internal_name: string }).internal_name;
    const rootDisk = onHost('host1', 'virsh', 'domblklist', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    expect(onHost('host1', 'virsh', 'vol-dumpxml', rootDisk)).toContain(`<path>${copyPath}</path>`);
    const tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm.id));
    await tap.waitFor(/KILN-GUEST-READY/, 120_000);
    // The guest reads the template's first bytes through its own disk.
    await tap.runPatiently('head -c 16 /dev/vda; echo', /KILN-TEMPLATE-V1/);
    tap.close();

    // A second VM on the other host (same shared pool) uses the copy that is there, without uploading again.
    const second = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: id.id, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-from-url-2', hostid: z.hostIds['host2']!, startvm: 'true' });
    expect(second['jobstatus'], JSON.stringify(second['jobresult'])).toBe(1);
    expect(onHost('host2', 'sha256sum', copyPath).split(/\s+/)[0]).toBe(sha256);
    for (const v of [vm.id, (second['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id]) {
      await z.t.run('stopVirtualMachine', { id: v, forced: 'true' });
      await z.t.run('destroyVirtualMachine', { id: v, expunge: 'true' });
    }
    expect(domainsOf('host1')).not.toContain(internal);
  });

  it('KVM driver: a copy cut short on the host is replaced, and an upload that fails leaves no volume', { timeout: 120_000 }, async () => {
    const image = readFileSync(hosts!.templateImage);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const name = `kiln-tmpl-kx-${process.pid.toString(36)}-${Date.now().toString(36)}.qcow2`;
    stagedVolumes.push(name);
    const stored = { name, format: 'qcow2' as const, sizeBytes: image.length, sha256, open: () => Readable.from([image]) };
    const first = await connect(hosts!, 0);
    try {
      await first.stageImage(stored);
    } finally {
      await first.close();
    }
    const path = onHost('host1', 'virsh', 'vol-path', '--pool', 'kiln', name).trim();
    // What a process killed half-way through vol-upload leaves: the right size, the wrong bytes.
    onHost('host1', 'dd', 'if=/dev/zero', `of=${path}`, 'bs=4096', 'seek=16', 'count=16', 'conv=notrunc');
    expect(onHost('host1', 'sha256sum', path).split(/\s+/)[0]).not.toBe(sha256);
    const second = await connect(hosts!, 0);
    try {
      await second.stageImage(stored);
      expect(onHost('host1', 'sha256sum', path).split(/\s+/)[0]).toBe(sha256);
      // A source that breaks off mid-stream: the call fails and the half-made volume is removed.
      const broken = `kiln-tmpl-kx-broken-${process.pid.toString(36)}.qcow2`;
      stagedVolumes.push(broken);
      const failing = () => Readable.from((async function* () {
        yield image.subarray(0, 65536);
        throw new Error('image store read failed');
      })());
      await expect(second.stageImage({ ...stored, name: broken, open: failing })).rejects.toThrow();
      expect(volumesOf('host1')).not.toContain(broken);
    } finally {
      await second.close();
    }
  });

  it('downloads an ISO as the root admin and gives a VM deployed from it the host copy as its CD-ROM', { timeout: 180_000 }, async () => {
    const res = await z.t.call('registerTemplate', { name: 'tools ISO', format: 'ISO', hypervisor: 'KVM', ostypeid: os, zoneid: z.zoneid, url: `${base}/tools.iso` });
    const id = (res.body['template'] as { id: string }[])[0]!.id;
    await z.t.engine.images.wait((z.t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').get(id) as { id: number }).id);
    expect(((await z.t.call('listIsos', { id })).body['iso'] as Record<string, unknown>[])[0]).toMatchObject({ isready: true, status: 'Download Complete' });
    const volume = `kiln-iso-${id}.iso`;
    stagedVolumes.push(volume);
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: id, serviceofferingid: z.tiny, networkids: z.network, rootdisksize: '1', name: 'kvm-from-iso', hostid: z.hostIds['host1']! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    const internal = (z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm.id) as { internal_name: string }).internal_name;
    const copyPath = onHost('host1', 'virsh', 'vol-path', '--pool', 'kiln', volume).trim();
    expect(onHost('host1', 'virsh', 'domblklist', internal)).toContain(copyPath);
    await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' });
    await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
  });
});

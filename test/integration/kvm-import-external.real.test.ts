/**
 * importsource=external on real KVM hosts (issue 13, "adopt VMs from outside Kiln"): a domain
 * defined by hand on a third host that Kiln does not manage (a root disk that is a qcow2 clone of
 * the template, a data disk with a pattern written into it, an e1000 NIC, a libosinfo OS id, its
 * files outside any pool Kiln knows) is listed by listVmsForImport, copied in by importVm, started
 * by Kiln on a host Kiln picks, and moved live to the other host like any Kiln VM. The source
 * domain, its XML and its disk files stay byte for byte as they were, and no scratch copy is left
 * on it. The refusals (a running source, a host key that changed since it was pinned, bad
 * credentials) answer with their codes and write nothing.
 *
 * Runs on whatever hosts.json KILN_KVM_WORK points at; a set with two hosts gets its third with
 * `hosts.sh setup 3` (idempotent, a few seconds), which Kiln is never told about.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, ownConfigDrives, type KvmZone } from '../helpers/kvm-zone.js';
import { dbFingerprint } from '../helpers/engine.js';
import { waitUntil, type HostEntry } from '../kvm/real-hosts.js';
import { ensureThirdHost } from '../helpers/third-kvm-host.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';

let hosts = kvmHostsOrSkip();
let z: KvmZone;
let source: HostEntry;
const name = `ext-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const dir = '/var/lib/libvirt/images';
const files = [`${dir}/${name}-root.qcow2`, `${dir}/${name}-data.qcow2`];
const mac = `52:54:00:4c:${(process.pid % 256).toString(16).padStart(2, '0')}:01`;

const onSource = (...args: string[]) => onHost(source.name, ...args);
/** The source domain as the host holds it: inactive XML, state, and the checksum of each disk file. */
const sourceState = () => [onSource('virsh', 'dumpxml', '--inactive', name), onSource('virsh', 'domstate', name).trim(), onSource('sha256sum', ...files)].join('\n');
const scratchLeft = () => onSource('sh', '-c', 'ls -d /var/tmp/kiln-export.* 2>/dev/null; true').trim();

describe.skipIf(!hosts)('importVm importsource=external from a KVM host Kiln does not manage', () => {
  let base: Record<string, string>;
  let listParams: Record<string, string>;

  beforeAll(async () => {
    ({ hosts, external: source } = ensureThirdHost());
    // The harness's pool is one directory on every host (hosts.sh), declared so: the copy's disks
    // are made on a recorded pool, and on a HOST-scoped one the VM could not migrate.
    z = await kvmZone(hosts!, ['host1', 'host2'], undefined, { sharedPool: true });
    onSource('mkdir', '-p', dir);
    onSource('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', hosts!.templateImage, '-F', 'qcow2', files[0]!, '64M');
    onSource('qemu-img', 'create', '-q', '-f', 'qcow2', files[1]!, '16M');
    onSource('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 1M 256k', files[1]!);
    const xml = join(mkdtempSync(join(tmpdir(), 'kiln-ext-')), 'domain.xml');
    writeFileSync(xml, handMadeDomainXml(hosts!, name, files, [mac]));
    onSource('virsh', 'define', xml);
    rmSync(dirname(xml), { recursive: true, force: true });
    listParams = { zoneid: z.zoneid, hypervisor: 'KVM', host: source.address, username: source.username, privatekey: readFileSync(source.privateKeyPath, 'utf8') };
    base = {
      ...listParams, importsource: 'external', clusterid: z.clusterid, name, serviceofferingid: z.tiny, templateid: z.templateid,
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network,
      'datadiskofferinglist[0].disk': 'vdb', 'datadiskofferinglist[0].diskOffering': (z.t.engine.db.prepare('SELECT uuid FROM disk_offerings LIMIT 1').get() as { uuid: string }).uuid,
    };
  }, 180_000);

  afterAll(async () => {
    let drives = '';
    if (z) {
      await cleanUp(z.t);
      for (const id of z.t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id IS NULL AND removed IS NULL`).pluck().all() as string[]) await z.t.call('deleteVolume', { id });
      drives = ownConfigDrives(z.t).map((d) => `-e ${d}`).join(' ');
      await z.t.close();
    }
    if (source) onSource('sh', '-c', `virsh destroy ${name} >/dev/null 2>&1; virsh undefine ${name} >/dev/null 2>&1; rm -f ${files.join(' ')}; rm -rf /var/tmp/kiln-export.*; true`);
    const left = onHost('host1', 'sh', '-c', `virsh pool-refresh ${hosts!.poolName} >/dev/null; virsh vol-list ${hosts!.poolName} | grep -c -e ${name} ${drives} ; true`).trim();
    // Kiln's expunge removed the copied volumes.
    expect(left).toBe('0');
  }, 120_000);

  const listed = async () => ((await z.t.call('listVmsForImport', { ...listParams, name })).body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];

  it('lists the hand-made domain with its disks, NIC and OS; its SSH host key is pinned on first use', async () => {
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM external_import_hosts').pluck().get()).toBe(0);
    const [row] = await listed();
    expect(row).toMatchObject({ name, hostname: source.address, powerstate: 'PowerOff', cpunumber: 1, memory: 128, osdisplayname: 'Debian GNU/Linux 12 (64-bit)', importable: true });
    expect(row!['disk']).toEqual([
      { id: 'vda', capacity: 64 * 2 ** 20, controller: 'virtio', controllerunit: 0, imagepath: files[0], position: 0 },
      { id: 'vdb', capacity: 16 * 2 ** 20, controller: 'virtio', controllerunit: 1, imagepath: files[1], position: 1 },
    ]);
    expect(row!['nic']).toMatchObject([{ id: 'nic0', macaddress: mac, adaptertype: 'e1000' }]);
    const fingerprint = execFileSync('ssh-keygen', ['-lf', source.sshHostKeyPath], { encoding: 'utf8' }).split(/\s+/)[1];
    expect(z.t.engine.db.prepare('SELECT url, trust_kind, trust_fingerprint FROM external_import_hosts').all()).toEqual([{ url: `ssh://${source.address}:22`, trust_kind: 'ssh-host-key', trust_fingerprint: fingerprint }]);
  }, 60_000);

  it('refuses a running source, a changed host key and a wrong password, writing nothing', async () => {
    onSource('virsh', 'start', name);
    try {
      expect(await listed()).toMatchObject([{ name, powerstate: 'PowerOn', importable: false, notimportablereason: [`VM ${name} is running on ${source.address}; shut it down there first, its disks are copied while it is off`] }]);
      const before = dbFingerprint(z.t.engine);
      const running = await z.t.call('importVm', base);
      expect(running.status).toBe(431);
      expect(String(running.body['errortext'])).toBe(`name: VM ${name} is running on ${source.address}; shut it down there first, its disks are copied while it is off`);
      expect(dbFingerprint(z.t.engine)).toBe(before);
    } finally {
      onSource('virsh', 'destroy', name);
    }
    const untouched = dbFingerprint(z.t.engine);
    const wrong = await z.t.call('listVmsForImport', { ...listParams, privatekey: '', password: 'not-the-password' });
    expect(wrong.status).toBe(534);
    expect(String(wrong.body['errortext'])).toMatch(/^host: 10\.\d+\.0\.13: SSH authentication to .* failed/);
    expect(dbFingerprint(z.t.engine)).toBe(untouched);
    // As if the host had been rekeyed since Kiln pinned its key: the pin no longer matches.
    const pinned = z.t.engine.db.prepare('SELECT trust_fingerprint FROM external_import_hosts').pluck().get() as string;
    z.t.engine.db.prepare('UPDATE external_import_hosts SET trust_fingerprint=?').run(`SHA256:${'A'.repeat(43)}`);
    const before = dbFingerprint(z.t.engine);
    for (const [command, params] of [['listVmsForImport', listParams], ['importVm', base]] as const) {
      const res = await z.t.call(command, params);
      expect(res.status, command).toBe(534);
      expect(String(res.body['errortext'])).toContain(`host: ${source.address}: SSH host key of ${source.address}:22 has changed: Kiln pinned SHA256:${'A'.repeat(43)} but the host now presents ${pinned}`);
    }
    expect(dbFingerprint(z.t.engine)).toBe(before);
    // The admin confirms the key the host really has.
    expect((await z.t.call('listVmsForImport', { ...listParams, hostkeyfingerprint: pinned })).status).toBe(200);
    expect(z.t.engine.db.prepare('SELECT trust_fingerprint FROM external_import_hosts').pluck().get()).toBe(pinned);
  }, 90_000);

  it('copies it onto a Kiln host, leaves the source as it was, and the copy runs and moves under Kiln', async () => {
    const before = sourceState();
    const job = await z.t.run('importVm', base);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; instancename: string; state: string; nic: { macaddress: string; networkid: string }[] } }).virtualmachine;
    expect(vm).toMatchObject({ instancename: name, state: 'Stopped' });
    expect(vm.nic).toMatchObject([{ macaddress: mac, networkid: z.network }]);
    expect(sourceState()).toBe(before);
    expect(scratchLeft()).toBe('');
    // The credentials were the call's only: no byte of Kiln's database holds the key (or the wrong password tried above).
    const stored = dbFingerprint(z.t.engine);
    expect(stored).not.toContain('PRIVATE KEY');
    expect(stored).not.toContain('not-the-password');

    // The copies are self-contained qcow2 volumes in the pool, with the source's content.
    const volumes = z.t.engine.db.prepare(`SELECT volume_type, path, size FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) ORDER BY device_id`).all(vm.id) as { volume_type: string; path: string; size: number }[];
    expect(volumes.map((v) => [v.volume_type, v.size])).toEqual([['ROOT', 64 * 2 ** 20], ['DATADISK', 16 * 2 ** 20]]);
    volumes.forEach((v, i) => {
      const copy = `${hosts!.storagePath}/${v.path}`;
      expect(onHost('host1', 'qemu-img', 'info', '--output=json', copy)).not.toContain('backing-filename');
      expect(onSource('qemu-img', 'compare', '-q', files[i]!, copy)).toBe('');
    });

    const started = await z.t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    const running = (started['jobresult'] as { virtualmachine: { hostid: string; state: string } }).virtualmachine;
    expect(running.state).toBe('Running');
    const on = Object.entries(z.hostIds).find(([, id]) => id === running.hostid)![0];
    expect(onHost(on, 'virsh', 'domstate', name).trim()).toBe('running');
    const log = `${hosts!.hosts.find((h) => h.name === on)!.stateDir}/log/qemu/${name}-serial.log`;
    await waitUntil('the copied guest to boot', async () => /KILN-GUEST-READY .*disks=vda,vdb/.test(readFileSync(log, 'utf8')), 90_000);
    // Kiln defined it from its own records: the NIC keeps its MAC and its e1000 model.
    expect(onHost(on, 'virsh', 'domiflist', name)).toMatch(new RegExp(`e1000\\s+${mac}`));
    expect(onSource('virsh', 'domstate', name).trim()).toBe('shut off');

    const other = on === 'host1' ? 'host2' : 'host1';
    const moved = await z.t.run('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: z.hostIds[other]! });
    expect(moved['jobstatus'], JSON.stringify(moved['jobresult'])).toBe(1);
    expect(onHost(other, 'virsh', 'domstate', name).trim()).toBe('running');
    expect(sourceState()).toBe(before);
  }, 240_000);
});

/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve`: listVmsForImport and
 * importVm importsource=external on a KVM host Kiln does not manage (the third host of the KVM
 * test set; `hosts.sh setup 3` makes it when the set has two), and each refusal with its code, its
 * text naming the parameter, and nothing written: missing credentials, a host name that is no
 * host name, a hypervisor Kiln has no driver for, a wrong password, a host key other than the
 * pinned one, no cluster, a cluster of another hypervisor, a scratch path, an unknown VM, a VM
 * without a disk and one on an lsilogic SCSI controller (Kiln defines SCSI disks on virtio-scsi, and
 * keeps controllers or refuses them). The import happy path is kvm-import-external.real; the other
 * buses kvm-import-buses.real.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { csClient, csError } from '../helpers/cs-client.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import type { HostEntry } from '../kvm/real-hosts.js';
import { ensureThirdHost } from '../helpers/third-kvm-host.js';

let hosts = kvmHostsOrSkip();
let kiln: KilnProcess;
let source: HostEntry;
const cs = csClient(() => kiln);
const name = `csx-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

function query<T>(sql: string): T[] {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
/** What listVmsForImport and importVm may write: the pin, VMs, their NICs, volumes, details, templates, jobs' results aside. */
const dbState = () => ['external_import_hosts', 'vm_instances', 'nics', 'volumes', 'vm_details', 'templates'].map((t) => `${t}:${JSON.stringify(query(`SELECT * FROM ${t} ORDER BY rowid`))}`).join('\n');

describe.skipIf(!hosts)('cs: listVmsForImport and importVm importsource=external against kiln serve', () => {
  const ids: Record<string, string> = {};
  let key: string;
  let host: string[];

  beforeAll(async () => {
    ({ hosts, external: source } = ensureThirdHost());
    // A shut-off domain with no disk: listed, and refused by the import rules.
    const xml = join(mkdtempSync(join(tmpdir(), 'kiln-csx-')), 'domain.xml');
    writeFileSync(xml, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`);
    onHost(source.name, 'virsh', 'define', xml);
    // And one whose disk is on an lsilogic SCSI controller: Kiln would define its copy's on virtio-scsi, so it is refused.
    onHost(source.name, 'sh', '-c', `mkdir -p /var/lib/libvirt/images && qemu-img create -q -f qcow2 /var/lib/libvirt/images/${name}-lsi.qcow2 16M`);
    writeFileSync(xml, `<domain type='qemu'><name>${name}-lsi</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/${name}-lsi.qcow2'/><target dev='sda' bus='scsi'/></disk><controller type='scsi' index='0' model='lsilogic'/></devices></domain>`);
    onHost(source.name, 'virsh', 'define', xml);
    rmSync(dirname(xml), { recursive: true, force: true });
    key = readFileSync(source.privateKeyPath, 'utf8');
    host = ['hypervisor=KVM', `host=${source.address}`, `username=${source.username}`];

    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
    ids['demoCluster'] = ((await cs(['listClusters'])).json['cluster'] as { id: string }[])[0]!.id;
    ids['pod'] = ((await cs(['listPods'])).json['pod'] as { id: string }[])[0]!.id;
    const cluster = await cs(['addCluster', `zoneid=${ids['zone']}`, `podid=${ids['pod']}`, 'clustername=kvm-x', 'hypervisor=KVM']);
    ids['kvmCluster'] = ((cluster.json['cluster'] as { id: string }[] | { id: string }) as { id: string }[])[0]?.id ?? (cluster.json['cluster'] as { id: string }).id;
    const h = hosts!.hosts[0]!;
    const added = await cs(['addHost', `zoneid=${ids['zone']}`, `podid=${ids['pod']}`, `clusterid=${ids['kvmCluster']}`, 'hypervisor=KVM', `url=ssh://${h.address}`, 'username=root', `privatekey=${readFileSync(h.privateKeyPath, 'utf8')}`, `details[0].pool=${hosts!.poolName}`, '--post']);
    expect(added.code, JSON.stringify(added.json)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await kiln?.stop();
    if (source) onHost(source.name, 'sh', '-c', `virsh undefine ${name} >/dev/null 2>&1; virsh undefine ${name}-lsi >/dev/null 2>&1; rm -f /var/lib/libvirt/images/${name}-lsi.qcow2; true`);
  });

  it('lists the host\'s VMs once the credentials are right, pinning its key; each bad input is refused, writing nothing', async () => {
    const empty = dbState();
    const refusals: [string[], number, RegExp][] = [
      [[`zoneid=${ids['zone']}`, ...host], 431, /^password: give the password \(or privatekey\)/],
      [[`zoneid=${ids['zone']}`, 'hypervisor=KVM', 'host=10.0.0.1;reboot', 'password=x'], 431, /^host: "10\.0\.0\.1;reboot" is not a host name or an IP address/],
      [[`zoneid=${ids['zone']}`, 'hypervisor=Hyperv', `host=${source.address}`, 'password=x'], 431, /^hypervisor: Kiln has no Hyperv driver/],
      [[`zoneid=${ids['zone']}`, ...host, 'password=wrong-password'], 534, new RegExp(`^host: ${source.address}: SSH authentication to .* failed`)],
    ];
    for (const [args, code, text] of refusals) {
      const res = await cs(['listVmsForImport', ...args]);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(csError(res)).toMatchObject({ errorcode: code, errortext: expect.stringMatching(text) });
    }
    expect(dbState()).toBe(empty);

    const listed = await cs(['listVmsForImport', `zoneid=${ids['zone']}`, ...host, `privatekey=${key}`, '--post']);
    expect(listed.code, JSON.stringify(listed.json)).toBe(0);
    const row = (listed.json['unmanagedinstance'] as Record<string, unknown>[]).find((r) => r['name'] === name);
    expect(row).toMatchObject({ name, hostname: source.address, powerstate: 'PowerOff', cpunumber: 1, memory: 64, importable: false, notimportablereason: expect.arrayContaining([`VM ${name} has no disk to become its root volume`]) });
    const lsi = (listed.json['unmanagedinstance'] as Record<string, unknown>[]).find((r) => r['name'] === `${name}-lsi`);
    expect(lsi).toMatchObject({ importable: false, notimportablereason: expect.arrayContaining([`VM ${name}-lsi: its root disk is on lsilogic; a VM copied in from ${source.address} is defined by Kiln, which keeps disk controllers virtio, scsi, sata, ide only`]) });
    const fingerprint = execFileSync('ssh-keygen', ['-lf', source.sshHostKeyPath], { encoding: 'utf8' }).split(/\s+/)[1];
    expect(query('SELECT url, trust_fingerprint FROM external_import_hosts')).toEqual([{ url: `ssh://${source.address}:22`, trust_fingerprint: fingerprint }]);

    // A key other than the pinned one (as the admin might confirm by mistake) is refused, and the pin stays.
    const pinned = dbState();
    const other = await cs(['listVmsForImport', `zoneid=${ids['zone']}`, ...host, `privatekey=${key}`, `hostkeyfingerprint=SHA256:${'B'.repeat(43)}`, '--post']);
    expect(csError(other)).toMatchObject({ errorcode: 534, errortext: expect.stringContaining(`host: ${source.address}: SSH host key of ${source.address}:22 has changed: Kiln pinned SHA256:${'B'.repeat(43)} but the host now presents ${fingerprint}`) });
    expect(dbState()).toBe(pinned);
  }, 60_000);

  it('importVm importsource=external refuses each bad request with its code before any job, writing nothing', async () => {
    const before = dbState();
    const base = ['importVm', `zoneid=${ids['zone']}`, 'importsource=external', `serviceofferingid=${ids['offering']}`, ...host, `privatekey=${key}`];
    const refusals: [string[], number, string | RegExp][] = [
      [[`name=${name}`], 431, 'clusterid: importsource=external needs the cluster whose host receives the copy'],
      [[`name=${name}`, `clusterid=${ids['demoCluster']}`], 431, /^hypervisor: cluster Demo Cluster runs Simulator; a KVM VM is copied only onto a KVM cluster/],
      [[`name=${name}`, `clusterid=${ids['kvmCluster']}`, 'tmppath=/root'], 431, /^tmppath: Kiln makes its scratch copy in a fresh directory/],
      [[`name=${name}`, `clusterid=${ids['kvmCluster']}`, 'diskpath=x.qcow2'], 431, /^diskpath: importsource=external copies the disks of the VM named by name/],
      [[`name=${name}-none`, `clusterid=${ids['kvmCluster']}`], 431, `name: host ${source.address} has no VM named ${name}-none`],
      [[`name=${name}`, `clusterid=${ids['kvmCluster']}`], 431, `name: VM ${name} has no disk to become its root volume`],
      [[`name=${name}-lsi`, `clusterid=${ids['kvmCluster']}`], 431, `name: VM ${name}-lsi: its root disk is on lsilogic; a VM copied in from ${source.address} is defined by Kiln, which keeps disk controllers virtio, scsi, sata, ide only`],
      [[`name=${name}`, `clusterid=${ids['kvmCluster']}`, 'projectid=6d2b6e1e-0000-4000-8000-000000000000'], 431, /^projectid: Kiln has no projects/],
    ];
    for (const [args, code, text] of refusals) {
      const res = await cs([...base, ...args, '--post']);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(csError(res), `${args.join(' ')}: ${JSON.stringify(res)}`).toMatchObject({ errorcode: code, errortext: typeof text === 'string' ? text : expect.stringMatching(text) });
    }
    expect(dbState()).toBe(before);
  }, 60_000);
});

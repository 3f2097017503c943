/**
 * SATA, SCSI (virtio-scsi) and IDE disks and e1000 / rtl8139 NICs through every KVM import path
 * (issue 13: "adapters and controllers are kept as they were"), on real hosts, asserted by reading
 * the domain XML there:
 *   - importUnmanagedInstances (the CSV bulk run) takes over domains defined by hand on each bus;
 *     the run lists each host's domains once, not once per VM (a count of the `virsh list` the
 *     host is asked for); stop and start through Kiln leave each definition byte for byte the same;
 *   - importVm importsource=external copies such domains from the third host, and Kiln's own define
 *     of each copy keeps every disk's target, bus and drive address, the controllers and the NIC
 *     models; a second stop/start keeps them again. An lsilogic SCSI controller or a NIC model Kiln
 *     does not define is listed as not importable, saying why, as are mixed data-disk controllers;
 *   - importVm importsource=local with details[0].rootDiskController=sata and nicAdapter=rtl8139
 *     makes a VM whose disk is on SATA; a controller KVM does not know is a 431 with nothing written.
 * Runs on whatever hosts.json KILN_KVM_WORK points at (a third host is made with `hosts.sh setup 3`);
 * every domain, file and volume it makes is removed at the end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, kvmHostsOrSkip, kvmZone, onHost, onHostAll, type KvmZone } from '../helpers/kvm-zone.js';
import { dbFingerprint } from '../helpers/engine.js';
import { ensureThirdHost } from '../helpers/third-kvm-host.js';
import { handMadeDomainXml, type HandMadeDevices } from '../helpers/hand-made-domain.js';
import { parseDomainXml } from '../../drivers/kvm/domain-xml.js';
import type { KvmSession } from '../../drivers/kvm/index.js';
import type { HostEntry, HostsJson } from '../kvm/real-hosts.js';

let hosts = kvmHostsOrSkip();
let z: KvmZone;
let source: HostEntry;
const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const tag = (process.pid % 256).toString(16).padStart(2, '0');
const dir = '/var/lib/libvirt/images';

interface Case { name: string; devices: HandMadeDevices; mac: string }
/** One case per bus: both disks on it, a NIC of its own model. */
const cases = (prefix: string, n: number): Case[] => [
  { name: `${prefix}sata-${run}`, devices: { buses: ['sata', 'sata'], nicModel: 'rtl8139' }, mac: `52:54:00:4d:${tag}:${n + 1}1` },
  { name: `${prefix}scsi-${run}`, devices: { buses: ['scsi', 'scsi'], nicModel: 'e1000' }, mac: `52:54:00:4d:${tag}:${n + 1}2` },
  { name: `${prefix}ide-${run}`, devices: { buses: ['ide', 'ide'], nicModel: 'virtio' }, mac: `52:54:00:4d:${tag}:${n + 1}3` },
];
const adopted = cases('b', 0);
// The copied IDE VM's data disk is hdc, where Kiln's ISO drive would go: the copy keeps it there (the drive moves).
const external = cases('x', 1).map((c) => (c.devices.buses![0] === 'ide' ? { ...c, devices: { ...c.devices, targets: ['hda', 'hdc'] } } : c));
/** The data disk's id (its target): the second one on the case's bus. */
const dataDisk = (c: Case) => c.devices.targets?.[1] ?? (c.devices.buses![0] === 'ide' ? 'hdb' : 'sdb');
const refusedHere = { name: `bmixed-${run}`, devices: { buses: ['virtio', 'virtio', 'sata'] }, mac: `52:54:00:4d:${tag}:14` };
const refusedThere = { name: `xlsi-${run}`, devices: { buses: ['scsi'], scsiModel: 'lsilogic', nicModel: 'ne2k_pci' }, mac: `52:54:00:4d:${tag}:24` };
const fromDisk = `bdisk-${run}.qcow2`;

const poolVolumes = (c: { name: string; devices: HandMadeDevices }) => (c.devices.buses ?? []).map((_, i) => `${c.name}-${i}.qcow2`);
const externalFiles = (c: { name: string; devices: HandMadeDevices }) => (c.devices.buses ?? []).map((_, i) => `${dir}/${c.name}-${i}.qcow2`);

/**
 * Makes each case's disk files (FILES: the root disk a linked clone of the template, the data disks
 * empty) and defines its domain on HOST, all in one exec on the host.
 */
function defineAll(host: string, all: { name: string; devices: HandMadeDevices; mac: string }[], files: (c: { name: string; devices: HandMadeDevices }) => { paths: string[]; create: (i: number) => string[] }): void {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-buses-'));
  try {
    onHostAll(host, all.flatMap((c) => {
      const xml = join(dir, `${c.name}.xml`);
      const { paths, create } = files(c);
      writeFileSync(xml, handMadeDomainXml(hosts!, c.name, paths, [c.mac], c.devices));
      return [...paths.map((_, i) => create(i)), ['virsh', 'define', xml]];
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What "kept as they were" means on KVM: each disk's target, bus and drive address, the
 * controllers of the disks' buses, each NIC's MAC and model. (Kiln's VMs also have its IDE CD-ROM
 * drive, for attachIso, and so an IDE controller where the source may have had none.)
 */
function devicesOf(host: string, name: string): unknown {
  const dom = parseDomainXml(onHost(host, 'virsh', 'dumpxml', '--inactive', name));
  const disks = dom.disks.filter((d) => d.device === 'disk');
  return {
    disks: disks.map((d) => ({ target: d.target, bus: d.bus, address: d.address })),
    controllers: dom.controllers.filter((c) => disks.some((d) => d.bus === c.type)).map((c) => ({ type: c.type, index: c.index, model: c.model })),
    nics: dom.nics.map((n) => ({ mac: n.macAddress, model: n.model })),
  };
}

/**
 * Counts, from now on, the full domain listings a Kiln host's session runs (inventory.ts
 * readInstances, the import facet's list(): `virsh list --all --uuid`, then each domain's state, XML
 * and block sizes, in one script or through the virsh shell). The event watcher's reconcile
 * (`list --all`) and power-state reads (`list --all --uuid --name`) are not such listings.
 */
async function countListings(hostId: string): Promise<{ count(): number; restore(): void }> {
  const id = z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(hostId) as number;
  const virsh = ((await z.t.engine.hosts.session(id)) as unknown as KvmSession).virsh;
  let count = 0;
  const { run, runScript } = virsh;
  virsh.runScript = function (this: typeof virsh, body, args, options) {
    if (body.includes('$VIRSH list --all --uuid)')) count++;
    return runScript.call(this, body, args, options);
  };
  virsh.run = function (this: typeof virsh, args, options) {
    if (args.join(' ') === 'list --all --uuid') count++;
    return run.call(this, args, options);
  };
  return {
    count: () => count,
    restore: () => Object.assign(virsh, { run, runScript }),
  };
}

describe.skipIf(!hosts)('KVM imports keep SATA, SCSI and IDE disks and NIC models as they were', () => {
  let diskOffering: string;
  let listParams: Record<string, string>;

  beforeAll(async () => {
    ({ hosts, external: source } = ensureThirdHost() as { hosts: HostsJson; external: HostEntry });
    z = await kvmZone(hosts!, ['host1']);
    diskOffering = (z.t.engine.db.prepare('SELECT uuid FROM disk_offerings LIMIT 1').get() as { uuid: string }).uuid;
    defineAll('host1', [...adopted, refusedHere], (c) => {
      const volumes = poolVolumes(c);
      return {
        paths: volumes.map((v) => `${hosts!.storagePath}/${v}`),
        create: (i) => ['virsh', 'vol-create-as', hosts!.poolName, volumes[i]!, ...(i === 0 ? ['64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2'] : ['16M', '--format', 'qcow2'])],
      };
    });
    onHost(source.name, 'mkdir', '-p', dir);
    defineAll(source.name, [...external, refusedThere], (c) => {
      const files = externalFiles(c);
      return {
        paths: files,
        create: (i) => ['qemu-img', 'create', '-q', '-f', 'qcow2', ...(i === 0 ? ['-b', hosts!.templateImage, '-F', 'qcow2', files[i]!, '64M'] : [files[i]!, '16M'])],
      };
    });
    listParams = { zoneid: z.zoneid, hypervisor: 'KVM', host: source.address, username: source.username, privatekey: readFileSync(source.privateKeyPath, 'utf8') };
  }, 180_000);

  afterAll(async () => {
    await closeKvmZone(z);
    const pool = hosts!.poolName;
    const mine = [...adopted, refusedHere].flatMap(poolVolumes).concat(fromDisk);
    onHost('host1', 'sh', '-c', `for d in ${[...adopted, refusedHere].map((c) => c.name).join(' ')}; do virsh destroy $d >/dev/null 2>&1; virsh undefine $d >/dev/null 2>&1; done; virsh pool-refresh ${pool} >/dev/null; for v in ${mine.join(' ')}; do virsh vol-delete --pool ${pool} $v >/dev/null 2>&1; done; true`);
    if (source) onHost(source.name, 'sh', '-c', `for d in ${[...external, refusedThere].map((c) => c.name).join(' ')}; do virsh destroy $d >/dev/null 2>&1; virsh undefine $d >/dev/null 2>&1; done; rm -f ${[...external, refusedThere].flatMap(externalFiles).join(' ')}; true`);
    const left = onHost('host1', 'sh', '-c', `virsh pool-refresh ${pool} >/dev/null; virsh vol-list ${pool} | grep -c -e ${run} ; virsh list --all --name | grep -c -e ${run}; true`).trim();
    // Kiln's expunge removed the copies and the volumes it took over; the test removed the rest.
    expect(left).toBe('0\n0');
  }, 180_000);

  it('lists each bus as importable and mixed data-disk controllers as not, with why', async () => {
    const rows = ((await z.t.call('listUnmanagedInstances', { clusterid: z.clusterid })).body['unmanagedinstance'] as Record<string, unknown>[]).filter((r) => String(r['name']).endsWith(run));
    const byName = new Map(rows.map((r) => [r['name'], r]));
    expect(byName.get(adopted[0]!.name)).toMatchObject({ importable: true, disk: [{ id: 'sda', controller: 'sata', controllerunit: 0 }, { id: 'sdb', controller: 'sata', controllerunit: 1 }], nic: [{ adaptertype: 'rtl8139' }] });
    expect(byName.get(adopted[1]!.name)).toMatchObject({ importable: true, disk: [{ id: 'sda', controller: 'scsi', controllerunit: 0 }, { id: 'sdb', controller: 'scsi', controllerunit: 1 }], nic: [{ adaptertype: 'e1000' }] });
    expect(byName.get(adopted[2]!.name)).toMatchObject({ importable: true, disk: [{ id: 'hda', controller: 'ide', controllerunit: 0 }, { id: 'hdb', controller: 'ide', controllerunit: 1 }], nic: [{ adaptertype: 'virtio' }] });
    expect(byName.get(refusedHere.name)).toMatchObject({
      importable: false,
      notimportablereason: [`VM ${refusedHere.name} has data disks on mixed controller types (virtio, sata); Kiln keeps one data-disk controller per VM`],
    });
  }, 60_000);

  it('the CSV bulk run takes them over listing the host once, and stop/start keeps every definition', async () => {
    const before = new Map(adopted.map((c) => [c.name, onHost('host1', 'virsh', 'dumpxml', '--inactive', c.name)]));
    const csv = ['name,serviceoffering,nic0.id,nic0.network,datadisk0.id,datadisk0.diskoffering', ...adopted.map((c) => `${c.name},kvm-tiny,nic0,${z.network},${dataDisk(c)},${diskOffering}`)].join('\n');
    const listings = await countListings(z.hostIds['host1']!);
    const job = await z.t.run('importUnmanagedInstances', { clusterid: z.clusterid, csv });
    listings.restore();
    expect(job['jobresult'], JSON.stringify(job['jobresult'])).toMatchObject({ bulkimport: { total: 3, imported: 3, failed: 0 } });
    // One listing for the run, not one more per VM: each VM's adopt reads back only its own domain.
    expect(listings.count()).toBe(1);
    // The three VMs side by side: each one's starts and stops wait on the host, not on each other.
    await Promise.all(adopted.map(async (c) => {
      const id = z.t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE internal_name=? AND removed IS NULL`).pluck().get(c.name) as string;
      for (const [command, params] of [['startVirtualMachine', { id }], ['stopVirtualMachine', { id, forced: 'true' }], ['startVirtualMachine', { id }], ['stopVirtualMachine', { id, forced: 'true' }]] as const) {
        const done = await z.t.run(command, params);
        expect(done['jobstatus'], `${command} ${c.name}: ${JSON.stringify(done['jobresult'])}`).toBe(1);
      }
      expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', c.name), c.name).toBe(before.get(c.name));
    }));
  }, 240_000);

  it('listVmsForImport says which copies Kiln can define with their controllers kept, and why not', async () => {
    const rows = ((await z.t.call('listVmsForImport', listParams)).body['unmanagedinstance'] as Record<string, unknown>[]).filter((r) => String(r['name']).endsWith(run));
    const byName = new Map(rows.map((r) => [r['name'], r]));
    for (const c of external) expect(byName.get(c.name), c.name).toMatchObject({ importable: true });
    expect(byName.get(external[1]!.name)).toMatchObject({ disk: [{ id: 'sda', controller: 'scsi' }, { id: 'sdb', controller: 'scsi' }] });
    expect(byName.get(external[2]!.name)).toMatchObject({ disk: [{ id: 'hda', controller: 'ide', controllerunit: 0 }, { id: 'hdc', controller: 'ide', controllerunit: 2 }] });
    expect(byName.get(refusedThere.name)).toMatchObject({
      importable: false,
      disk: [{ id: 'sda', controller: 'lsilogic', controllerunit: 0 }],
      notimportablereason: [
        `VM ${refusedThere.name}: its root disk is on lsilogic; a VM copied in from ${source.address} is defined by Kiln, which keeps disk controllers virtio, scsi, sata, ide only`,
        `VM ${refusedThere.name}: its NICs are ne2k_pci; a VM copied in from ${source.address} is defined by Kiln, which keeps NIC adapters virtio, e1000, e1000e, rtl8139 only`,
      ],
    });
    const before = dbFingerprint(z.t.engine);
    const refused = await z.t.call('importVm', { ...listParams, importsource: 'external', clusterid: z.clusterid, name: refusedThere.name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network });
    expect([refused.status, refused.body['errortext']]).toEqual([431, `name: VM ${refusedThere.name}: its root disk is on lsilogic; a VM copied in from ${source.address} is defined by Kiln, which keeps disk controllers virtio, scsi, sata, ide only`]);
    expect(dbFingerprint(z.t.engine)).toBe(before);
  }, 60_000);

  it('importVm importsource=external: each copy keeps its disks\' targets, buses and units, its controllers and NIC model, across stop and start', async () => {
    // Each copy side by side: its import, starts and stops wait on the hosts, not on the other copies.
    await Promise.all(external.map(async (c) => {
      const job = await z.t.run('importVm', {
        ...listParams, importsource: 'external', clusterid: z.clusterid, name: c.name, serviceofferingid: z.tiny,
        'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network,
        'datadiskofferinglist[0].disk': dataDisk(c), 'datadiskofferinglist[0].diskOffering': diskOffering,
      });
      expect(job['jobstatus'], `${c.name}: ${JSON.stringify(job['jobresult'])}`).toBe(1);
      const id = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
      const wanted = devicesOf(source.name, c.name);
      for (let round = 0; round < 2; round++) {
        const started = await z.t.run('startVirtualMachine', { id });
        expect(started['jobstatus'], `${c.name}: ${JSON.stringify(started['jobresult'])}`).toBe(1);
        expect(devicesOf('host1', c.name), `${c.name} start ${round + 1}`).toEqual(wanted);
        // The IDE copy keeps hdc for its data disk: Kiln's ISO drive is hdb, its config drive hdd.
        if (c === external[2]) expect(parseDomainXml(onHost('host1', 'virsh', 'dumpxml', '--inactive', c.name)).disks.filter((d) => d.device === 'cdrom').map((d) => d.target)).toEqual(['hdb', 'hdd']);
        expect((await z.t.run('stopVirtualMachine', { id, forced: 'true' }))['jobstatus']).toBe(1);
      }
    }));
  }, 300_000);

  it('importVm importsource=local keeps the disk on the bus the details name; a bus KVM does not know is a 431', async () => {
    onHost('host1', 'virsh', 'vol-create-as', hosts!.poolName, fromDisk, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    const base = { zoneid: z.zoneid, importsource: 'local', hostid: z.hostIds['host1']!, serviceofferingid: z.tiny, networkid: z.network, templateid: z.templateid, name: `bdisk-${run}`, diskpath: fromDisk };
    const before = dbFingerprint(z.t.engine);
    const bad = await z.t.call('importVm', { ...base, 'details[0].rootDiskController': 'lsilogic' });
    expect([bad.status, bad.body['errortext']]).toEqual([431, 'details: rootDiskController=lsilogic is not one of virtio, scsi, sata, ide']);
    expect(dbFingerprint(z.t.engine)).toBe(before);
    const job = await z.t.run('importVm', { ...base, 'details[0].rootDiskController': 'sata', 'details[0].nicAdapter': 'rtl8139' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { instancename: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    const devices = devicesOf('host1', vm.instancename) as { disks: unknown[]; nics: { model: string }[] };
    expect(devices.disks).toEqual([{ target: 'sda', bus: 'sata', address: { controller: 0, bus: 0, unit: 0 } }]);
    expect(devices.nics.map((n) => n.model)).toEqual(['rtl8139']);
  }, 120_000);
});

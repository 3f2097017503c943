/**
 * Import and unmanage on real KVM hosts (issue 13): a domain defined by hand with virsh (two
 * disks in the pool, two e1000 NICs, a libosinfo OS id) is listed as unmanaged with R41's fields,
 * imported, stopped and started by Kiln with its inactive XML byte for byte the same (a start that
 * rebuilt it from the database would change its NIC model, disks and devices), unmanaged (the
 * domain keeps running and is listed again) and imported a second time. Runs against whatever
 * hosts.json KILN_KVM_WORK points at; the domain and its volumes are removed at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, ownConfigDrives, type KvmZone } from '../helpers/kvm-zone.js';
import { dbFingerprint } from '../helpers/engine.js';
import { KILN_NS } from '../../drivers/kvm/domain-xml.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let dir: string;
const name = `imp-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const volumes = [`${name}-root.qcow2`, `${name}-data.qcow2`, `${name}-disk.qcow2`];
const tag = (process.pid % 256).toString(16).padStart(2, '0');
const macs = [`52:54:00:4b:${tag}:01`, `52:54:00:4b:${tag}:02`];

const virsh = (...args: string[]) => onHost('host1', 'virsh', ...args);
/** Domains Kiln made and then unmanaged: Kiln no longer removes them, so the test does. */
const kilnMade: string[] = [];
const inactiveXml = () => virsh('dumpxml', '--inactive', name);

function domainXml(storage: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${hosts!.kernel}</kernel><initrd>${hosts!.initrd}</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${storage}/${volumes[0]}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${storage}/${volumes[1]}'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='user'><mac address='${macs[0]}'/><model type='e1000'/></interface>
    <interface type='user'><mac address='${macs[1]}'/><model type='e1000'/></interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>`;
}

describe.skipIf(!hosts)('import and unmanage on real KVM hosts', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
    dir = mkdtempSync(join(tmpdir(), 'kiln-kvm-import-'));
    virsh('vol-create-as', hosts!.poolName, volumes[0]!, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    virsh('vol-create-as', hosts!.poolName, volumes[1]!, '32M', '--format', 'qcow2');
    writeFileSync(join(dir, 'domain.xml'), domainXml(hosts!.storagePath));
    virsh('define', join(dir, 'domain.xml'));
    virsh('start', name);
  }, 120_000);

  afterAll(async () => {
    if (z) {
      await cleanUp(z.t);
      // Destroy keeps data volumes (detached, as CloudStack does); the imported VM's goes by deleteVolume.
      for (const id of z.t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id IS NULL AND removed IS NULL`).pluck().all() as string[]) await z.t.call('deleteVolume', { id });
    }
    // Whatever Kiln did not remove (a failed test) goes by hand.
    for (const d of kilnMade) {
      onHost('host1', 'sh', '-c', `for p in $(virsh domblklist --details ${d} | awk '$2=="disk"||$2=="cdrom" {print $4}'); do [ "$p" = - ] || echo "$p"; done > /tmp/.kiln-e-vols-${d}; virsh destroy ${d} >/dev/null 2>&1; virsh undefine ${d} >/dev/null 2>&1; for p in $(cat /tmp/.kiln-e-vols-${d}); do virsh vol-delete "$p" >/dev/null 2>&1; done; rm -f /tmp/.kiln-e-vols-${d}; true`);
    }
    const drives = z ? ownConfigDrives(z.t).map((d) => `-e ${d}`).join(' ') : '';
    const left = onHost('host1', 'sh', '-c', `virsh pool-refresh ${hosts!.poolName} >/dev/null; virsh vol-list ${hosts!.poolName} | awk 'NR>2 {print $1}' | grep -e ${name} ${drives} ; true`).trim();
    onHost('host1', 'sh', '-c', `virsh destroy ${name} >/dev/null 2>&1; virsh undefine ${name} >/dev/null 2>&1; for v in ${volumes.join(' ')}; do virsh vol-delete --pool ${hosts!.poolName} $v >/dev/null 2>&1; done; true`);
    await z?.t.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    // Kiln's expunge removed the imported VM's volumes, and no config drive was left behind.
    expect(left).toBe('');
  }, 120_000);

  const unmanagedNamed = async (vm: string) => ((await z.t.call('listUnmanagedInstances', { clusterid: z.clusterid, name: vm })).body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];
  const unmanaged = async () => ((await z.t.call('listUnmanagedInstances', { clusterid: z.clusterid, name })).body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];

  it('lists the hand-made domain with its disks, NICs and OS, and imports it; stop and start keep its definition', async () => {
    const [row] = await unmanaged();
    expect(row).toMatchObject({ name, hostid: z.hostIds['host1'], powerstate: 'PowerOn', cpunumber: 1, memory: 128, osdisplayname: 'Debian GNU/Linux 12 (64-bit)', importable: true });
    expect(row!['disk']).toEqual([
      { id: 'vda', capacity: 64 * 2 ** 20, controller: 'virtio', controllerunit: 0, imagepath: `${hosts!.storagePath}/${volumes[0]}`, position: 0 },
      { id: 'vdb', capacity: 32 * 2 ** 20, controller: 'virtio', controllerunit: 1, imagepath: `${hosts!.storagePath}/${volumes[1]}`, position: 1 },
    ]);
    expect((row!['nic'] as { macaddress: string; adaptertype: string }[]).map((n) => [n.macaddress, n.adaptertype])).toEqual([[macs[0], 'e1000'], [macs[1], 'e1000']]);

    const diskOffering = (z.t.engine.db.prepare('SELECT uuid FROM disk_offerings LIMIT 1').get() as { uuid: string }).uuid;
    const before = inactiveXml();
    const job = await z.t.run('importUnmanagedInstance', {
      clusterid: z.clusterid, name, serviceofferingid: z.tiny,
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network, 'nicnetworklist[1].nic': 'nic1', 'nicnetworklist[1].network': z.network,
      'datadiskofferinglist[0].disk': 'vdb', 'datadiskofferinglist[0].diskOffering': diskOffering,
    });
    expect(job['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', templatename: 'kiln-import-default' } });
    const vm = (job['jobresult'] as { virtualmachine: { id: string; nic: { macaddress: string }[]; consolenote: string } }).virtualmachine;
    expect(vm.nic.map((n) => n.macaddress)).toEqual(macs);
    expect(vm.consolenote).toContain('stopped and started through Kiln');
    expect(await unmanaged()).toEqual([]);

    expect((await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobstatus']).toBe(1);
    expect(virsh('domstate', name).trim()).toBe('shut off');
    const started = await z.t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect(virsh('domstate', name).trim()).toBe('running');
    // Disks, NICs (MACs, e1000), controllers and the libosinfo metadata are the domain's own.
    expect(inactiveXml()).toBe(before);
  }, 180_000);

  it('unmanage leaves the domain running and listed as unmanaged; it can be imported again', async () => {
    const id = (z.t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE internal_name=? AND removed IS NULL`).get(name) as { uuid: string }).uuid;
    const before = inactiveXml();
    const job = await z.t.run('unmanageVirtualMachine', { id });
    expect(job['jobstatus']).toBe(1);
    expect(virsh('domstate', name).trim()).toBe('running');
    expect(inactiveXml()).toBe(before);
    const [row] = await unmanaged();
    expect(row).toMatchObject({ name, powerstate: 'PowerOn', importable: true });
    const again = await z.t.run('importUnmanagedInstance', {
      clusterid: z.clusterid, name, serviceofferingid: z.tiny,
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network, 'nicnetworklist[1].nic': 'nic1', 'nicnetworklist[1].network': z.network,
      'datadiskofferinglist[0].disk': 'vdb', 'datadiskofferinglist[0].diskOffering': (z.t.engine.db.prepare('SELECT uuid FROM disk_offerings LIMIT 1').get() as { uuid: string }).uuid,
    });
    expect(again['jobresult']).toMatchObject({ virtualmachine: { state: 'Running' } });
  }, 120_000);

  it("unmanage of a Kiln-made HA VM drops Kiln's metadata (the isolation watchdog's HA flag) and nothing else; the domain keeps running", async () => {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, name: 'ha-leaver' });
    const vm = (job['jobresult'] as { virtualmachine: { id: string; instancename: string } }).virtualmachine;
    kilnMade.push(vm.instancename);
    expect(virsh('metadata', '--domain', vm.instancename, '--uri', KILN_NS)).toContain('highAvailability>true<');
    const devices = () => [virsh('domblklist', vm.instancename), virsh('domiflist', vm.instancename)].join('\n');
    const before = devices();
    expect((await z.t.run('unmanageVirtualMachine', { id: vm.id }))['jobstatus']).toBe(1);
    expect(virsh('domstate', vm.instancename).trim()).toBe('running');
    expect(devices()).toBe(before);
    expect(onHost('host1', 'sh', '-c', `virsh metadata --domain ${vm.instancename} --uri ${KILN_NS} --config >/dev/null 2>&1 && echo present || echo gone`).trim()).toBe('gone');
    expect(await unmanagedNamed(vm.instancename)).toMatchObject([{ name: vm.instancename, powerstate: 'PowerOn' }]);
  }, 120_000);

  it('importVm from a qcow2 in the pool (importsource=shared): named by its volume, never a path; the VM boots from it', async () => {
    virsh('vol-create-as', hosts!.poolName, volumes[2]!, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    const base = { zoneid: z.zoneid, importsource: 'shared', hostid: z.hostIds['host1']!, serviceofferingid: z.tiny, networkid: z.network, templateid: z.templateid, name: 'from-disk' };
    const before = dbFingerprint(z.t.engine);
    for (const [diskpath, text] of [
      ['/etc/passwd', 'diskpath: "/etc/passwd" is not a volume name'],
      ['../storage/x.qcow2', 'is not a volume name'],
      [`${name}-none.qcow2`, `diskpath: host ${hosts!.hosts[0]!.address} has no volume ${name}-none.qcow2`],
      [volumes[0]!, `diskpath: ${volumes[0]} is already Kiln's volume`],
    ]) {
      const res = await z.t.call('importVm', { ...base, diskpath: diskpath! });
      expect(res.status, diskpath).toBe(431);
      expect(String(res.body['errortext'])).toContain(text);
    }
    expect((await z.t.call('importVm', { ...base, importsource: 'external', diskpath: volumes[2]! })).status).toBe(431);
    expect(dbFingerprint(z.t.engine)).toBe(before);
    const job = await z.t.run('importVm', { ...base, diskpath: volumes[2]! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { instancename: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    expect(virsh('domblklist', vm.instancename)).toContain(`${hosts!.storagePath}/${volumes[2]}`);
  }, 120_000);
});

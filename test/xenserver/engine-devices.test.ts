/**
 * A running XenServer VM's devices through the engine's API, against two xapi simulator pools:
 * pool A's default SR is NFS (xapi-project/sm's NFSSR: VDI_RESIZE, no VDI_RESIZE_ONLINE), pool B's
 * is Ceph RBD (VDI_RESIZE_ONLINE) with an ISO library.
 *
 * resizeVolume: on a running VM of pool A it is refused before any job (listHosts says
 * liveVolumeResize false), and works once the VM is stopped (VDI.resize); on pool B it resizes
 * the plugged disk with VDI.resize_online while the VM runs; a shrink needs shrinkok as on the
 * other drivers.
 *
 * addNicToVirtualMachine / removeNicFromVirtualMachine: a running VM gets a VIF on the pool network
 * of the Kiln network's name (VIF.create + VIF.plug) and loses it (VIF.unplug + VIF.destroy); a
 * guest without PV drivers is refused by xapi, and no VIF and no NIC row are left behind; a
 * stopped VM's VIF is made unplugged and plugged at its start; refusals are 431 naming the parameter.
 *
 * attachIso / detachIso: a Kiln ISO goes into pool B's ISO library (VDI.create on the ISO SR with
 * sm_config path, as xapi's ISOSR makes a file of it, then PUT /import_raw_vdi), and from there into
 * the running VM's CD drive (VBD.insert) and out (VBD.eject); pool A has no library, so its copy is
 * a VDI on the default SR.
 *
 * migrateVirtualMachine storageid=<an SR of the other pool> moves a Stopped VM there cold
 * (host.migrate_receive there, VM.migrate_send of the halted VM here): it stays Stopped, gone from
 * pool A, its disks on pool B's SR, and its next start is in pool B.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-devices';
const GiB = 2 ** 30;
type Rec = Record<string, unknown>;
/** A small ISO 9660 image (the volume descriptor's CD001 at 32769). */
const ISO = (() => {
  const iso = Buffer.alloc(64 * 1024);
  iso.write('CD001', 32769, 'latin1');
  return iso;
})();

describe('a running XenServer VM\'s devices through the engine (xapi simulator)', () => {
  let a: XapiSim;
  let b: XapiSim;
  let xa: Session;
  let xb: Session;
  let t: TestEngine;
  let files: Server;
  const ids: Record<string, string> = {};
  const deploy = async (name: string, host: string) => ((await t.job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids[host]!, name }))['virtualmachine'] as { id: string }).id;
  const dataDisk = async (vm: string, gb: number) => ((await t.job('createVolume', { virtualmachineid: vm, diskofferingid: ids['custom']!, size: String(gb), name: `${vm.slice(0, 8)}-data` }))['volume'] as { id: string }).id;
  /** The VDI behind a Kiln volume (its ref in Kiln's record). */
  const vdiOf = (volume: string) => t.engine.db.prepare('SELECT ref FROM volumes WHERE uuid=?').pluck().get(volume) as string;
  const capabilities = async (host: string) => (((await t.ok('listHosts', { id: ids[host]! }))['host'] as { capabilities: Rec }[])[0]!).capabilities;

  beforeAll(async () => {
    a = await XapiSim.start({ hosts: [{ name: 'nfs-host' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    b = await XapiSim.start({ hosts: [{ name: 'ceph-host' }], sharedSrType: 'rbd', isoLibrary: true, vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    xa = await Session.login(a.url, a.username, a.password);
    xb = await Session.login(b.url, b.username, b.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    ids['zone'] = ((await t.ok('createZone', { name: 'Devices' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'NFS pool', hypervisor: 'XenServer', url: a.url, username: a.username, password: a.password });
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Ceph pool', hypervisor: 'XenServer', url: b.url, username: b.username, password: b.password });
    ids['network'] = ((await t.ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    ids['backend'] = ((await t.ok('createNetwork', { name: 'Backend', zoneid: ids['zone'], guestiptype: 'Shared', vlan: '120', gateway: '10.20.0.1', netmask: '255.255.255.0', startip: '10.20.0.10', endip: '10.20.0.20' }))['network'] as { id: string }).id;
    await b.control('add-network', { name: 'Backend', bridge: 'xapi1' });
    await t.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await t.ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await t.ok('registerTemplate', { name: 'devices', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(GiB) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await t.ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
    ids['custom'] = ((await t.ok('listDiskOfferings'))['diskoffering'] as { id: string; iscustomized: boolean }[]).find((o) => o.iscustomized)!.id;
    for (const h of ['nfs-host', 'ceph-host']) ids[h] = (((await t.ok('listHosts', { name: h }))['host'] as { id: string }[])[0]!).id;
    files = createServer((req, res) => void (req.url === '/tools.iso' ? res.writeHead(200, { 'Content-Length': ISO.length }).end(ISO) : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const iso = (await t.ok('registerIso', { name: 'xen-tools', displaytext: 'tools', url: `http://127.0.0.1:${(files.address() as AddressInfo).port}/tools.iso`, zoneid: ids['zone'], ostypeid }))['iso'];
    ids['iso'] = ((Array.isArray(iso) ? iso[0] : iso) as { id: string }).id;
    for (let i = 0; i < 300 && ((await t.ok('listIsos', { id: ids['iso'], isofilter: 'all' }))['iso'] as { isready: boolean }[])[0]!.isready !== true; i++) await new Promise((r) => setTimeout(r, 50));
  }, 90_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await a?.stop();
    await b?.stop();
    files?.close();
  });

  describe('resizeVolume', () => {
    it('NFS pool: a running VM\'s disk is refused before any job (liveVolumeResize false); stopped, VDI.resize grows it', async () => {
      expect(await capabilities('nfs-host')).toMatchObject({ liveVolumeResize: false, volumes: true });
      const vm = await deploy('nfs-resize', 'nfs-host');
      const volume = await dataDisk(vm, 2);
      const jobsBefore = t.engine.db.prepare('SELECT COUNT(*) FROM async_jobs').pluck().get();
      const refused = await t.call('resizeVolume', { id: volume, size: '3' });
      expect(refused.status).toBe(431);
      expect(String(refused.body['errortext'])).toMatch(/^id: the hypervisor of host nfs-host cannot resize a disk of running VM nfs-resize .*stop the VM first$/);
      expect(t.engine.db.prepare('SELECT COUNT(*) FROM async_jobs').pluck().get()).toBe(jobsBefore);
      expect(((await t.ok('listVolumes', { id: volume }))['volume'] as Rec[])[0]).toMatchObject({ state: 'Ready', size: 2 * GiB });
      expect(await xa.call('VDI.get_virtual_size', vdiOf(volume))).toBe(2 * GiB);

      await t.job('stopVirtualMachine', { id: vm });
      await a.control('calls', { reset: true });
      const resized = (await t.job('resizeVolume', { id: volume, size: '3' }))['volume'] as Rec;
      expect(resized).toMatchObject({ size: 3 * GiB, state: 'Ready' });
      expect(await xa.call('VDI.get_virtual_size', vdiOf(volume))).toBe(3 * GiB);
      const calls = await a.control<string[]>('calls');
      expect(calls).toContain('VDI.resize');
      expect(calls).not.toContain('VDI.resize_online');
    }, 60_000);

    it('Ceph pool: a running VM\'s plugged disk grows live with VDI.resize_online; a shrink needs shrinkok, and xapi grows only', async () => {
      expect(await capabilities('ceph-host')).toMatchObject({ liveVolumeResize: true });
      const vm = await deploy('ceph-resize', 'ceph-host');
      const volume = await dataDisk(vm, 2);
      const vdi = vdiOf(volume);
      const vbd = (await xb.call<string[]>('VDI.get_VBDs', vdi))[0]!;
      expect(await xb.call('VBD.get_currently_attached', vbd)).toBe(true);
      await b.control('calls', { reset: true });
      const resized = (await t.job('resizeVolume', { id: volume, size: '5' }))['volume'] as Rec;
      expect(resized).toMatchObject({ size: 5 * GiB, state: 'Ready' });
      expect(await xb.call('VDI.get_virtual_size', vdi)).toBe(5 * GiB);
      expect(await xb.call('VM.get_power_state', (await xb.call<string>('VBD.get_VM', vbd)))).toBe('Running');
      const calls = await b.control<string[]>('calls');
      expect(calls).toContain('VDI.resize_online');
      expect(calls).not.toContain('VDI.resize');

      const shrink = await t.call('resizeVolume', { id: volume, size: '4' });
      expect(shrink.status).toBe(431);
      expect(String(shrink.body['errortext'])).toMatch(/^size: 4 GiB is smaller than volume .* give shrinkok=true to allow it$/);
      const asked = await t.run('resizeVolume', { id: volume, size: '4', shrinkok: 'true' });
      expect(asked['jobstatus']).toBe(2);
      expect(JSON.stringify(asked['jobresult'])).toMatch(/grows disks only/);
      expect(((await t.ok('listVolumes', { id: volume }))['volume'] as Rec[])[0]).toMatchObject({ state: 'Ready', size: 5 * GiB });
      expect(await xb.call('VDI.get_virtual_size', vdi)).toBe(5 * GiB);
    }, 60_000);
  });

  describe('NICs of a running VM', () => {
    interface Nic { id: string; networkname: string; macaddress: string; ipaddress?: string; isdefault: boolean; deviceid: string }
    const nicsOf = async (vm: string) => ((((await t.ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { nic?: Nic[] }[])[0]!.nic) ?? []);
    /** The VM's VIFs in pool B: MAC, device, network name, plugged. */
    const vifsOf = async (vm: string) => {
      const [ref] = Object.entries(await xb.call<Record<string, Rec>>('VM.get_all_records')).find(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === vm)!;
      const vifs = await Promise.all((await xb.call<string[]>('VM.get_VIFs', ref)).map((v) => xb.call<Rec>('VIF.get_record', v)));
      return Promise.all(vifs.map(async (v) => ({ mac: v['MAC'], device: v['device'], network: await xb.call('network.get_name_label', v['network']), plugged: v['currently_attached'] })));
    };
    let vm = '';

    it('addNicToVirtualMachine hot-plugs a VIF on the pool network of the same name; removeNicFromVirtualMachine unplugs and destroys it', async () => {
      vm = await deploy('nic-hot', 'ceph-host');
      expect(await capabilities('ceph-host')).toMatchObject({ nics: true });
      expect(await nicsOf(vm)).toHaveLength(1);
      const added = (await t.job('addNicToVirtualMachine', { virtualmachineid: vm, networkid: ids['backend']!, ipaddress: '10.20.0.15' }))['virtualmachine'] as { nic: Nic[]; state: string };
      expect(added.state).toBe('Running');
      const nic = added.nic.find((n) => n.networkname === 'Backend')!;
      expect(nic).toMatchObject({ ipaddress: '10.20.0.15', isdefault: false, deviceid: '1' });
      expect(await vifsOf(vm)).toContainEqual({ mac: nic.macaddress, device: '1', network: 'Backend', plugged: true });
      expect(JSON.stringify((await t.ok('listEvents', { type: 'NIC.CREATE' }))['event'])).toContain(`NIC ${nic.macaddress} on network Backend added to VM nic-hot, live`);

      const removed = (await t.job('removeNicFromVirtualMachine', { virtualmachineid: vm, nicid: nic.id }))['virtualmachine'] as { nic: Nic[] };
      expect(removed.nic.map((n) => n.networkname)).toEqual(['Net']);
      expect((await vifsOf(vm)).map((v) => v.mac)).not.toContain(nic.macaddress);
      expect(await vifsOf(vm)).toHaveLength(1);
    }, 60_000);

    it('refusals are 431 naming the parameter, before any job', async () => {
      const [primary] = await nicsOf(vm);
      const cases: [Record<string, string>, RegExp][] = [
        [{ networkid: ids['network']! }, /^networkid: VM nic-hot already has a NIC on network Net$/],
        [{ networkid: ids['backend']!, macaddress: 'zz:00:00:00:00:01' }, /^macaddress: "zz:00:00:00:00:01" is not a MAC address/],
        [{ networkid: ids['backend']!, macaddress: primary!.macaddress }, /^macaddress: .* is used by another NIC$/],
        [{ networkid: ids['backend']!, ipaddress: '10.20.0.99' }, /^ipaddress: 10.20.0.99 is outside network Backend's range 10.20.0.10-10.20.0.20$/],
      ];
      for (const [params, text] of cases) {
        const res = await t.call('addNicToVirtualMachine', { virtualmachineid: vm, ...params });
        expect([res.status, String(res.body['errortext'])], JSON.stringify(params)).toEqual([431, expect.stringMatching(text)]);
      }
      const dflt = await t.call('removeNicFromVirtualMachine', { virtualmachineid: vm, nicid: primary!.id });
      expect([dflt.status, String(dflt.body['errortext'])]).toEqual([431, expect.stringMatching(/^nicid: NIC .* is the default NIC of VM nic-hot; it cannot be removed$/)]);
      expect(await vifsOf(vm)).toHaveLength(1);
    });

    it('a guest without PV drivers: xapi refuses the plug, the job fails, and neither a VIF nor a NIC is left; the VM stays Running', async () => {
      const [[ref]] = Object.entries(await xb.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === vm);
      await b.control('vm-tools', { vm: ref, tools: false });
      const failed = await t.run('addNicToVirtualMachine', { virtualmachineid: vm, networkid: ids['backend']! });
      expect(failed['jobstatus']).toBe(2);
      expect(JSON.stringify(failed['jobresult'])).toContain('VM_MISSING_PV_DRIVERS');
      expect(await vifsOf(vm)).toHaveLength(1);
      expect((await nicsOf(vm)).map((n) => n.networkname)).toEqual(['Net']);
      expect(((await t.ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
      await b.control('vm-tools', { vm: ref, tools: true });
    }, 30_000);

    it('a stopped VM: the VIF is made unplugged in its definition and plugged when it starts', async () => {
      await t.job('stopVirtualMachine', { id: vm });
      const added = (await t.job('addNicToVirtualMachine', { virtualmachineid: vm, networkid: ids['backend']! }))['virtualmachine'] as { nic: Nic[] };
      const nic = added.nic.find((n) => n.networkname === 'Backend')!;
      expect(await vifsOf(vm)).toContainEqual({ mac: nic.macaddress, device: '1', network: 'Backend', plugged: false });
      await t.job('startVirtualMachine', { id: vm });
      expect(await vifsOf(vm)).toContainEqual({ mac: nic.macaddress, device: '1', network: 'Backend', plugged: true });
      expect(await vifsOf(vm)).toHaveLength(2);
    }, 60_000);
  });

  describe('ISOs', () => {
    /** The VM's CD drive in a pool: its VDI's SR name and location, or empty. */
    const cdOf = async (x: Session, vm: string) => {
      const [ref] = Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).find(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === vm)!;
      const vbds = await Promise.all((await x.call<string[]>('VM.get_VBDs', ref)).map((b) => x.call<Rec>('VBD.get_record', b)));
      const cd = vbds.find((b) => b['type'] === 'CD');
      if (!cd || cd['empty'] === true) return { empty: true };
      const vdi = await x.call<Rec>('VDI.get_record', cd['VDI']);
      return { empty: false, mode: cd['mode'], sr: await x.call('SR.get_name_label', vdi['SR']), location: vdi['location'], name: vdi['name_label'] };
    };
    const imageName = () => t.engine.db.prepare('SELECT image_path FROM templates WHERE uuid=?').pluck().get(ids['iso']) as string;

    it('pool B: the ISO becomes a file of the ISO library (ISOSR, sm_config path), goes into the running VM\'s CD drive and out again', async () => {
      const vm = await deploy('iso-lib', 'ceph-host');
      const attached = (await t.job('attachIso', { id: ids['iso']!, virtualmachineid: vm }))['virtualmachine'] as { isoid?: string; state: string };
      expect(attached).toMatchObject({ isoid: ids['iso'], state: 'Running' });
      expect(imageName()).toMatch(/^kiln-iso-[0-9a-f-]{36}\.iso$/);
      expect(await cdOf(xb, vm)).toEqual({ empty: false, mode: 'RO', sr: 'ISO library', location: imageName(), name: imageName() });
      const detached = (await t.job('detachIso', { virtualmachineid: vm }))['virtualmachine'] as { isoid?: string };
      expect(detached.isoid).toBeUndefined();
      expect(await cdOf(xb, vm)).toEqual({ empty: true });
      // The library keeps the one copy for the next VM.
      const inLibrary = Object.values(await xb.call<Record<string, Rec>>('VDI.get_all_records')).filter((v) => v['name_label'] === imageName());
      expect(inLibrary).toHaveLength(1);
    }, 60_000);

    it('pool A has no ISO library: the ISO is a VDI on its default SR, in the CD drive all the same', async () => {
      const vm = await deploy('iso-plain', 'nfs-host');
      await t.job('attachIso', { id: ids['iso']!, virtualmachineid: vm });
      expect(await cdOf(xa, vm)).toMatchObject({ empty: false, mode: 'RO', sr: 'NFS virtual disk storage', name: imageName() });
    }, 60_000);
  });

  describe('a stopped VM moved to the other pool with its storage', () => {
    const inPool = async (x: Session, uuid: string) => Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === uuid);
    const cephSr = async () => (((await t.ok('listStoragePools', { name: 'Ceph RBD virtual disk storage' }))['storagepool'] as { id: string; clusterid: string }[]) ?? [])[0]!;
    const nfsSr = async () => (((await t.ok('listStoragePools', { name: 'NFS virtual disk storage' }))['storagepool'] as { id: string }[]) ?? [])[0]!;

    it('refuses a running VM, both hostid and storageid, and a pool of its own cluster (431), moving nothing', async () => {
      const vm = await deploy('mover-checks', 'nfs-host');
      const running = await t.call('migrateVirtualMachine', { virtualmachineid: vm, storageid: (await cephSr()).id });
      expect([running.status, String(running.body['errortext'])]).toEqual([431, expect.stringMatching(/^storageid: VM mover-checks is Running; only a Stopped VM moves with its storage/)]);
      await t.job('stopVirtualMachine', { id: vm });
      const both = await t.call('migrateVirtualMachine', { virtualmachineid: vm, storageid: (await cephSr()).id, hostid: ids['ceph-host']! });
      expect([both.status, String(both.body['errortext'])]).toEqual([431, expect.stringMatching(/^hostid: give hostid or storageid, not both/)]);
      const own = await t.call('migrateVirtualMachine', { virtualmachineid: vm, storageid: (await nfsSr()).id });
      expect([own.status, String(own.body['errortext'])]).toEqual([431, expect.stringMatching(/^storageid: storage pool NFS virtual disk storage is in the cluster VM mover-checks is in already/)]);
      expect(await inPool(xa, vm)).toHaveLength(1);
    }, 60_000);

    it('moves the halted VM with its disks to pool B: Stopped, gone from A, disks on the Ceph SR, its next start in pool B', async () => {
      const vm = await deploy('mover-cold', 'nfs-host');
      await dataDisk(vm, 1);
      await t.job('stopVirtualMachine', { id: vm });
      const pool = await cephSr();
      const moved = (await t.job('migrateVirtualMachine', { virtualmachineid: vm, storageid: pool.id }))['virtualmachine'] as Rec;
      expect(moved['state']).toBe('Stopped');
      expect(await inPool(xa, vm)).toEqual([]);
      const [[ref, there]] = await inPool(xb, vm);
      expect(there!['power_state']).toBe('Halted');
      const vbds = await Promise.all((there!['VBDs'] as string[]).map((b) => xb.call<Rec>('VBD.get_record', b)));
      const srs = await Promise.all(vbds.filter((b) => b['type'] === 'Disk').map(async (b) => xb.call('SR.get_name_label', await xb.call<string>('VDI.get_SR', b['VDI']))));
      expect(srs).toEqual(['Ceph RBD virtual disk storage', 'Ceph RBD virtual disk storage']);
      const row = t.engine.db.prepare('SELECT v.ref, c.name AS cluster, h.name AS host FROM vm_instances v JOIN clusters c ON c.id=v.cluster_id JOIN hosts h ON h.id=v.last_host_id WHERE v.uuid=?').get(vm) as Rec;
      expect(row).toEqual({ ref, cluster: 'Ceph pool', host: 'ceph-host' });
      const pools = t.engine.db.prepare('SELECT o.pool FROM volumes o JOIN vm_instances v ON v.id=o.vm_id WHERE v.uuid=? AND o.removed IS NULL').pluck().all(vm);
      expect(pools).toEqual(['Ceph RBD virtual disk storage', 'Ceph RBD virtual disk storage']);
      const started = (await t.job('startVirtualMachine', { id: vm }))['virtualmachine'] as Rec;
      expect(started).toMatchObject({ state: 'Running', hostname: 'ceph-host' });
      expect((await inPool(xb, vm))[0]![1]['power_state']).toBe('Running');
    }, 60_000);
  });
});

/**
 * Kiln templates, data disks, NICs and ISOs on a XenServer pool, with Debian's `cloudstack`
 * client against a real `kiln serve` and the xapi simulator, each step read back from the pool
 * over a separate xapi session:
 *
 * - a VHD template Kiln downloaded is imported into the pool once (one image VDI, its digest in
 *   other_config, one PUT /import_raw_vdi), and two VMs deployed on the two hosts boot from their
 *   own VDI.copy of it (device 0, the image's bytes, named as Kiln named the root volume);
 * - a VM with two networks gets two VIFs, device 0 and 1, with Kiln's MACs, on the pool networks;
 * - createVolume + attachVolume on the running VM: a VBD plugged at once (device > 0, not the
 *   CD's 3); detachVolume: the VBD goes and the VDI stays; attached again it is the same VDI;
 * - attachIso: the ISO's VDI (imported once, its bytes) in a read-only CD drive; detachIso ejects it.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

type Rec = Record<string, unknown>;
const MiB = 2 ** 20;
const NULL = 'OpaqueRef:NULL';

/** A dynamic VHD as xapi reads it: the footer copy ("conectix", current size at 48), 1 MiB of data, the footer. */
const VIRTUAL_SIZE = 64 * MiB;
const VHD = (() => {
  const footer = Buffer.alloc(512);
  footer.write('conectix', 0, 'latin1');
  footer.writeBigUInt64BE(BigInt(VIRTUAL_SIZE), 40);
  footer.writeBigUInt64BE(BigInt(VIRTUAL_SIZE), 48);
  return Buffer.concat([footer, Buffer.alloc(MiB, 'kiln-xen-template;'), footer]);
})();
const ISO = (() => {
  const iso = Buffer.alloc(64 * 1024);
  iso[32768] = 1;
  iso.write('CD001', 32769, 'latin1');
  iso.write('kiln-xen-iso', 40000, 'latin1');
  return iso;
})();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('cloudstack: Kiln templates, data disks, NICs and ISOs on XenServer (kiln serve, xapi simulator)', () => {
  let sim: XapiSim;
  let kiln: KilnProcess;
  let files: Server;
  let xapi: Session;
  const ids: Record<string, string> = {};
  const vms: Record<string, { id: string; hostid: string; nic: { macaddress: string; networkid: string }[] }> = {};
  const cs = csClient(() => kiln);
  const ok = async (command: string, params: Record<string, string> = {}): Promise<Rec> => {
    const r = await cs([command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)]);
    if (r.code !== 0) throw new Error(`${command}: ${JSON.stringify(r.json)} ${r.stderr}`);
    return r.json;
  };
  /** The pool's records of a class. */
  const all = async (cls: string) => xapi.call<Record<string, Rec>>(`${cls}.get_all_records`);
  const vmOf = async (uuid: string) => Object.entries(await all('VM')).find(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === uuid)!;
  const vbdsOf = async (uuid: string) => {
    const [, v] = await vmOf(uuid);
    const vbds = await all('VBD');
    return (v['VBDs'] as string[]).map((r): Rec => ({ ref: r, ...vbds[r]! })).sort((a, b) => Number(a['userdevice']) - Number(b['userdevice']));
  };
  /** The digest of what a VDI holds (the simulator keeps it hidden, as the bytes themselves). */
  const digestOf = async (vdi: string) => ((await sim.control<{ hidden: Rec }>('record', { ref: vdi })).hidden['sha256']);
  const imageVdis = async () => Object.entries(await all('VDI')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_image_sha256'] !== undefined);
  const waitReady = async (list: 'listTemplates' | 'listIsos', id: string) => {
    for (let i = 0; i < 300; i++) {
      const key = list === 'listTemplates' ? 'template' : 'iso';
      const row = ((await ok(list, { id, [`${key}filter`]: 'all' }))[key] as Rec[])[0]!;
      if (row['isready'] === true) return;
      if (String(row['status']).startsWith('Download Failed')) throw new Error(String(row['status']));
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${id} never became ready`);
  };

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 2, eventTimeoutClampS: 1, taskDelayMs: 2 });
    xapi = await Session.login(sim.url, sim.username, sim.password);
    files = createServer((req, res) => {
      const body = req.url === '/disk.vhd' ? VHD : req.url === '/tools.iso' ? ISO : undefined;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    await sim.control('add-network', { name: 'Storage net', bridge: 'xapi1' });
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await ok('createZone', { name: 'Xen zone' }))['zone'] as Rec)['id'] as string;
    ids['pod'] = ((await ok('createPod', { name: 'Xen pod', zoneid: ids['zone'] }))['pod'] as Rec)['id'] as string;
    await ok('addCluster', { zoneid: ids['zone'], podid: ids['pod'], clustername: 'pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    ids['guestnet'] = ((await ok('createNetwork', { name: 'Guest net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as Rec)['id'] as string;
    ids['storagenet'] = ((await ok('createNetwork', { name: 'Storage net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as Rec)['id'] as string;
    ids['os'] = ((await ok('listOsTypes'))['ostype'] as Rec[])[0]!['id'] as string;
    ids['template'] = ((await ok('registerTemplate', { name: 'xen-vhd', displaytext: 'VHD', format: 'VHD', hypervisor: 'XenServer', ostypeid: ids['os'], zoneid: ids['zone'], url: `${base}/disk.vhd`, checksum: `{SHA-256}${sha(VHD)}` }))['template'] as Rec[])[0]!['id'] as string;
    const iso = (await ok('registerIso', { name: 'xen-tools', displaytext: 'tools', url: `${base}/tools.iso`, zoneid: ids['zone'], ostypeid: ids['os'] }))['iso'];
    ids['iso'] = (Array.isArray(iso) ? (iso[0] as Rec) : (iso as Rec))['id'] as string;
    await waitReady('listTemplates', ids['template']);
    await waitReady('listIsos', ids['iso']);
    ids['small'] = ((await ok('listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as Rec[])[0]!['id'] as string;
    ids['disk'] = ((await ok('listDiskOfferings', { name: 'Small' }))['diskoffering'] as Rec[])[0]!['id'] as string;
    ids['hosts'] = JSON.stringify(((await ok('listHosts', { zoneid: ids['zone'] }))['host'] as Rec[]).map((h) => h['id']));
  }, 90_000);
  afterAll(async () => {
    for (const vm of Object.values(vms)) await cs(['destroyVirtualMachine', `id=${vm.id}`, 'expunge=true']).catch(() => undefined);
    await kiln?.stop();
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    await new Promise((r) => (files ? files.close(() => r(undefined)) : r(undefined)));
    await sim?.stop();
  });

  it('deploys from a Kiln VHD template on both hosts: one image VDI in the pool, each VM boots its own copy of it', async () => {
    const hosts = JSON.parse(ids['hosts']!) as string[];
    expect(hosts).toHaveLength(2);
    await sim.control('calls', { reset: true });
    for (const [i, name] of ['xen-img-1', 'xen-img-2'].entries()) {
      const res = await ok('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: `${ids['guestnet']},${ids['storagenet']}`, hostid: hosts[i]!, name });
      const vm = res['virtualmachine'] as Rec;
      expect(vm).toMatchObject({ state: 'Running', hostid: hosts[i] });
      vms[name] = vm as unknown as (typeof vms)[string];
    }
    // The image is in the pool once: complete (its digest), on the pool's default (shared) SR.
    const images = await imageVdis();
    expect(images.map(([, v]) => (v['other_config'] as Record<string, string>)['kiln_image_sha256'])).toEqual([sha(VHD)]);
    const [imageRef, image] = images[0]!;
    const pool = Object.values(await all('pool'))[0]!;
    expect(image).toMatchObject({ SR: pool['default_SR'], virtual_size: VIRTUAL_SIZE, VBDs: [] });
    expect(await digestOf(imageRef)).toBe(sha(VHD));
    const calls = await sim.control<string[]>('calls');
    expect(calls.filter((c) => c === 'VDI.create')).toHaveLength(1);
    expect(calls.filter((c) => c === 'Async.VDI.copy')).toHaveLength(2);
    // Each VM's device 0 is its own copy of the image, named as Kiln named the root volume.
    const roots: string[] = [];
    for (const name of ['xen-img-1', 'xen-img-2']) {
      const root = (await vbdsOf(vms[name]!.id)).find((b) => b['userdevice'] === '0')!;
      expect(root).toMatchObject({ type: 'Disk', bootable: true, mode: 'RW', currently_attached: true });
      expect(root['VDI']).not.toBe(imageRef);
      expect(await digestOf(root['VDI'] as string)).toBe(sha(VHD));
      const volume = ((await ok('listVolumes', { virtualmachineid: vms[name]!.id, type: 'ROOT' }))['volume'] as Rec[])[0]!;
      const vdi = (await all('VDI'))[root['VDI'] as string]!;
      // Kiln's volume name: <volume uuid>.vhd (XenServer's disk format).
      expect(vdi['name_label']).toBe(`${String(volume['id'])}.vhd`);
      expect((vdi['other_config'] as Record<string, string>)['kiln_image_sha256']).toBeUndefined();
      roots.push(root['VDI'] as string);
    }
    expect(new Set(roots).size).toBe(2);
  });

  it('a VM with two networks has two VIFs in NIC order, with Kiln\'s MACs, on the pool networks', async () => {
    const vm = vms['xen-img-1']!;
    const [, v] = await vmOf(vm.id);
    const vifs = await all('VIF');
    const networks = await all('network');
    const mine = (v['VIFs'] as string[]).map((r) => vifs[r]!).sort((a, b) => Number(a['device']) - Number(b['device']));
    const listed = ((await ok('listVirtualMachines', { id: vm.id }))['virtualmachine'] as Rec[])[0]!['nic'] as { macaddress: string; networkid: string }[];
    const macOf = (net: string) => listed.find((n) => n.networkid === net)!.macaddress;
    expect(mine.map((x) => [x['device'], x['MAC'], networks[x['network'] as string]!['name_label']])).toEqual([
      // "Guest net" has no pool network of its name: the pool's automatic network carries it.
      ['0', macOf(ids['guestnet']!), 'Pool-wide network associated with eth0'],
      ['1', macOf(ids['storagenet']!), 'Storage net'],
    ]);
    expect(mine.every((x) => x['currently_attached'] === true)).toBe(true);
  });

  it('attachVolume plugs a new data disk into the running VM; detachVolume takes the VBD out and keeps the VDI; attached again it is the same disk', async () => {
    const vm = vms['xen-img-1']!;
    const volume = (await ok('createVolume', { name: 'xen-data', diskofferingid: ids['disk']!, zoneid: ids['zone']! }))['volume'] as Rec;
    const attached = (await ok('attachVolume', { id: volume['id'] as string, virtualmachineid: vm.id }))['volume'] as Rec;
    expect(attached).toMatchObject({ virtualmachineid: vm.id, type: 'DATADISK', state: 'Ready' });
    const data = (await vbdsOf(vm.id)).filter((b) => b['type'] === 'Disk' && b['userdevice'] !== '0');
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ currently_attached: true, mode: 'RW', bootable: false });
    expect(data[0]!['userdevice']).not.toBe('3');
    const vdiRef = data[0]!['VDI'] as string;
    const vdi = (await all('VDI'))[vdiRef]!;
    expect(vdi).toMatchObject({ virtual_size: Number(attached['size']) });
    expect(vdi['name_label']).toBe(`${String(volume['id'])}.vhd`);

    const detached = (await ok('detachVolume', { id: volume['id'] as string }))['volume'] as Rec;
    expect(detached['virtualmachineid']).toBeUndefined();
    expect((await vbdsOf(vm.id)).filter((b) => b['type'] === 'Disk').map((b) => b['userdevice'])).toEqual(['0']);
    expect((await all('VDI'))[vdiRef]).toMatchObject({ VBDs: [] });

    await ok('attachVolume', { id: volume['id'] as string, virtualmachineid: vm.id });
    const again = (await vbdsOf(vm.id)).filter((b) => b['type'] === 'Disk' && b['userdevice'] !== '0');
    expect(again.map((b) => [b['VDI'], b['currently_attached']])).toEqual([[vdiRef, true]]);
  });

  it('attachIso puts the ISO\'s VDI (imported once) into a read-only CD drive of the running VM; detachIso ejects it', async () => {
    const vm = vms['xen-img-2']!;
    await ok('attachIso', { id: ids['iso']!, virtualmachineid: vm.id });
    const cd = (await vbdsOf(vm.id)).find((b) => b['type'] === 'CD')!;
    expect(cd).toMatchObject({ userdevice: '3', mode: 'RO', empty: false, currently_attached: true });
    expect(await digestOf(cd['VDI'] as string)).toBe(sha(ISO));
    const isoVdis = (await imageVdis()).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_image_sha256'] === sha(ISO));
    expect(isoVdis.map(([r]) => r)).toEqual([cd['VDI']]);
    const listed = ((await ok('listVirtualMachines', { id: vm.id }))['virtualmachine'] as Rec[])[0]!;
    expect(listed['isoid']).toBe(ids['iso']);

    await ok('detachIso', { virtualmachineid: vm.id });
    const after = (await vbdsOf(vm.id)).find((b) => b['type'] === 'CD')!;
    expect(after).toMatchObject({ empty: true, VDI: NULL });
    expect(((await ok('listVirtualMachines', { id: vm.id }))['virtualmachine'] as Rec[])[0]!['isoid']).toBeUndefined();
  });
});

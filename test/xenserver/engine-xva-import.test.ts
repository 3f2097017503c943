/**
 * importVm importsource=xva through the engine's API against the xapi simulator: XVAs built in
 * the test as `xe vm-export` writes them (test/helpers/xva.ts: ova.xml, 1 MiB chunks with their
 * XXH64 .xxhash files) are registered into the zone's image store (registerTemplate format=XVA,
 * downloaded from a local HTTP server), then imported into the pool with xapi's /import.
 *
 * - Without a network for its NIC, the job fails with importUnmanagedInstance's 431 text, and the
 *   VM stays in the pool: listUnmanagedInstances lists it (disk capacity, NIC), and
 *   importUnmanagedInstance takes it over; it then starts on its host, and a stop and start keep
 *   its disk and VIF (its definition is kept, not rebuilt).
 * - With nicnetworklist by the NIC's device number, one job imports and adopts it.
 * - A corrupt XVA (a chunk changed after its checksum) fails the job with xapi's error, and no VM
 *   and no VDI is left in the pool, no row in Kiln.
 * - An XVA cannot be deployed from (431), and a file that is not one is refused at download.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { strangerHost } from '../helpers/xen-engine.js';
import { buildXva } from '../helpers/xva.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-xva';
const GiB = 2 ** 30;
const MiB = 2 ** 20;
type Rec = Record<string, unknown>;

function disk(tag: string): Buffer {
  const b = Buffer.alloc(3 * MiB);
  b.write(`boot sector of ${tag}`, 0, 'latin1');
  b.fill(0x42, 2 * MiB);
  return b;
}

describe('importVm importsource=xva (engine, xapi simulator)', () => {
  let sim: XapiSim;
  let x: Session;
  let t: TestEngine;
  let files: Server;
  const served = new Map<string, Buffer>();
  const ids: Record<string, string> = {};
  const base = () => `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  const vmsNamed = async (name: string) => x.call<string[]>('VM.get_by_name_label', name);
  const vdiCount = async () => (await x.call<string[]>('VDI.get_all')).length;

  /** registerTemplate format=XVA of BYTES served at /NAME.xva, waited until ready (or failed). */
  async function registerXva(name: string, bytes: Buffer): Promise<Rec> {
    served.set(`/${name}.xva`, bytes);
    const registered = ((await t.ok('registerTemplate', { name, displaytext: name, format: 'XVA', hypervisor: 'XenServer', ostypeid: ids['os']!, url: `${base()}/${name}.xva`, zoneid: ids['zone']! }))['template'] as Rec[])[0]!;
    for (let i = 0; i < 400; i++) {
      const row = ((await t.ok('listTemplates', { id: String(registered['id']), templatefilter: 'all' }))['template'] as Rec[])[0]!;
      if (row['isready'] === true || /Failed|Error/i.test(String(row['status']))) return row;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${name} never became ready`);
  }

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xs-host-1' }, { name: 'xs-host-2' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    x = await Session.login(sim.url, sim.username, sim.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    files = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    ids['zone'] = ((await t.ok('createZone', { name: 'Xva' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    ids['cluster'] = (((await t.ok('listClusters', { name: 'Pool' }))['cluster'] as Rec[])[0]!)['id'] as string;
    ids['network'] = ((await t.ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await t.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    ids['os'] = ((await t.ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await t.ok('registerTemplate', { name: 'os', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid: ids['os'], url: TEMPLATE, size: String(GiB) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await t.ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '512' }))['serviceoffering'] as { id: string }).id;
    ids['host1'] = (((await t.ok('listHosts', { name: 'xs-host-1' }))['host'] as { id: string }[])[0]!).id;
  }, 90_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await sim?.stop();
    files?.close();
  });

  it('an XVA is registered into the image store; deploying from it is refused; a file that is not one fails its download', async () => {
    const { archive } = buildXva({ name: 'probe', disks: [{ name: 'probe', bytes: Buffer.alloc(MiB) }] });
    const ready = await registerXva('probe', archive);
    expect([ready['isready'], ready['format']]).toEqual([true, 'XVA']);
    const deploy = await t.call('deployVirtualMachine', { zoneid: ids['zone']!, templateid: String(ready['id']), serviceofferingid: ids['small']!, networkids: ids['network']! });
    expect([deploy.status, String(deploy.body['errortext'])]).toEqual([431, 'templateid: probe is an exported XenServer VM (XVA); bring it in with importVm importsource=xva']);
    const notXva = await registerXva('not-xva', Buffer.alloc(4096, 1));
    expect([notXva['isready'], String(notXva['status'])]).toEqual([false, expect.stringMatching(/not an XVA \(a tar whose first member is ova.xml\)/)]);
  }, 60_000);

  it('without a network for its NIC the VM stays in the pool unmanaged; listUnmanagedInstances shows it, importUnmanagedInstance takes it over, and it starts, stops and starts with its disk and VIF', async () => {
    const bytes = disk('xva-web');
    // Its NIC is on a pool network Kiln's network is not named after: a kept definition leaves it there.
    await sim.control('add-network', { name: 'Storage LAN', bridge: 'xapi7' });
    const xva = await registerXva('web', buildXva({ name: 'exported-web', vcpus: 1, memoryMiB: 512, os: 'Debian Bookworm 12', disks: [{ name: 'xva-web root', bytes }], nics: [{ network: 'Storage LAN' }] }).archive);
    const job = await t.run('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, hostid: ids['host1']!, name: 'xva-web', serviceofferingid: ids['small']! });
    expect(job['jobstatus']).toBe(2);
    expect(String((job['jobresult'] as Rec)['errortext'])).toMatch(/^nicnetworklist: NIC OpaqueRef:[-0-9a-f]+ of VM xva-web \(no VLAN, on Storage LAN\) matches no L2 or shared network/);
    const [ref] = await vmsNamed('xva-web');
    expect(await x.call('VM.get_power_state', ref)).toBe('Halted');

    const unmanaged = ((await t.ok('listUnmanagedInstances', { clusterid: ids['cluster']!, name: 'xva-web' }))['unmanagedinstance'] as Rec[]) ?? [];
    expect(unmanaged).toHaveLength(1);
    const row = unmanaged[0]!;
    expect([row['name'], row['powerstate'], row['cpunumber'], row['memory'], row['hostid']]).toEqual(['xva-web', 'PowerOff', 1, 512, ids['host1']]);
    expect((row['disk'] as Rec[]).map((d) => [d['capacity'], d['position']])).toEqual([[3 * MiB, 0]]);
    const nic = (row['nic'] as Rec[])[0]!;
    expect([nic['networkname'], nic['adaptertype']]).toEqual(['Storage LAN', 'netfront']);

    const adopted = (await t.job('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'xva-web', serviceofferingid: ids['small']!, templateid: ids['template']!, 'nicnetworklist[0].nic': String(nic['id']), 'nicnetworklist[0].network': ids['network']! }))['virtualmachine'] as Rec;
    expect([adopted['state'], adopted['instancename'] ?? adopted['name']]).toEqual(['Stopped', expect.any(String)]);
    expect(((await t.ok('listUnmanagedInstances', { clusterid: ids['cluster']!, name: 'xva-web' }))['unmanagedinstance'] as Rec[] | undefined) ?? []).toEqual([]);
    const vbdsBefore = await x.call<string[]>('VM.get_VBDs', ref);
    const vifsBefore = await x.call<string[]>('VM.get_VIFs', ref);
    const started = (await t.job('startVirtualMachine', { id: String(adopted['id']) }))['virtualmachine'] as Rec;
    expect([started['state'], started['hostname']]).toEqual(['Running', 'xs-host-1']);
    expect(await x.call('VM.get_power_state', ref)).toBe('Running');
    await t.job('stopVirtualMachine', { id: String(adopted['id']) });
    await t.job('startVirtualMachine', { id: String(adopted['id']) });
    expect([await x.call<string[]>('VM.get_VBDs', ref), await x.call<string[]>('VM.get_VIFs', ref)]).toEqual([vbdsBefore, vifsBefore]);
    expect(await x.call('network.get_name_label', await x.call<string>('VIF.get_network', vifsBefore[0]!))).toBe('Storage LAN');
    const vdi = await x.call<string>('VBD.get_VDI', vbdsBefore[0]!);
    expect(await x.call('VDI.get_name_label', vdi)).toBe('xva-web root');
    expect(((await t.ok('listVolumes', { virtualmachineid: String(adopted['id']) }))['volume'] as Rec[]).map((v) => [v['type'], v['size']])).toEqual([['ROOT', 3 * MiB]]);
  }, 90_000);

  it('with nicnetworklist by device number, one job imports and adopts the VM; it starts', async () => {
    const xva = await registerXva('db', buildXva({ name: 'exported-db', os: 'Debian Bookworm 12', disks: [{ name: 'xva-db root', bytes: disk('xva-db') }], nics: [{ network: 'Pool-wide network associated with eth0' }] }).archive);
    const vm = (await t.job('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, name: 'xva-db', serviceofferingid: ids['small']!, 'nicnetworklist[0].nic': '0', 'nicnetworklist[0].network': ids['network']! }))['virtualmachine'] as Rec;
    expect([vm['state'], vm['ostypeid'], vm['templateid'] === String(xva['id'])]).toEqual(['Stopped', ids['os'], false]);
    const started = (await t.job('startVirtualMachine', { id: String(vm['id']) }))['virtualmachine'] as Rec;
    expect(started['state']).toBe('Running');
    expect(await x.call('VM.get_power_state', (await vmsNamed('xva-db'))[0]!)).toBe('Running');
  }, 60_000);

  it('without serviceofferingid the job only brings the VM into the pool, unmanaged, and answers its listUnmanagedInstances row (under importVm\'s key)', async () => {
    const xva = await registerXva('cache', buildXva({ name: 'exported-cache', disks: [{ name: 'xva-cache root', bytes: disk('xva-cache') }] }).archive);
    const row = (await t.job('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, name: 'xva-cache' }))['virtualmachine'] as Rec;
    expect([row['name'], row['powerstate'], row['importable'], row['hostid']]).toEqual(['xva-cache', 'PowerOff', false, ids['host1']]);
    // Why not, and the parameter that answers it: its OS (none named in the export) maps onto no guest OS, a templateid gives one.
    expect([row['notimportablereason'], row['notimportableparams']]).toEqual([['VM xva-cache: no guest OS in Kiln\'s list matches "unknown"; give templateid to import it'], ['templateid']]);
    expect(((await t.ok('listUnmanagedInstances', { clusterid: ids['cluster']!, name: 'xva-cache' }))['unmanagedinstance'] as Rec[]).map((r) => r['name'])).toEqual(['xva-cache']);
    const otherSource = await t.call('importVm', { zoneid: ids['zone']!, importsource: 'local', name: 'x', hostid: ids['host1']!, diskpath: 'x' });
    expect([otherSource.status, String(otherSource.body['errortext'])]).toEqual([431, 'serviceofferingid: importsource=local needs the VM\'s service offering']);
  }, 60_000);

  it('into a member\'s local SR (storageid): xapi redirects the upload to that host, Kiln follows; the disk is there, listVolumes says local, the VM starts on that host', async () => {
    const local2 = ((await t.ok('listStoragePools', { zoneid: ids['zone']!, name: 'Local storage on xs-host-2' }))['storagepool'] as Rec[])[0]!;
    expect([local2['scope'], local2['hostname']]).toEqual(['HOST', 'xs-host-2']);
    const xva = await registerXva('edge', buildXva({ name: 'exported-edge', os: 'Debian Bookworm 12', disks: [{ name: 'xva-edge root', bytes: disk('xva-edge') }], nics: [{ network: 'Pool-wide network associated with eth0' }] }).archive);
    const vm = (await t.job('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, storageid: String(local2['id']), name: 'xva-edge', serviceofferingid: ids['small']!, 'nicnetworklist[0].nic': '0', 'nicnetworklist[0].network': ids['network']! }))['virtualmachine'] as Rec;
    expect(vm['state']).toBe('Stopped');
    const [ref] = await vmsNamed('xva-edge');
    const host2 = (await x.call<string[]>('host.get_by_name_label', 'xs-host-2'))[0]!;
    expect(await x.call('VM.get_affinity', ref)).toBe(host2);
    const [vbd] = await x.call<string[]>('VM.get_VBDs', ref);
    expect(await x.call('SR.get_name_label', await x.call<string>('VDI.get_SR', await x.call<string>('VBD.get_VDI', vbd!)))).toBe('Local storage on xs-host-2');
    const volumes = ((await t.ok('listVolumes', { virtualmachineid: String(vm['id']) }))['volume'] as Rec[]).map((v) => [v['type'], v['storage'], v['storageid'], v['storagetype']]);
    expect(volumes).toEqual([['ROOT', 'Local storage on xs-host-2', local2['id'], 'local']]);
    const started = (await t.job('startVirtualMachine', { id: String(vm['id']) }))['virtualmachine'] as Rec;
    expect([started['state'], started['hostname']]).toEqual(['Running', 'xs-host-2']);
    expect(await x.call('VM.get_resident_on', ref)).toBe(host2);
    // storageid and hostid must agree: host 1 does not reach host 2's local pool.
    const other = await t.call('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, storageid: String(local2['id']), hostid: ids['host1']!, name: 'xva-edge-2' });
    expect([other.status, String(other.body['errortext'])]).toEqual([431, 'hostid: storage pool Local storage on xs-host-2 is local storage of another host than xs-host-1; leave hostid out, or name that host']);
  }, 60_000);

  it('a redirect to a host outside the pool is refused before a byte goes there: the job fails naming it, and no VM, VDI, task or Kiln row is left', async () => {
    // On the pool's port, at an address that is no host of the pool.
    const stranger = await strangerHost(sim);
    try {
      const { origin } = stranger;
      const xva = await registerXva('stray', buildXva({ name: 'exported-stray', disks: [{ name: 'stray root', bytes: disk('xva-stray') }] }).archive);
      const local2 = ((await t.ok('listStoragePools', { zoneid: ids['zone']!, name: 'Local storage on xs-host-2' }))['storagepool'] as Rec[])[0]!;
      const before = { vdis: await vdiCount(), tasks: (await x.call<string[]>('task.get_all')).length, rows: t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get() };
      await sim.fault('PUT /import', { redirect: origin });
      const job = await t.run('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, storageid: String(local2['id']), name: 'xva-stray' });
      expect(job['jobstatus']).toBe(2);
      const text = String((job['jobresult'] as Rec)['errortext']);
      expect(text).toContain(`xapi redirected the import to ${origin}/import, which Kiln does not follow: it is no host of this pool`);
      expect(text).not.toMatch(/session_id|OpaqueRef/);
      expect(stranger.connections()).toBe(0);
      expect([await vmsNamed('xva-stray'), await vmsNamed('exported-stray')]).toEqual([[], []]);
      expect({ vdis: await vdiCount(), tasks: (await x.call<string[]>('task.get_all')).length, rows: t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get() }).toEqual(before);
    } finally {
      stranger.close();
    }
  }, 60_000);

  it('a corrupt XVA fails the job with xapi\'s checksum error and leaves no VM, no VDI and no Kiln row', async () => {
    const { archive } = buildXva({ name: 'exported-bad', disks: [{ name: 'bad root', bytes: disk('xva-bad') }], nics: [{ network: 'Pool-wide network associated with eth0' }] });
    archive[archive.indexOf(Buffer.from('boot sector of xva-bad', 'latin1'))] ^= 0xff;
    const xva = await registerXva('bad', archive);
    expect(xva['isready']).toBe(true);
    const vdis = await vdiCount();
    const rows = t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get();
    const job = await t.run('importVm', { zoneid: ids['zone']!, importsource: 'xva', templateid: String(xva['id']), clusterid: ids['cluster']!, name: 'xva-bad', serviceofferingid: ids['small']!, 'nicnetworklist[0].nic': '0', 'nicnetworklist[0].network': ids['network']! });
    expect(job['jobstatus']).toBe(2);
    expect(String((job['jobresult'] as Rec)['errortext'])).toMatch(/IMPORT_ERROR.*Block Ref:\d+\/00000000 checksum failed: original = [0-9A-F]{16}; recomputed = [0-9A-F]{16}/);
    expect(await vmsNamed('xva-bad')).toEqual([]);
    expect(await vmsNamed('exported-bad')).toEqual([]);
    expect(await vdiCount()).toBe(vdis);
    expect(t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get()).toBe(rows);
  }, 60_000);
});

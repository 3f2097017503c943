/**
 * XenServer local SRs as host-scoped primary storage, through the engine's API against the xapi
 * simulator (two hosts, each with its "Local storage on <host>" LVM SR: shared=false, one PBD on
 * that host; the pool's NFS SR has a PBD on both).
 *
 * listStoragePools shows each local SR with scope HOST and its host, with capacity and use, beside
 * the shared SR (scope CLUSTER, no host). A data disk whose offering's tag only host 1's local SR
 * carries goes there, and listVolumes names that pool. The VM is then bound to host 1: a live
 * migration or a start on host 2 is refused with the verdict that names the local pool (xapi would
 * say VM_REQUIRES_SR), findHostsForMigration says so for host 2, findStoragePoolsForMigration calls
 * host 2's local SR unsuitable and why, and migrateVolume refuses it. migrateVolume to the NFS SR
 * moves the stopped VM's disk (VDI.copy, the VBD swapped, the old VDI destroyed; Kiln records the
 * new VDI), and the VM then starts on host 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-local';
const GiB = 2 ** 30;
type Rec = Record<string, unknown>;

describe('XenServer local SRs as host-scoped storage pools (engine, xapi simulator)', () => {
  let sim: XapiSim;
  let x: Session;
  let t: TestEngine;
  const ids: Record<string, string> = {};
  let vm = '';
  let volume = '';
  const pools = async () => ((await t.ok('listStoragePools', { zoneid: ids['zone']! }))['storagepool'] as Rec[]) ?? [];
  const poolNamed = async (name: string) => (await pools()).find((p) => p['name'] === name)!;
  const vdiOf = (uuid: string) => t.engine.db.prepare('SELECT ref FROM volumes WHERE uuid=?').pluck().get(uuid) as string;
  const srName = async (vdi: string) => x.call<string>('SR.get_name_label', await x.call<string>('VDI.get_SR', vdi));

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xs-host-1' }, { name: 'xs-host-2' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    x = await Session.login(sim.url, sim.username, sim.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    ids['zone'] = ((await t.ok('createZone', { name: 'Local' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    ids['network'] = ((await t.ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await t.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await t.ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await t.ok('registerTemplate', { name: 'local', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(GiB) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await t.ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
    ids['local'] = ((await t.ok('createDiskOffering', { name: 'on-local', displaytext: 'local disk', disksize: '2', tags: 'local1' }))['diskoffering'] as { id: string }).id;
    for (const h of ['xs-host-1', 'xs-host-2']) ids[h] = (((await t.ok('listHosts', { name: h }))['host'] as { id: string }[])[0]!).id;
  }, 90_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await sim?.stop();
  });

  it('listStoragePools: each host\'s local SR with scope HOST, its host, capacity and use; the NFS SR scope CLUSTER', async () => {
    const all = await pools();
    const view = (p: Rec) => ({ name: p['name'], scope: p['scope'], type: p['type'], hostname: p['hostname'], state: p['state'], disksizetotal: p['disksizetotal'] });
    expect(all.map(view).sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { name: 'Local storage on xs-host-1', scope: 'HOST', type: 'LVM', hostname: 'xs-host-1', state: 'Up', disksizetotal: 500 * GiB },
      { name: 'Local storage on xs-host-2', scope: 'HOST', type: 'LVM', hostname: 'xs-host-2', state: 'Up', disksizetotal: 500 * GiB },
      { name: 'NFS virtual disk storage', scope: 'CLUSTER', type: 'NetworkFilesystem', hostname: undefined, state: 'Up', disksizetotal: 2048 * GiB },
    ]);
    expect((await poolNamed('Local storage on xs-host-1'))['hostid']).toBe(ids['xs-host-1']);
    expect((await poolNamed('Local storage on xs-host-1'))['disksizeused']).toBe(0);
  }, 30_000);

  it('a disk whose offering only host 1\'s local SR suits goes there; listVolumes and the SR\'s use show it', async () => {
    const local1 = await poolNamed('Local storage on xs-host-1');
    await t.ok('updateStoragePool', { id: String(local1['id']), tags: 'local1' });
    vm = ((await t.job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids['xs-host-1']!, name: 'on-local' }))['virtualmachine'] as { id: string }).id;
    volume = ((await t.job('createVolume', { virtualmachineid: vm, diskofferingid: ids['local']!, name: 'local-data' }))['volume'] as { id: string }).id;
    expect(await srName(vdiOf(volume))).toBe('Local storage on xs-host-1');
    const listed = ((await t.ok('listVolumes', { id: volume }))['volume'] as Rec[])[0]!;
    expect({ storage: listed['storage'], storageid: listed['storageid'], storagetype: listed['storagetype'] }).toEqual({ storage: 'Local storage on xs-host-1', storageid: local1['id'], storagetype: 'local' });
    expect((await poolNamed('Local storage on xs-host-1'))['disksizeallocated']).toBe(2 * GiB);
  }, 60_000);

  it('the VM is bound to host 1: a live migration to host 2 is refused with the local pool named, and findHostsForMigration says why', async () => {
    const hosts = ((await t.ok('findHostsForMigration', { id: vm }))['host'] as Rec[]).find((h) => h['name'] === 'xs-host-2')!;
    expect(hosts['suitableformigration']).toBe(false);
    expect(String(hosts['reason'])).toMatch(/^volume local-data is on local storage pool Local storage on xs-host-1 of host xs-host-1, which this host does not reach/);
    const refused = await t.call('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids['xs-host-2']! });
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toMatch(/xs-host-2: volume local-data is on local storage pool Local storage on xs-host-1 of host xs-host-1/);
    expect(await x.call('VM.get_resident_on', (t.engine.db.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm) as string))).toBe(await hostRef('xs-host-1'));
  }, 60_000);

  it('stopped: a start on host 2 is refused; findStoragePoolsForMigration and migrateVolume refuse host 2\'s local SR, saying why', async () => {
    await t.job('stopVirtualMachine', { id: vm });
    const start = await t.run('startVirtualMachine', { id: vm, hostid: ids['xs-host-2']! });
    expect(start['jobstatus']).toBe(2);
    expect(String((start['jobresult'] as Rec)['errortext'])).toMatch(/xs-host-2: volume local-data is on local storage pool Local storage on xs-host-1 of host xs-host-1/);
    expect(((await t.ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!['state']).toBe('Stopped');

    // Host 2's local SR gets the tag too: what refuses it is where it is, not its tags.
    const local2 = await poolNamed('Local storage on xs-host-2');
    await t.ok('updateStoragePool', { id: String(local2['id']), tags: 'local1' });
    const options = (await t.ok('findStoragePoolsForMigration', { id: volume }))['storagepool'] as Rec[];
    const verdict = Object.fromEntries(options.map((p) => [String(p['name']), p['suitableformigration'] ? 'suitable' : String(p['notsuitablereason'])]));
    expect(verdict).toEqual({
      'Local storage on xs-host-2': 'it is local storage of host xs-host-2, and the volume\'s disk is on host xs-host-1',
      // Reachable from host 1, but not tagged for the volume's offering (yet).
      'NFS virtual disk storage': 'it lacks storage tag local1 of disk offering on-local',
    });
    const refused = await t.call('migrateVolume', { volumeid: volume, storageid: String(local2['id']) });
    expect([refused.status, String(refused.body['errortext'])]).toEqual([431, 'storageid: volume local-data cannot move to storage pool Local storage on xs-host-2: it is local storage of host xs-host-2, and the volume\'s disk is on host xs-host-1']);
    expect(await srName(vdiOf(volume))).toBe('Local storage on xs-host-1');
  }, 60_000);

  it('migrateVolume to the NFS SR moves the disk (a new VDI, the old one gone); the VM then starts on host 2', async () => {
    const before = vdiOf(volume);
    const nfs = await poolNamed('NFS virtual disk storage');
    await t.ok('updateStoragePool', { id: String(nfs['id']), tags: 'local1' });
    expect(((await t.ok('findStoragePoolsForMigration', { id: volume }))['storagepool'] as Rec[]).find((p) => p['name'] === 'NFS virtual disk storage')!['suitableformigration']).toBe(true);
    const moved = ((await t.job('migrateVolume', { volumeid: volume, storageid: String(nfs['id']) }))['volume'] as Rec);
    expect(moved['storage']).toBe('NFS virtual disk storage');
    const after = vdiOf(volume);
    expect(after).not.toBe(before);
    expect(await srName(after)).toBe('NFS virtual disk storage');
    expect(await x.call<string>('VDI.get_name_label', after)).toBe(t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(volume));
    await expect(x.call('VDI.get_record', before)).rejects.toThrow(/HANDLE_INVALID/);
    const vmRef = t.engine.db.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const vbds = await x.call<string[]>('VM.get_VBDs', vmRef);
    expect(await Promise.all(vbds.map((b) => x.call<string>('VBD.get_VDI', b)))).toContain(after);
    expect((await poolNamed('Local storage on xs-host-1'))['disksizeallocated']).toBe(0);

    const started = (await t.job('startVirtualMachine', { id: vm, hostid: ids['xs-host-2']! }))['virtualmachine'] as Rec;
    expect([started['state'], started['hostname']]).toEqual(['Running', 'xs-host-2']);
    expect(await x.call('VM.get_resident_on', vmRef)).toBe(await hostRef('xs-host-2'));
  }, 60_000);

  it('migrateVirtualMachineWithVolume moves a running VM to host 2 with its local disk onto host 2\'s local SR', async () => {
    await t.ok('updateStoragePool', { id: String((await poolNamed('NFS virtual disk storage'))['id']), tags: '' });
    const mover = ((await t.job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids['xs-host-1']!, name: 'live-mover' }))['virtualmachine'] as { id: string }).id;
    const disk = ((await t.job('createVolume', { virtualmachineid: mover, diskofferingid: ids['local']!, name: 'mover-data' }))['volume'] as { id: string }).id;
    expect(await srName(vdiOf(disk))).toBe('Local storage on xs-host-1');
    // Without the disk in migrateto the VM cannot leave host 1.
    const refused = await t.call('migrateVirtualMachine', { virtualmachineid: mover, hostid: ids['xs-host-2']! });
    expect([refused.status, String(refused.body['errortext'])]).toEqual([533, expect.stringMatching(/volume mover-data is on local storage pool Local storage on xs-host-1 of host xs-host-1/)]);
    const moved = await t.run('migrateVirtualMachineWithVolume', { virtualmachineid: mover, hostid: ids['xs-host-2']!, 'migrateto[0].volume': disk, 'migrateto[0].pool': 'Local storage on xs-host-2' });
    expect([moved['jobstatus'], ((moved['jobresult'] as Rec)['virtualmachine'] as Rec | undefined)?.['hostname']]).toEqual([1, 'xs-host-2']);
    expect(await srName(vdiOf(disk))).toBe('Local storage on xs-host-2');
    expect(((await t.ok('listVolumes', { id: disk }))['volume'] as Rec[])[0]!['storage']).toBe('Local storage on xs-host-2');
  }, 60_000);

  const hostRef = async (name: string) => (await x.call<string[]>('host.get_by_name_label', name))[0]!;
});

/**
 * Discovery and import of VMware VMs Kiln did not make (issue 13) through the engine on vcsim:
 * VMs created over SOAP with several disks on PVSCSI/LSI SAS, NICs on standard and distributed
 * VLAN portgroups and a guest IP set through SET.guest.ipAddress are listed with R41's fields and
 * why-not reasons; one is imported with a custom offering, NICs mapped by VLAN and explicitly, an
 * auto IP and data-disk offerings, then stopped and started by Kiln with the same devices in
 * vCenter; another with a fixed offering; unmanage leaves it in vCenter and lists it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { MoRef, typed, vm as vim, waitForTask, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { createVmWithDevices, defaultPlacement, vmDevices } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareCluster } from './vmware-zone.js';

const available = vcsimOrSkip();
const GiB = 1024 ** 3;

describe.skipIf(!available)('import of unmanaged VMware VMs through the engine on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  const ids: Record<string, string> = {};
  const refs: Record<string, MoRef> = {};

  const ok = (command: string, params: Record<string, string>) => t.ok(command, params);
  const unmanaged = async (name?: string) => ((await t.call('listUnmanagedInstances', { clusterid: ids['cluster']!, ...(name ? { name } : {}) })).body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-pg-std', '2', '-pg-dv', '1']);
    admin = await sim.connect();
    const where = await defaultPlacement(admin);
    refs['web'] = await createVmWithDevices(admin, where, { name: 'legacy-web', disksGiB: [16, 2, 4], nics: ['PG-VLAN101', 'DVPG-VLAN201'], nicType: 'VirtualVmxnet3', oneController: true, powerOn: true });
    refs['mixed'] = await createVmWithDevices(admin, where, { name: 'legacy-mixed', disksGiB: [8, 1, 1], nics: ['PG-VLAN101', 'PG-VLAN102'] });
    refs['db'] = await createVmWithDevices(admin, where, { name: 'legacy-db', disksGiB: [8], nics: ['PG-VLAN102'], nicType: 'VirtualE1000e' });
    // The guest of legacy-web reports its address on its first NIC through Tools.
    await waitForTask(admin, (await vim.reconfigure(admin, refs['web'], { extraConfig: [
      { key: 'SET.guest.toolsRunningStatus', value: typed('xsd:string', 'guestToolsRunning') },
      { key: 'SET.guest.ipAddress', value: typed('xsd:string', '10.101.0.15') },
    ] })).ref);

    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    const at = await vmwareCluster((command, params) => t.call(command, params), sim);
    Object.assign(ids, { zone: at.zoneid, pod: at.podid, cluster: at.clusterid });
    ids['shared101'] = ((await ok('createNetwork', { name: 'net-101', zoneid: ids['zone'], guestiptype: 'Shared', vlan: '101', gateway: '10.101.0.1', netmask: '255.255.255.0', startip: '10.101.0.10', endip: '10.101.0.50' }))['network'] as { id: string }).id;
    ids['l2-201'] = ((await ok('createNetwork', { name: 'net-201', zoneid: ids['zone'], guestiptype: 'L2', vlan: '201' }))['network'] as { id: string }).id;
    ids['l2-other'] = ((await ok('createNetwork', { name: 'net-other', zoneid: ids['zone'], guestiptype: 'L2' }))['network'] as { id: string }).id;
    ids['custom'] = (t.engine.db.prepare(`SELECT uuid FROM service_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    ids['fixed'] = ((await ok('createServiceOffering', { name: 'vmw-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' }))['serviceoffering'] as { id: string }).id;
    ids['disk'] = (t.engine.db.prepare(`SELECT uuid FROM disk_offerings ORDER BY id LIMIT 1`).get() as { uuid: string }).uuid;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    admin?.close();
    sim?.stop();
  });

  it("lists the cluster's VMs with R41's fields, VLANs of standard and distributed portgroups and the guest IP, and why one cannot be imported", async () => {
    const rows = await unmanaged();
    expect(rows.map((r) => r['name']).sort()).toEqual(['legacy-db', 'legacy-mixed', 'legacy-web']);
    const web = rows.find((r) => r['name'] === 'legacy-web')!;
    expect(web).toMatchObject({ clusterid: ids['cluster'], powerstate: 'PowerOn', cpunumber: 1, memory: 64, cpucorepersocket: 1, osdisplayname: expect.any(String), importable: true });
    expect((web['disk'] as Record<string, unknown>[]).map(({ capacity, controller, controllerunit, position, imagepath }) => ({ capacity, controller, controllerunit, position, imagepath }))).toEqual([
      { capacity: 16 * GiB, controller: 'pvscsi', controllerunit: 0, position: 0, imagepath: '[LocalDS_0] legacy-web/legacy-web.vmdk' },
      { capacity: 2 * GiB, controller: 'pvscsi', controllerunit: 1, position: 1, imagepath: '[LocalDS_0] legacy-web/legacy-web_1.vmdk' },
      { capacity: 4 * GiB, controller: 'pvscsi', controllerunit: 2, position: 2, imagepath: '[LocalDS_0] legacy-web/legacy-web_2.vmdk' },
    ]);
    expect((web['nic'] as Record<string, unknown>[]).map(({ id, networkname, vlanid, adaptertype, ipaddress }) => ({ id, networkname, vlanid, adaptertype, ipaddress }))).toEqual([
      { id: 'nic0', networkname: 'PG-VLAN101', vlanid: 101, adaptertype: 'Vmxnet3', ipaddress: ['10.101.0.15'] },
      { id: 'nic1', networkname: 'DVPG-VLAN201', vlanid: 201, adaptertype: 'Vmxnet3', ipaddress: undefined },
    ]);
    const mixed = rows.find((r) => r['name'] === 'legacy-mixed')!;
    expect(mixed['importable']).toBe(false);
    expect((mixed['notimportablereason'] as string[]).join('\n')).toMatch(/data disks on mixed controller types \(pvscsi, lsisas1068\)[\s\S]*NICs of mixed adapter types \(Vmxnet3, E1000e\)/);
  });

  it('imports with a custom offering, NICs by VLAN, an auto IP and data-disk offerings; stop and start keep its devices in vCenter', async () => {
    const before = await vmDevices(admin, refs['web']!);
    const refused = await t.call('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'legacy-web', serviceofferingid: ids['custom']! });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toContain('details[0].cpuSpeed: offering Custom is custom unconstrained and VM legacy-web has no CPU reservation');
    const res = await t.call('importUnmanagedInstance', {
      clusterid: ids['cluster']!, name: 'legacy-web', serviceofferingid: ids['custom']!, 'details[0].cpuSpeed': '1200',
      'nicipaddresslist[0].nic': 'nic0', 'nicipaddresslist[0].ip4Address': 'auto',
      'datadiskofferinglist[0].disk': before.disks[1]!.key.toString(), 'datadiskofferinglist[0].diskOffering': ids['disk']!,
      'datadiskofferinglist[1].disk': before.disks[2]!.key.toString(), 'datadiskofferinglist[1].diskOffering': ids['disk']!,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const job = await t.engine.jobs.wait(res.body['jobid'] as string);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string; cpuspeed: number; nic: { networkname: string; ipaddress?: string }[] } }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Running', cpuspeed: 1200 });
    expect(vm.nic.map((n) => [n.networkname, n.ipaddress])).toEqual([['net-101', '10.101.0.15'], ['net-201', undefined]]);
    expect((await unmanaged()).map((r) => r['name']).sort()).toEqual(['legacy-db', 'legacy-mixed']);

    const stop = await t.call('stopVirtualMachine', { id: vm.id, forced: 'true' });
    expect((await t.engine.jobs.wait(stop.body['jobid'] as string))['jobstatus']).toBe(1);
    const start = await t.call('startVirtualMachine', { id: vm.id });
    const started = await t.engine.jobs.wait(start.body['jobid'] as string);
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect(await vmDevices(admin, refs['web']!)).toEqual(before);
  });

  it('imports a stopped VM with a fixed offering and an explicit NIC map; unmanage leaves it in vCenter and lists it again', async () => {
    const res = await t.call('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'legacy-db', serviceofferingid: ids['fixed']!, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': ids['l2-other']! });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const job = await t.engine.jobs.wait(res.body['jobid'] as string);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string; nic: { networkname: string }[] } }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Stopped', nic: [{ networkname: 'net-other' }] });
    const devices = await vmDevices(admin, refs['db']!);
    const un = await t.call('unmanageVirtualMachine', { id: vm.id });
    expect((await t.engine.jobs.wait(un.body['jobid'] as string))['jobstatus']).toBe(1);
    expect(await vmDevices(admin, refs['db']!)).toEqual(devices);
    expect(await unmanaged('legacy-db')).toMatchObject([{ name: 'legacy-db', powerstate: 'PowerOff', importable: true }]);
  });
});

/**
 * R45's "PVLAN included" on vcsim through the engine: a NIC on a distributed portgroup whose VLAN
 * spec is a VmwareDistributedVirtualSwitchPvlanSpec (pvlanId = the secondary VLAN, its primary in
 * the switch's pvlanConfig) is listed by listUnmanagedInstances with its primary VLAN and
 * isolatedpvlan, and is mapped by VLAN to the network with that primary+secondary pair, while the
 * NIC on the plain primary VLAN goes to the plain network (not the private one created before it);
 * a NIC on a private VLAN no network has is refused, not put on the plain network. Offline
 * discovery lists the private VLAN too, and its CSV (as `kiln discover-networks --format csv`
 * writes it) makes createNetworksFromCsv create the missing private-VLAN network, after which
 * that NIC imports onto it.
 */
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { NETWORK_CSV_COLUMNS, discoverAt, networkCsvRows } from '../../drivers/vsphere/network-discovery.js';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareCluster } from './vmware-zone.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('import of VMware NICs on private VLANs on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  const ids: Record<string, string> = {};

  const ok = (command: string, params: Record<string, string>) => t.ok(command, params);
  const unmanaged = async (name: string) => ((await t.call('listUnmanagedInstances', { clusterid: ids['cluster']!, name })).body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];

  beforeAll(async () => {
    // DVPG-VLAN201 (plain VLAN 201), DVPG-PVLAN201-501 and DVPG-PVLAN201-502 (isolated secondaries of 201).
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-pg-std', '0', '-pg-dv', '1', '-pg-pvlan', '201:501,201:502']);
    admin = await sim.connect();
    const where = await defaultPlacement(admin);
    await createVmWithDevices(admin, where, { name: 'pv-web', disksGiB: [1], nics: ['DVPG-PVLAN201-501', 'DVPG-VLAN201'], nicType: 'VirtualVmxnet3' });
    await createVmWithDevices(admin, where, { name: 'pv-lost', disksGiB: [1], nics: ['DVPG-PVLAN201-502'], nicType: 'VirtualVmxnet3' });

    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    const at = await vmwareCluster((command, params) => t.call(command, params), sim);
    Object.assign(ids, { zone: at.zoneid, pod: at.podid, cluster: at.clusterid });
    // The private network first: a plain NIC on VLAN 201 must not take it for being first.
    ids['pv'] = ((await ok('createNetwork', { name: 'pv-201-501', zoneid: ids['zone'], guestiptype: 'L2', vlan: '201', isolatedpvlan: '501' }))['network'] as { id: string }).id;
    ids['plain'] = ((await ok('createNetwork', { name: 'plain-201', zoneid: ids['zone'], guestiptype: 'L2', vlan: '201' }))['network'] as { id: string }).id;
    ids['fixed'] = ((await ok('createServiceOffering', { name: 'vmw-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' }))['serviceoffering'] as { id: string }).id;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    admin?.close();
    sim?.stop();
  });

  it('lists the private VLAN NIC with its primary VLAN and isolatedpvlan, the plain one without', async () => {
    const [web] = await unmanaged('pv-web');
    expect((web!['nic'] as Record<string, unknown>[]).map(({ id, networkname, vlanid, isolatedpvlan, isolatedpvlantype }) => ({ id, networkname, vlanid, isolatedpvlan, isolatedpvlantype }))).toEqual([
      { id: 'nic0', networkname: 'DVPG-PVLAN201-501', vlanid: 201, isolatedpvlan: 501, isolatedpvlantype: 'isolated' },
      { id: 'nic1', networkname: 'DVPG-VLAN201', vlanid: 201, isolatedpvlan: undefined, isolatedpvlantype: undefined },
    ]);
  });

  it('maps the private VLAN NIC to the private network and the plain NIC to the plain network by VLAN', async () => {
    const res = await t.call('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'pv-web', serviceofferingid: ids['fixed']! });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const job = await t.engine.jobs.wait(res.body['jobid'] as string);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { nic: { networkid: string; networkname: string }[] } }).virtualmachine;
    expect(vm.nic.map((n) => [n.networkname, n.networkid])).toEqual([['pv-201-501', ids['pv']], ['plain-201', ids['plain']]]);
  });

  it('refuses a NIC on a private VLAN no network has instead of putting it on the plain primary VLAN', async () => {
    const res = await t.call('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'pv-lost', serviceofferingid: ids['fixed']! });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toContain('nicnetworklist: NIC nic0 of VM pv-lost (VLAN 201 (private VLAN 502), on DVPG-PVLAN201-502) matches no L2 or shared network of the zone by VLAN');
    expect(await unmanaged('pv-lost')).toHaveLength(1);
  });

  it("discovery lists the private VLAN, and its CSV creates the missing private network the refused NIC then maps to", async () => {
    const nets = await discoverAt({ sdkUrl: sim.info.url, username: sim.info.username, password: sim.info.password, thumbprint: sim.info.thumbprint });
    expect(nets.filter((n) => n.portgroup.startsWith('DVPG-')).map((n) => [n.portgroup, n.vlanId, n.isolatedPvlanId])).toEqual([
      ['DVPG-PVLAN201-501', 201, 501], ['DVPG-PVLAN201-502', 201, 502], ['DVPG-VLAN201', 201, undefined],
    ]);
    const csv = stringify(networkCsvRows(nets), { header: true, columns: [...NETWORK_CSV_COLUMNS] });
    expect(csv.split('\n')[0]).toBe('name,displaytext,vlan,isolatedpvlan,switchtype,switch,clusters,hosts,vms');
    const res = await ok('createNetworksFromCsv', { zoneid: ids['zone']!, csv });
    const rows = (res['networkimport'] as { row: { name: string; vlan?: number; isolatedpvlan?: number; status: string; reason?: string }[] }).row;
    expect(rows.map(({ name, vlan, isolatedpvlan, status, reason }) => ({ name, vlan, isolatedpvlan, status, reason }))).toEqual([
      { name: 'DVPG-PVLAN201-501', vlan: 201, isolatedpvlan: 501, status: 'skipped', reason: 'network pv-201-501 is already on VLAN 201 (private VLAN 501)' },
      { name: 'DVPG-PVLAN201-502', vlan: 201, isolatedpvlan: 502, status: 'created', reason: undefined },
      { name: 'DVPG-VLAN201', vlan: 201, isolatedpvlan: undefined, status: 'skipped', reason: 'network plain-201 is already on VLAN 201' },
    ]);
    const imported = await t.call('importUnmanagedInstance', { clusterid: ids['cluster']!, name: 'pv-lost', serviceofferingid: ids['fixed']! });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const job = await t.engine.jobs.wait(imported.body['jobid'] as string);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect((job['jobresult'] as { virtualmachine: { nic: { networkname: string }[] } }).virtualmachine.nic.map((n) => n.networkname)).toEqual(['DVPG-PVLAN201-502']);
  });
});

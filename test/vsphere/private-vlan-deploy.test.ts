/**
 * A VM on a private-VLAN network on vSphere (vcsim with a PVLAN portgroup, -pg-pvlan): vCenter's
 * distributed switch enforces private VLANs, so the driver publishes privateVlans and checks the
 * portgroup its network names before the VM joins it. A network that is the portgroup's private VLAN
 * (isolated 301 of VLAN 300) deploys Running with its NIC on that portgroup; a private-VLAN network
 * whose portgroup is a plain one, or another secondary VLAN, fails with the reason and leaves
 * nothing in vCenter.
 */
import { describe, expect, it } from 'vitest';
import { asArray, asMoRef, asObject, asString, getProperties, retrieveInventory } from '../../drivers/vsphere/soap/index.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareEngineSuite } from './vmware-zone.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('private VLANs on vSphere: the portgroup must be the network\'s', () => {
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-pg-pvlan', '300:301', '-task-time', '100ms']);

  const network = async (name: string, vlan: string, pvlan: string) => {
    const res = await suite.t.call('createNetwork', { zoneid: suite.z.zoneid, name, displaytext: name, guestiptype: 'L2', vlan, isolatedpvlan: pvlan, isolatedpvlantype: 'isolated' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body['network'] as { id: string }).id;
  };
  const deploy = async (name: string, networkid: string) => {
    const res = await suite.t.call('deployVirtualMachine', { zoneid: suite.z.zoneid, templateid: suite.z.templateid, serviceofferingid: suite.z.offerings['Small Instance']!, networkids: networkid, name });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return suite.t.engine.jobs.wait(res.body['jobid'] as string);
  };
  const inVcenter = async (name: string) => (await retrieveInventory(suite.admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).filter((o) => o.props['name'] === name);

  it('listHosts publishes privateVlans for the VMware hosts', async () => {
    const hosts = (await suite.t.call('listHosts', { zoneid: suite.z.zoneid })).body['host'] as { capabilities?: Record<string, unknown> }[];
    expect(hosts.map((h) => h.capabilities?.['privateVlans'])).toEqual(hosts.map(() => true));
  });

  it('a network that is the portgroup\'s private VLAN deploys Running, its NIC on that portgroup', async () => {
    const job = await deploy('pv-ok', await network('DVPG-PVLAN300-301', '300', '301'));
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { state: string; instancename: string } }).virtualmachine;
    expect(vm.state).toBe('Running');
    const [clone] = await inVcenter(vm.instancename);
    const devices = asArray((await getProperties(suite.admin, clone!.obj, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    const nic = devices.find((d) => d['macAddress'] !== undefined)!;
    // The NIC is on the PVLAN portgroup (by its network ref), not on any other network.
    const [pg] = (await retrieveInventory(suite.admin, [{ type: 'DistributedVirtualPortgroup', pathSet: ['name', 'key'] }])).filter((o) => o.props['name'] === 'DVPG-PVLAN300-301');
    const backing = asObject(nic['backing']);
    const onPortgroup = asString(asObject(backing['port'])['portgroupKey']) ?? asMoRef(backing['network'])?.value;
    expect([pg!.props['key'], pg!.obj.value]).toContain(onPortgroup);
  });

  it('a private-VLAN network whose portgroup is plain, or of another secondary VLAN, fails with the reason and leaves nothing in vCenter', async () => {
    const plain = await deploy('pv-plain', await network('VM Network', '300', '301'));
    expect(plain['jobstatus']).toBe(2);
    expect(JSON.stringify(plain['jobresult'])).toContain('network VM Network is a private VLAN (isolated 301 of VLAN 300), but vCenter\'s portgroup \\"VM Network\\" is not a distributed portgroup');
    const other = await deploy('pv-other', await network('DVPG-PVLAN300-301', '300', '302'));
    expect(other['jobstatus']).toBe(2);
    expect(JSON.stringify(other['jobresult'])).toContain('network DVPG-PVLAN300-301 is a private VLAN (isolated 302 of VLAN 300), but vCenter\'s portgroup of that name has secondary VLAN 301');
    const names = ((await suite.t.call('listVirtualMachines', { listall: 'true' })).body['virtualmachine'] as { name: string; instancename: string; state: string }[]).filter((v) => v.name === 'pv-plain' || v.name === 'pv-other');
    expect(names.map((v) => [v.name, v.state]).sort()).toEqual([['pv-other', 'Error'], ['pv-plain', 'Error']]);
    for (const v of names) expect(await inVcenter(v.instancename)).toEqual([]);
  });
});

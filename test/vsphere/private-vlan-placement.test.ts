/**
 * Placement passes over hosts that cannot isolate private VLANs (the private-vlans filter, by the
 * privateVlans capability a host publishes, never by hypervisor name). A mixed zone: vcsim's
 * cluster (vSphere publishes privateVlans; -pg-pvlan gives the portgroup of isolated 301 of VLAN
 * 300) and a Simulator cluster with host sim-pv (no such capability). For a VM on that private VLAN:
 *
 * - explainPlacement gives sim-pv the verdict "host sim-pv cannot isolate private VLANs (…)" and
 *   the VMware host is suitable (before: sim-pv suitable, and a start there failed on the host);
 * - a deploy with hostid sim-pv is a 533 naming that verdict, before anything is written (before:
 *   a job that failed at define with a 431 and left the VM in Error);
 * - a start with hostid sim-pv is the same 533, the VM stays Created; without hostid it runs on the
 *   VMware host.
 */
import { describe, expect, it } from 'vitest';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareEngineSuite } from './vmware-zone.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('placement skips hosts that cannot isolate private VLANs (mixed zone: vcsim and the simulator)', () => {
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-pg-pvlan', '300:301', '-task-time', '100ms']);
  const ok = async (command: string, params: Record<string, string> = {}) => {
    const res = await suite.t.call(command, params);
    expect(res.status, `${command}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  };
  const verdict = 'host sim-pv cannot isolate private VLANs (network DVPG-PVLAN300-301 is a private VLAN: isolated 301 of VLAN 300)';
  const count = (sql: string) => suite.t.engine.db.prepare(sql).pluck().get() as number;
  let simHost = '';
  let network = '';
  let vm = '';

  it('explainPlacement gives the simulator host the verdict, and the VMware host is suitable', async () => {
    const { z } = suite;
    const cluster = ((await ok('addCluster', { zoneid: z.zoneid, podid: z.podid, clustername: 'Sim', hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
    const added = (await ok('addHost', { zoneid: z.zoneid, podid: z.podid, clusterid: cluster, hypervisor: 'Simulator', url: 'simulator://sim-pv?memory=65536', username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
    simHost = (Array.isArray(added) ? added[0]! : added).id;
    const hosts = (await ok('listHosts', { zoneid: z.zoneid }))['host'] as { name: string; capabilities?: Record<string, unknown> }[];
    expect(hosts.find((h) => h.name === 'sim-pv')!.capabilities?.['privateVlans'] ?? false).toBe(false);
    network = ((await ok('createNetwork', { zoneid: z.zoneid, name: 'DVPG-PVLAN300-301', displaytext: 'pv', guestiptype: 'L2', vlan: '300', isolatedpvlan: '301', isolatedpvlantype: 'isolated' }))['network'] as { id: string }).id;
    const deployed = await ok('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: network, name: 'pv-placed', startvm: 'false' });
    vm = String(deployed['id']);
    await suite.t.engine.jobs.wait(String(deployed['jobid']));
    const explained = (await ok('explainPlacement', { virtualmachineid: vm }))['placement'] as { hosts: { hostName: string; suitable: boolean; reason: string }[] };
    expect(explained.hosts.find((h) => h.hostName === 'sim-pv')).toMatchObject({ suitable: false, reason: verdict });
    const vmware = explained.hosts.filter((h) => h.hostName !== 'sim-pv');
    expect(vmware.length).toBeGreaterThan(0);
    expect(vmware.map((h) => h.suitable)).toEqual(vmware.map(() => true));
  });

  it('a deploy onto the simulator host is a 533 with the verdict, and writes no VM', async () => {
    const { z } = suite;
    const before = count('SELECT COUNT(*) FROM vm_instances');
    const refused = await suite.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: network, name: 'pv-on-sim', hostid: simHost });
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toBe(`Unable to create a deployment for offering Small Instance: no suitable host (sim-pv: ${verdict})`);
    expect(count('SELECT COUNT(*) FROM vm_instances')).toBe(before);
  });

  it('a start on the simulator host is the same 533 and the VM stays as it was; without hostid it runs on the VMware host', async () => {
    const refused = await suite.t.engine.jobs.wait(String((await ok('startVirtualMachine', { id: vm, hostid: simHost }))['jobid']));
    expect(refused['jobstatus']).toBe(2);
    expect(refused['jobresult']).toMatchObject({ errorcode: 533 });
    expect(String((refused['jobresult'] as { errortext: string }).errortext)).toContain(`sim-pv: ${verdict}`);
    // Deployed with startvm=false, never started: it stays Created.
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Created');
    expect(Object.keys(suite.t.engine.simulator.world.find('sim-pv')!.domains)).toEqual([]);
    const started = await suite.t.engine.jobs.wait(String((await ok('startVirtualMachine', { id: vm }))['jobid']));
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    const running = ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string; hostname: string }[])[0]!;
    expect(running.state).toBe('Running');
    expect(running.hostname).not.toBe('sim-pv');
  });
});

/**
 * XenServer cannot isolate private VLANs (Open vSwitch PVLANs are not something Kiln's driver sets
 * up), so its hosts publish no privateVlans capability and the engine decides by that: a deploy
 * onto a private-VLAN network in a XenServer zone is a 533 whose host verdict says why, with no VM
 * written and nothing made in the pool, and listNetworks marks the network as not supported there (the
 * deploy wizard shows it so). XenServer has no import facet, so an import there is refused anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-pvlan';
type Rec = Record<string, unknown>;

describe('private VLANs on XenServer (xapi simulator): refused by capability', () => {
  let sim: XapiSim;
  let xapi: Session;
  let t: TestEngine;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xen-host' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    xapi = await Session.login(sim.url, sim.username, sim.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    ids['zone'] = ((await t.ok('createZone', { name: 'Xen PVLAN' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    await t.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await t.ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await t.ok('registerTemplate', { name: 'pvlan', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await t.ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
    ids['pvlan'] = ((await t.ok('createNetwork', { name: 'pv-iso', zoneid: ids['zone'], vlan: '300', isolatedpvlan: '301' }))['network'] as { id: string }).id;
  }, 90_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await sim?.stop();
  });

  it('publishes no privateVlans capability, and listNetworks says the private VLAN is not supported in the zone', async () => {
    const hosts = (await t.ok('listHosts', { zoneid: ids['zone']! }))['host'] as { name: string; capabilities?: Rec }[];
    expect(hosts.map((h) => h.name)).toEqual(['xen-host']);
    expect(hosts[0]!.capabilities).toMatchObject({ liveMigration: true });
    expect(hosts[0]!.capabilities!['privateVlans'] ?? false).toBe(false);
    const net = ((await t.ok('listNetworks', { id: ids['pvlan']! }))['network'] as Rec[])[0]!;
    expect(net).toMatchObject({ isolatedpvlan: '301', isolatedpvlantype: 'isolated', isolatedpvlansupported: false });
  });

  it('refuses a deploy onto the private VLAN with a 533 whose host verdict says why, no VM written and nothing made in the pool', async () => {
    const before = Object.keys(await xapi.call<Record<string, Rec>>('VM.get_all_records')).length;
    const refused = await t.call('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['pvlan']!, name: 'pv-xen' });
    expect(refused.status).toBe(533);
    expect(refused.body['errortext']).toBe('Unable to create a deployment for offering small: no suitable host (xen-host: host xen-host cannot isolate private VLANs (network pv-iso is a private VLAN: isolated 301 of VLAN 300))');
    expect((await t.ok('listVirtualMachines', { name: 'pv-xen' }))['virtualmachine']).toBeUndefined();
    const after = await xapi.call<Record<string, Rec>>('VM.get_all_records');
    expect(Object.keys(after).length).toBe(before);
    expect(Object.values(after).some((v) => v['name_label'] === 'pv-xen' || (v['other_config'] as Record<string, string> | undefined)?.['kiln_uuid'] !== undefined)).toBe(false);
  });
});

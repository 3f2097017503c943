/**
 * The engine's half of private VLANs: a NIC on a network with isolatedpvlan carries its primary
 * VLAN, secondary VLAN and type to the driver (NicSpec.privateVlan), and a VM with such a NIC does
 * not start on a host whose driver lacks the privateVlans capability (the demo zone's simulator):
 * the deploy is a 533 whose verdict for each host says it cannot isolate private VLANs, no VM written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import type { VmRow } from '../../main/engine/vm/rows.js';

describe('private-VLAN NICs through the driver contract', () => {
  let t: TestEngine;
  let ids: ReturnType<typeof demoIds>;
  const network = async (name: string, params: Record<string, string>) => ((await t.ok('createNetwork', { name, zoneid: ids.zoneid, vlan: '300', ...params }))['network'] as { id: string }).id;
  const deploy = (networkids: string, name: string, extra: Record<string, string> = {}) => t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, networkids, name, ...extra });
  const row = (id: string) => t.engine.db.prepare('SELECT * FROM vm_instances WHERE uuid=?').get(id) as VmRow;

  beforeAll(async () => {
    t = await testEngine();
    ids = demoIds(t.engine);
  });
  afterAll(() => t.close());

  it('gives the driver the primary VLAN, the secondary and its type, and nothing for a plain VLAN', async () => {
    const iso = await network('pv-iso', { isolatedpvlan: '301' });
    const prom = await network('pv-prom', { isolatedpvlantype: 'promiscuous' });
    const plain = await network('plain-300', {});
    const created = await deploy(`${iso},${prom},${plain}`, 'pv-spec', { startvm: 'false' });
    expect(created['jobstatus'], JSON.stringify(created['jobresult'])).toBe(1);
    const id = (created['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const nics = t.engine.vms.spec(row(id)).nics.map((n) => ({ network: n.network, vlan: n.vlan, privateVlan: n.privateVlan }));
    expect(nics).toEqual([
      { network: 'pv-iso', vlan: 300, privateVlan: { type: 'isolated', secondaryVlan: 301 } },
      { network: 'pv-prom', vlan: 300, privateVlan: { type: 'promiscuous', secondaryVlan: 300 } },
      { network: 'plain-300', vlan: 300, privateVlan: undefined },
    ]);
  });

  it('refuses to place it on a host whose driver cannot set private VLANs up, naming the network and each host', async () => {
    const community = await network('pv-community', { isolatedpvlan: '302', isolatedpvlantype: 'community' });
    const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, networkids: community, name: 'pv-nowhere' });
    expect(refused.status).toBe(533);
    const placement = refused.body['placement'] as { hostName: string; suitable: boolean; reason: string }[];
    expect(placement.length).toBeGreaterThan(0);
    for (const v of placement) expect(v).toMatchObject({ suitable: false, reason: `host ${v.hostName} cannot isolate private VLANs (network pv-community is a private VLAN: community 302 of VLAN 300)` });
    expect((await t.ok('listVirtualMachines', { name: 'pv-nowhere' }))['virtualmachine']).toBeUndefined();
    // A plain VLAN network on the same host still deploys.
    const plain = await network('plain-300b', {});
    expect((await deploy(plain, 'pv-plain'))['jobstatus']).toBe(1);
  });
});

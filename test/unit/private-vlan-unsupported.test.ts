/**
 * Private VLANs where no host can isolate them (the demo zone's simulator: it has no traffic to
 * filter, so it does not claim the privateVlans capability rather than pretend): listNetworks says
 * so on the network (isolatedpvlansupported false, which the deploy wizard shows), and an import
 * that maps a NIC onto such a network is a 431 that says why, with nothing written. A deploy there
 * is refused as well (private-vlan-nics.test.ts; on XenServer: test/xenserver/private-vlan-refused.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
const network = async (name: string, params: Record<string, string>) => ((await t.ok('createNetwork', { name, zoneid: ids.zoneid, ...params }))['network'] as { id: string }).id;

beforeEach(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
});
afterEach(async () => t.close());

describe('private VLANs on a driver that cannot isolate them', () => {
  it('listNetworks says a private VLAN of a zone without such a host is not supported there, and says nothing of other networks', async () => {
    const pvlan = await network('pv-iso', { vlan: '300', isolatedpvlan: '301' });
    const plain = await network('plain-300', { vlan: '300' });
    const listed = (await t.ok('listNetworks', { zoneid: ids.zoneid }))['network'] as Record<string, unknown>[];
    expect(listed.find((n) => n['id'] === pvlan)).toMatchObject({ isolatedpvlan: '301', isolatedpvlantype: 'isolated', isolatedpvlansupported: false });
    expect(listed.find((n) => n['id'] === plain)!['isolatedpvlansupported']).toBeUndefined();
    // The simulator's hosts publish no privateVlans capability.
    const hosts = (await t.ok('listHosts', { zoneid: ids.zoneid }))['host'] as { capabilities?: Record<string, unknown> }[];
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.map((h) => h.capabilities?.['privateVlans'] ?? false)).toEqual(hosts.map(() => false));
  });

  it('refuses to import a VM onto a private-VLAN network there, naming the network, the host and the NIC, and writes nothing', async () => {
    const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
    const clusterid = t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').pluck().get() as string;
    const pvlan = await network('pv-community', { vlan: '300', isolatedpvlan: '302', isolatedpvlantype: 'community' });
    sim.addUnmanagedVm('sim-host-1', {
      internalName: 'legacy-pv', displayName: 'legacy-pv', uuid: '00000000-1111-2222-3333-44445555aaaa', cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512,
      disks: [{ name: 'legacy-pv-root.qcow2', sizeBytes: 2 ** 30, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: '52:54:00:ac:00:01', network: 'untagged', adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    }, { power: 'Running' });
    const offering = ids.small;
    const before = dbFingerprint(t.engine);
    const res = await t.call('importUnmanagedInstance', { clusterid, name: 'legacy-pv', serviceofferingid: offering, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': pvlan });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/^nicnetworklist: network pv-community is a private VLAN \(community 302 of VLAN 300\), and host sim-host-1 cannot set up private VLANs; NIC nic0 would not be isolated there$/);
    expect(dbFingerprint(t.engine)).toBe(before);
    // The same VM onto a plain network imports (the refusal is the private VLAN's, not the VM's).
    const plain = await network('plain-untagged', {});
    const job = await t.run('importUnmanagedInstance', { clusterid, name: 'legacy-pv', serviceofferingid: offering, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': plain });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
  });
});

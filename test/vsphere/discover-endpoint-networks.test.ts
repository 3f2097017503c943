/**
 * discoverEndpointNetworks (R52 in the UI's engine) on vcsim, for a vCenter Kiln has not added:
 * the same discovery as `kiln discover-networks` (the driver's networkDiscovery facet; equal to
 * the CLI's JSON), after probeEndpointTrust read the thumbprint; a thumbprint other than the one
 * presented is refused (534) before any listing, a bad login and an unknown cluster are 431s;
 * the password is in no table of the database afterwards, and no hosts or clusters were added.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { discoverNetworksCli } from '../../drivers/vsphere/discover-networks-cli.js';
import type { DiscoveredNetwork } from '../../drivers/network-discovery.js';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('discoverEndpointNetworks on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  let url: string;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-pg-std', '2', '-pg-dv', '1']);
    admin = await sim.connect();
    const where = await defaultPlacement(admin);
    await createVmWithDevices(admin, where, { name: 'legacy-web', disksGiB: [1], nics: ['PG-VLAN101', 'DVPG-VLAN201'], nicType: 'VirtualVmxnet3', powerOn: true });
    await createVmWithDevices(admin, where, { name: 'legacy-db', disksGiB: [1], nics: ['PG-VLAN102'], nicType: 'VirtualE1000e' });
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    url = `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    admin?.close();
    sim?.stop();
  });

  const discover = (params: Record<string, string> = {}) =>
    t.call('discoverEndpointNetworks', { hypervisor: 'VMware', url, username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint, ...params });

  it("lists what kiln discover-networks lists, with the thumbprint probeEndpointTrust read; VMware's capabilities say it can", async () => {
    const caps = (await t.call('listHypervisorCapabilities', { hypervisor: 'VMware' })).body['hypervisorCapabilities'] as { networkdiscovery: boolean }[];
    expect(caps[0]!.networkdiscovery).toBe(true);
    const probe = (await t.call('probeEndpointTrust', { hypervisor: 'VMware', url })).body['endpointtrust'] as { fingerprint: string };
    expect(probe.fingerprint).toBe(sim.info.thumbprint);
    const res = await discover({ trustfingerprint: probe.fingerprint });
    expect(res.status).toBe(200);
    const rows = res.body['discoverednetwork'] as Record<string, unknown>[];
    let out = '';
    const code = await discoverNetworksCli(['-s', sim.info.host, '-o', String(sim.info.port), '-u', sim.info.username, '--thumbprint', sim.info.thumbprint, '-c', 'DC0_C0'], {
      out: (s) => (out += s), err: () => undefined, env: { KILN_VSPHERE_PASSWORD: sim.info.password },
    });
    expect(code).toBe(0);
    const cli = JSON.parse(out) as DiscoveredNetwork[];
    expect(cli.map((n) => n.portgroup).sort()).toEqual(['DVPG-VLAN201', 'PG-VLAN101', 'PG-VLAN102']);
    expect(res.body['count']).toBe(cli.length);
    expect(rows).toEqual(cli.map((n) => ({
      clustername: n.cluster, hostname: n.host, portgroup: n.portgroup, switchtype: n.switchType, switchname: n.switchName, ...(n.vlanId !== null ? { vlan: n.vlanId } : {}),
      virtualmachine: n.virtualMachines.map((vm) => ({
        name: vm.name, powerstate: vm.powerState,
        nic: vm.nics.map((nic) => ({ id: nic.nic, macaddress: nic.macAddress, ...(nic.adapterType ? { adaptertype: nic.adapterType } : {}), ...(nic.pciSlot ? { pcislot: nic.pciSlot } : {}), ...(nic.ipAddresses.length ? { ipaddress: nic.ipAddresses } : {}) })),
      })),
    })));
    const pg101 = rows.find((r) => r['portgroup'] === 'PG-VLAN101')!;
    expect(pg101).toMatchObject({ clustername: 'DC0_C0', switchtype: 'standard', switchname: 'vSwitch0', vlan: 101, virtualmachine: [{ name: 'legacy-web', powerstate: 'Running', nic: [{ id: 'nic0', adaptertype: 'Vmxnet3' }] }] });
    expect(rows.find((r) => r['portgroup'] === 'DVPG-VLAN201')).toMatchObject({ switchtype: 'distributed', vlan: 201 });
  });

  it('refuses another thumbprint (534), a bad login, an unknown cluster and a URL the driver cannot read (431), and stores nothing', async () => {
    const wrong = await discover({ trustfingerprint: 'AA:'.repeat(31) + 'AA' });
    expect([wrong.body['errorcode'], String(wrong.body['errortext'])]).toEqual([534, expect.stringContaining(sim.info.thumbprint)]);
    const login = await discover({ password: 'not-the-password' });
    expect([login.body['errorcode'], String(login.body['errortext'])]).toEqual([431, expect.stringMatching(/login|password/i)]);
    const cluster = await discover({ cluster: 'nope' });
    expect([cluster.body['errorcode'], cluster.body['errortext']]).toEqual([431, 'cluster: no cluster named "nope"; the endpoint has "DC0_C0"']);
    const ftp = await discover({ url: 'ftp://vcenter/DC0' });
    expect([ftp.body['errorcode'], String(ftp.body['errortext'])]).toEqual([431, expect.stringMatching(/^url: /)]);
    const missing = await t.call('discoverEndpointNetworks', { hypervisor: 'VMware', url, username: 'u', password: 'p' });
    expect([missing.body['errorcode'], String(missing.body['errortext'])]).toEqual([431, expect.stringContaining('trustfingerprint')]);
    // Nothing was added, and the password is nowhere in the database.
    expect((t.engine.db.prepare("SELECT COUNT(*) AS n FROM hosts WHERE hypervisor='VMware'").get() as { n: number }).n).toBe(0);
    t.engine.db.pragma('wal_checkpoint(TRUNCATE)');
    const files = ['kiln.db', 'kiln.db-wal'].map((f) => join(t.dataDir, f));
    const bytes = files.map((f) => { try { return readFileSync(f).toString('latin1'); } catch { return ''; } }).join('');
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes).not.toContain(sim.info.password);
  });
});

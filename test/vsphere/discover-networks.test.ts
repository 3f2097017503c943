/**
 * `kiln discover-networks` (R52, D5) against vcsim, with no engine: VMs made over SOAP on given
 * hosts with NICs on standard (PG-VLAN10x on vSwitch0) and distributed (DVPG-VLAN201 on the
 * datacenter's DVS) portgroups; the JSON lists exactly those networks with their hosts, switches,
 * VLANs and the VMs' NICs (MACs read back from vcsim), the CSV one createNetwork row per portgroup
 * (a name with a comma quoted); the certificate is never trusted without --thumbprint or a "y".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { discoverNetworksCli, type CliIo } from '../../drivers/vsphere/discover-networks-cli.js';
import { main } from '../../main/cli.js';
import { MoRef, retrieveInventory, typed, vm as vim, waitForTask, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { createVmWithDevices, defaultPlacement, vmDevices } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('kiln discover-networks on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  const hostName: Record<string, string> = {};
  let dvsName = '';
  const vms: Record<string, MoRef> = {};

  const run = async (args: string[], opts: { answer?: string; env?: Record<string, string> } = {}) => {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (t) => (out += t), err: (t) => (err += t), env: { KILN_VSPHERE_PASSWORD: sim.info.password, ...opts.env },
      ...(opts.answer !== undefined ? { ask: async () => opts.answer! } : {}),
    };
    const code = await discoverNetworksCli(['-s', sim.info.host, '-o', String(sim.info.port), '-u', sim.info.username, ...args], io);
    return { code, out, err };
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-pg-std', '2', '-pg-dv', '1']);
    admin = await sim.connect();
    const inv = await retrieveInventory(admin, [{ type: 'HostSystem', pathSet: ['name'] }, { type: 'DistributedVirtualSwitch', pathSet: ['name'] }]);
    const hosts = inv.filter((o) => o.obj.type === 'HostSystem').sort((a, b) => String(a.props['name']).localeCompare(String(b.props['name'])));
    dvsName = String(inv.find((o) => o.obj.type !== 'HostSystem')!.props['name']);
    const where = await defaultPlacement(admin);
    const on = (i: number) => {
      hostName[i] = String(hosts[i]!.props['name']);
      return { ...where, host: hosts[i]!.obj };
    };
    vms['web'] = await createVmWithDevices(admin, on(0), { name: 'web, frontend', disksGiB: [1], nics: ['PG-VLAN101', 'DVPG-VLAN201'], nicType: 'VirtualVmxnet3', powerOn: true });
    vms['db'] = await createVmWithDevices(admin, on(0), { name: 'db', disksGiB: [1], nics: ['PG-VLAN101'], nicType: 'VirtualE1000e' });
    vms['app'] = await createVmWithDevices(admin, on(1), { name: 'app', disksGiB: [1], nics: ['DVPG-VLAN201'], nicType: 'VirtualVmxnet3' });
    // PG-VLAN102 exists on both hosts but has no VM: it is not listed.
    await waitForTask(admin, (await vim.reconfigure(admin, vms['web'], { extraConfig: [
      { key: 'SET.guest.toolsRunningStatus', value: typed('xsd:string', 'guestToolsRunning') },
      { key: 'SET.guest.ipAddress', value: typed('xsd:string', '10.101.0.15') },
    ] })).ref);
  }, 60_000);
  afterAll(() => {
    admin?.close();
    sim?.stop();
  });

  it('lists every network with a VM: cluster, host, portgroup, switch, VLAN and the NICs, as the fixtures made them', async () => {
    const { code, out, err } = await run(['--thumbprint', sim.info.thumbprint, '-d']);
    expect(err).toMatch(/\[debug\] connected to/);
    expect(code).toBe(0);
    const mac = async (vm: string, i: number) => (await vmDevices(admin, vms[vm]!)).nics[i]!.mac;
    expect(JSON.parse(out)).toEqual([
      { cluster: 'DC0_C0', host: hostName[0], portgroup: 'DVPG-VLAN201', switchType: 'distributed', switchName: dvsName, vlanId: 201, virtualMachines: [
        { name: 'web, frontend', ref: vms['web']!.value, powerState: 'Running', nics: [{ nic: 'nic1', macAddress: await mac('web', 1), adapterType: 'Vmxnet3', ipAddresses: [] }] },
      ] },
      { cluster: 'DC0_C0', host: hostName[0], portgroup: 'PG-VLAN101', switchType: 'standard', switchName: 'vSwitch0', vlanId: 101, virtualMachines: [
        { name: 'db', ref: vms['db']!.value, powerState: 'Stopped', nics: [{ nic: 'nic0', macAddress: await mac('db', 0), adapterType: 'E1000e', ipAddresses: [] }] },
        { name: 'web, frontend', ref: vms['web']!.value, powerState: 'Running', nics: [{ nic: 'nic0', macAddress: await mac('web', 0), adapterType: 'Vmxnet3', ipAddresses: ['10.101.0.15'] }] },
      ] },
      { cluster: 'DC0_C0', host: hostName[1], portgroup: 'DVPG-VLAN201', switchType: 'distributed', switchName: dvsName, vlanId: 201, virtualMachines: [
        { name: 'app', ref: vms['app']!.value, powerState: 'Stopped', nics: [{ nic: 'nic0', macAddress: await mac('app', 0), adapterType: 'Vmxnet3', ipAddresses: [] }] },
      ] },
    ]);
  });

  it('writes the CSV for a bulk createNetwork: one row per portgroup across hosts, a name with a comma quoted', async () => {
    const { code, out } = await run(['--thumbprint', sim.info.thumbprint, '--format', 'csv', '-c', 'DC0_C0']);
    expect(code).toBe(0);
    expect(out).toContain('"app;web, frontend"');
    expect(parse(out, { columns: true })).toEqual([
      { name: 'DVPG-VLAN201', displaytext: 'DVPG-VLAN201', vlan: '201', isolatedpvlan: '', switchtype: 'distributed', switch: dvsName, clusters: 'DC0_C0', hosts: [hostName[0], hostName[1]].sort().join(';'), vms: 'app;web, frontend' },
      { name: 'PG-VLAN101', displaytext: 'PG-VLAN101', vlan: '101', isolatedpvlan: '', switchtype: 'standard', switch: 'vSwitch0', clusters: 'DC0_C0', hosts: hostName[0], vms: 'db;web, frontend' },
    ]);
  });

  it('never trusts the certificate silently: no terminal refuses and prints the thumbprint, a wrong one is refused, a "y" at the prompt goes on', async () => {
    const none = await run([]);
    expect(none.code).toBe(1);
    expect(none.err).toContain(sim.info.thumbprint);
    expect(none.err).toContain(`pass --thumbprint ${sim.info.thumbprint}`);
    expect(none.out).toBe('');
    const wrong = await run(['--thumbprint', 'AA:'.repeat(31) + 'AA']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('refusing to connect');
    expect((await run([], { answer: 'n' })).code).toBe(1);
    const yes = await run(['-c', 'DC0_C0'], { answer: 'y' });
    expect(yes.code).toBe(0);
    expect((JSON.parse(yes.out) as unknown[]).length).toBe(3);
  });

  it('takes the password from the environment or -p, and names what is missing', async () => {
    await expect(run(['--thumbprint', sim.info.thumbprint], { env: { KILN_VSPHERE_PASSWORD: 'wrong' } })).rejects.toThrow(/InvalidLogin/);
    expect((await run(['--thumbprint', sim.info.thumbprint, '-p', sim.info.password], { env: { KILN_VSPHERE_PASSWORD: 'wrong' } })).code).toBe(0);
    const noPassword = await discoverNetworksCli(['-s', sim.info.host, '-u', 'x'], { out: () => undefined, err: () => undefined, env: {} });
    expect(noPassword).toBe(2);
    const unknownCluster = run(['--thumbprint', sim.info.thumbprint, '-c', 'nope']);
    await expect(unknownCluster).rejects.toThrow(/no cluster named "nope"; the endpoint has "DC0_C0"/);
    let help = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((t: string) => ((help += t), true)) as typeof process.stdout.write;
    try {
      expect(await main(['discover-networks', '--help'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(help).toContain('KILN_VSPHERE_PASSWORD');
    expect(help).toContain('--thumbprint');
  });
});

/**
 * Issue 11: the engine publishes what each host can do (listHosts `capabilities`, from the
 * driver's capabilities refined by the host and the facets its session offers), and listApis
 * says which of them an action needs, so clients gate by capability, not hypervisor name. Trust
 * is one model: the simulator presents a TLS certificate thumbprint, pinned on first use and
 * refused once it changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, deployDemo, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

describe('capabilities through the API', () => {
  it('lists a connected host with its capabilities and facets, and the trust anchor pinned on first use', async () => {
    await deployDemo(t, { name: 'caps' });
    const hosts = (await t.call('listHosts', {})).body['host'] as { name: string; capabilities?: Record<string, unknown>; hostkeyfingerprint?: string; trustkind?: string }[];
    const connected = hosts.filter((h) => h.capabilities);
    expect(connected.length).toBeGreaterThan(0);
    expect(connected[0]!.capabilities).toMatchObject({ liveMigration: true, snapshots: true, consoleSerial: true, consoleGraphical: false, migration: true, stageImage: true, maxGuestsLimit: 50 });
    expect(connected[0]!.trustkind).toBe('tls-certificate');
    expect(connected[0]!.hostkeyfingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it("publishes each driver's capabilities and how its endpoints are added in listHypervisorCapabilities", async () => {
    const sim = ((await t.call('listHypervisorCapabilities', { hypervisor: 'Simulator' })).body['hypervisorCapabilities'] as Record<string, unknown>[])[0]!;
    expect(sim).toMatchObject({
      hypervisor: 'Simulator',
      diskformat: 'qcow2',
      connectionurlexample: 'simulator://sim-1',
      connectionadds: 'host',
      connectioncredentials: 'none',
      trustkind: 'tls-certificate',
      capabilities: { liveMigration: true, storageMotion: true, crossClusterMigration: false },
    });
  });

  it('names the capabilities an action needs in listApis', async () => {
    const apis = (await t.call('listApis', {})).body['api'] as { name: string; capabilities?: string[] }[];
    const needs = (name: string) => apis.find((a) => a.name === name)?.capabilities;
    expect(needs('createVMSnapshot')).toEqual(['snapshots']);
    expect(needs('migrateVirtualMachineWithVolume')).toEqual(['storageMotion', 'migration']);
    expect(needs('createConsoleEndpoint')).toEqual(['consoleSerial']);
    expect(needs('listVirtualMachines')).toBeUndefined();
  });

  it('refuses a host whose certificate changed, in Alert with both thumbprints, until it is pinned again', async () => {
    const host = ((await t.call('listHosts', {})).body['host'] as { id: string; name: string; hostkeyfingerprint?: string }[]).find((h) => h.hostkeyfingerprint)!;
    const row = t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').get(host.id) as { id: number };
    const presented = t.engine.simulator.rekey(host.name);
    await t.engine.hosts.drop(row.id);
    await expect(t.engine.hosts.session(row.id)).rejects.toThrow(new RegExp(`expected SHA-256 thumbprint ${host.hostkeyfingerprint}, the host presented ${presented.fingerprint}`));
    expect(((await t.call('listHosts', { id: host.id })).body['host'] as { state: string }[])[0]!.state).toBe('Alert');
    // An admin's accept is a new pin of the same kind (the SSH form goes through acceptHostKey).
    t.engine.db.prepare('UPDATE hosts SET trust_fingerprint=? WHERE id=?').run(presented.fingerprint, row.id);
    await t.engine.hosts.session(row.id);
    expect(((await t.call('listHosts', { id: host.id })).body['host'] as { state: string }[])[0]!.state).toBe('Up');
  });
});

describe('connection rules come from the driver', () => {
  it("refuses an addHost URL by the driver's own rule, and a url on addCluster for a driver that adds hosts one by one, writing nothing", async () => {
    const cluster = (await t.call('listClusters', {})).body['cluster'] as { id: string; podid: string; zoneid: string; hypervisortype: string }[];
    const sim = cluster.find((c) => c.hypervisortype === 'Simulator')!;
    const before = (t.engine.db.prepare('SELECT COUNT(*) FROM hosts').pluck().get() as number) + (t.engine.db.prepare('SELECT COUNT(*) FROM clusters').pluck().get() as number);
    const host = await t.call('addHost', { zoneid: sim.zoneid, podid: sim.podid, clusterid: sim.id, hypervisor: 'Simulator', url: 'ssh://10.0.0.5' });
    expect(host.status).toBe(431);
    expect(host.body['errortext']).toBe('url: a simulated host is simulator://NAME[?cpus=N&mhz=MHZ&memory=MIB]');
    const added = await t.call('addCluster', { zoneid: sim.zoneid, podid: sim.podid, clustername: 'with-url', hypervisor: 'Simulator', url: 'simulator://x' });
    expect(added.status).toBe(431);
    expect(added.body['errortext']).toBe('url: a Simulator cluster gets its hosts one by one (addHost); leave url out');
    const after = (t.engine.db.prepare('SELECT COUNT(*) FROM hosts').pluck().get() as number) + (t.engine.db.prepare('SELECT COUNT(*) FROM clusters').pluck().get() as number);
    expect(after).toBe(before);
  });
});

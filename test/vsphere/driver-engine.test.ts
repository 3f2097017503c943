/**
 * The vSphere driver in the engine, through the API (the command registry, as the HTTP transport
 * calls it), against vcsim: addCluster hypervisor=VMware url=https://VCENTER/DC/CLUSTER discovers
 * the cluster's ESXi hosts as host rows (Up, with VMware's capabilities and the pinned TLS
 * thumbprint), a wrong URL or password writes nothing, and listHypervisorCapabilities publishes
 * the driver's connection form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('vSphere through the engine on vcsim', () => {
  let sim: Vcsim;
  let t: TestEngine;
  let zoneid: string;
  let podid: string;
  const counts = () => ({
    hosts: t.engine.db.prepare('SELECT COUNT(*) FROM hosts').pluck().get() as number,
    clusters: t.engine.db.prepare('SELECT COUNT(*) FROM clusters').pluck().get() as number,
  });
  const vcenter = () => `https://${sim.info.host}:${sim.info.port}`;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '2', '-host', '3', '-standalone-host', '1', '-vm', '1']);
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 2 })] });
    zoneid = ((await t.call('createZone', { name: 'VMware Zone' })).body['zone'] as { id: string }).id;
    podid = ((await t.call('createPod', { name: 'VMware Pod', zoneid })).body['pod'] as { id: string }).id;
  });
  afterAll(async () => {
    await t?.close();
    sim?.stop();
  });

  it('listHypervisorCapabilities publishes how a vCenter is added', async () => {
    const vmw = ((await t.call('listHypervisorCapabilities', { hypervisor: 'VMware' })).body['hypervisorCapabilities'] as Record<string, unknown>[])[0]!;
    expect(vmw).toMatchObject({ hypervisor: 'VMware', diskformat: 'vmdk', connectionadds: 'cluster', trustkind: 'tls-certificate', capabilities: { liveMigration: true, storageMotion: true, crossClusterMigration: true } });
  });

  it('a cluster URL without a cluster, an unknown cluster and a wrong password are refused, writing nothing', async () => {
    const before = counts();
    const base = { zoneid, podid, hypervisor: 'VMware', username: sim.info.username, password: sim.info.password };
    const noCluster = await t.call('addCluster', { ...base, clustername: 'x', url: `${vcenter()}/DC0` });
    expect(noCluster.status).toBe(431);
    expect(String(noCluster.body['errortext'])).toMatch(/^url: a vCenter cluster is https:\/\/VCENTER\[:port\]\/DATACENTER\/CLUSTER/);
    const unknown = await t.call('addCluster', { ...base, clustername: 'x', url: `${vcenter()}/DC0/NoSuchCluster` });
    expect(unknown.status).toBeGreaterThanOrEqual(431);
    expect(String(unknown.body['errortext'])).toContain('NoSuchCluster');
    const badPassword = await t.call('addCluster', { ...base, clustername: 'x', url: `${vcenter()}/DC0/DC0_C0`, password: 'wrong' });
    expect(badPassword.status).toBeGreaterThanOrEqual(431);
    expect(String(badPassword.body['errortext'])).toMatch(/InvalidLogin/);
    expect(counts()).toEqual(before);
  });

  it('addCluster hypervisor=VMware url=https://VCENTER/DC0/DC0_C0 adds the cluster\'s three ESXi hosts, Up, with VMware capabilities and the pinned thumbprint', async () => {
    const res = await t.call('addCluster', {
      zoneid, podid, clustername: 'C0', hypervisor: 'VMware', url: `${vcenter()}/DC0/DC0_C0`, username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    });
    expect(res.status).toBe(200);
    const cluster = res.body['cluster'] as { id: string; hypervisortype: string };
    expect(cluster.hypervisortype).toBe('VMware');
    const hosts = (await t.call('listHosts', { clusterid: cluster.id })).body['host'] as { name: string; state: string; hypervisor: string; trustkind?: string; hostkeyfingerprint?: string; capabilities?: Record<string, unknown> }[];
    expect(hosts.map((h) => h.name).sort()).toEqual(['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2']);
    for (const h of hosts) {
      expect(h).toMatchObject({ state: 'Up', hypervisor: 'VMware', trustkind: 'tls-certificate', hostkeyfingerprint: sim.info.thumbprint });
      expect(h.capabilities).toMatchObject({ liveMigration: true, storageMotion: true, crossClusterMigration: true, snapshots: true, migration: true, consoleSerial: false, maxGuestsLimit: 1024 });
    }
    // The same vCenter cluster twice is refused.
    const again = await t.call('addCluster', { zoneid, podid, clustername: 'C0 again', hypervisor: 'VMware', url: `${vcenter()}/DC0/DC0_C0`, username: sim.info.username, password: sim.info.password });
    expect(again.status).toBe(431);
    expect(String(again.body['errortext'])).toContain('already added');
  });
  it('addHost takes a standalone ESXi (its compute resource behind the vCenter): one host, Up', async () => {
    const cluster = ((await t.call('addCluster', { zoneid, podid, clustername: 'standalone', hypervisor: 'VMware' })).body['cluster'] as { id: string }).id;
    const res = await t.call('addHost', { zoneid, podid, clusterid: cluster, hypervisor: 'VMware', url: `${vcenter()}/DC0/DC0_H0`, username: sim.info.username, password: sim.info.password });
    expect(res.status).toBe(200);
    const hosts = (await t.call('listHosts', { clusterid: cluster })).body['host'] as { name: string; state: string }[];
    expect(hosts.map((h) => [h.name, h.state])).toEqual([['DC0_H0', 'Up']]);
  });

  it('vCenter killed: its hosts go Disconnected; when it is back they come Up again', async () => {
    const rows = () => (t.engine.db.prepare(`SELECT id, name, state FROM hosts WHERE hypervisor='VMware' AND removed IS NULL ORDER BY name`).all() as { id: number; name: string; state: string }[]);
    expect(rows().map((r) => r.state)).toEqual(['Up', 'Up', 'Up', 'Up']);
    sim.kill();
    for (let i = 0; i < 100 && rows().some((r) => r.state !== 'Disconnected'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(rows().map((r) => r.state)).toEqual(['Disconnected', 'Disconnected', 'Disconnected', 'Disconnected']);
    const listed = (await t.call('listHosts', { hypervisor: 'VMware' })).body['host'] as { state: string }[];
    expect(listed.every((h) => h.state === 'Disconnected')).toBe(true);
    // While it is away a reconnect fails with the reason and changes nothing.
    await expect(t.engine.hosts.session(rows()[0]!.id)).rejects.toThrow(/cannot be reached|unreachable|ECONNREFUSED/);
    sim.restart();
    // What the background host check does: reconnect each host.
    for (const r of rows()) await t.engine.hosts.session(r.id);
    expect(rows().map((r) => r.state)).toEqual(['Up', 'Up', 'Up', 'Up']);
  }, 30_000);
});

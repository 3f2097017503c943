/**
 * R14 through the API on the simulator: the per-host VM limit (listHypervisorCapabilities /
 * updateHypervisorCapabilities maxguestslimit, the driver's default, a cluster's own
 * cluster.max.guests.per.host), placement refusing a host at the limit, and checkClusterHeadroom's
 * (N−1)·L and largest-host warnings with the VMs that would not fit if a given host died.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { refreshHeadroom } from '../../main/engine/placement/headroom.js';
import { KvmDriver, KVM_CAPABILITIES } from '../../drivers/kvm/index.js';

interface Capability { id: string; hypervisor: string; hypervisorversion: string; maxguestslimit: number }
interface HeadroomBody {
  clustername: string; hasheadroom: boolean; hostcount: number; maxguestsperhost: number; maxguestssource: string; vmcount: number; safevmcount: number;
  largesthostname: string; canabsorblargesthost: boolean; warning: string[];
  hostfailure: { hostname: string; vmcount: number; canrestartall: boolean; unplaceable: { name: string; reason: string }[] }[];
}

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let hosts: { uuid: string; name: string }[];
let clusterId: string;

const simulator = async () => ((await t.call('listHypervisorCapabilities', { hypervisor: 'Simulator' })).body['hypervisorCapabilities'] as Capability[])[0]!;
const headroom = async (extra: Record<string, string> = {}) => (await t.call('checkClusterHeadroom', { clusterid: clusterId, ...extra })).body['clusterheadroom'] as HeadroomBody;
const deployCall = (name: string, host: number) => t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name, hostid: hosts[host]!.uuid });
const deployOn = (name: string, host: number) => t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name, hostid: hosts[host]!.uuid });

beforeEach(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  hosts = t.engine.db.prepare('SELECT uuid, name FROM hosts ORDER BY id').all() as { uuid: string; name: string }[];
  clusterId = (t.engine.db.prepare('SELECT uuid FROM clusters').get() as { uuid: string }).uuid;
  // The demo VMs are stopped so the test decides where every running VM is.
  for (const vm of t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state='Running'`).all() as { uuid: string }[]) await t.run('stopVirtualMachine', { id: vm.uuid });
});
afterEach(async () => t.close());

describe('hypervisor capabilities (maxguestslimit)', () => {
  it("lists the driver's default and keeps the admin's override", async () => {
    const before = await simulator();
    expect(before).toMatchObject({ hypervisor: 'Simulator', hypervisorversion: 'default', maxguestslimit: t.engine.simulator.capabilities.maxGuestsLimit });
    const updated = await t.call('updateHypervisorCapabilities', { id: before.id, maxguestslimit: '7' });
    expect(updated.status).toBe(200);
    expect(updated.body['hypervisorcapabilities']).toMatchObject({ id: before.id, maxguestslimit: 7 });
    expect((await simulator()).maxguestslimit).toBe(7);
    expect((await headroom()).maxguestsperhost).toBe(7);
  });

  it('refuses a bad limit, an unknown id and non-admin callers', async () => {
    const { id } = await simulator();
    const zero = await t.call('updateHypervisorCapabilities', { id, maxguestslimit: '0' });
    expect(zero.status).toBe(431);
    expect(zero.body['errortext']).toMatch(/maxguestslimit: must be 1 or more/);
    const text = await t.call('updateHypervisorCapabilities', { id, maxguestslimit: 'many' });
    expect(text.status).toBe(431);
    expect(text.body['errortext']).toMatch(/Invalid parameter maxguestslimit/);
    const unknown = await t.call('updateHypervisorCapabilities', { id: '00000000-0000-4000-8000-000000000000', maxguestslimit: '3' });
    expect(unknown.status).toBe(431);
    expect(unknown.body['errortext']).toMatch(/Invalid parameter id/);
    expect((await simulator()).maxguestslimit).toBe(t.engine.simulator.capabilities.maxGuestsLimit);

    await t.call('createAccount', { username: 'u1', password: 'pw-123456', email: 'u1@x', firstname: 'u', lastname: 'one', accounttype: '0' });
    const caller = t.engine.accounts.byUserId(t.engine.db.prepare(`SELECT id FROM users WHERE username='u1'`).pluck().get() as number)!;
    for (const command of ['listHypervisorCapabilities', 'updateHypervisorCapabilities']) {
      expect((await t.call(command, { id, maxguestslimit: '1' }, caller)).status).toBe(432);
    }
  });
});

describe("each driver's declared default", () => {
  it("lists KVM's from the KVM driver's capabilities, without a host, and a KVM cluster uses it", async () => {
    const k = await testEngine({ drivers: [new KvmDriver()] });
    try {
      const caps = (await k.call('listHypervisorCapabilities')).body['hypervisorCapabilities'] as (Capability & { storagemotionenabled: boolean })[];
      expect(caps.map((c) => c.hypervisor).sort()).toEqual(['KVM', 'Simulator']);
      expect(caps.find((c) => c.hypervisor === 'KVM')).toMatchObject({ maxguestslimit: KVM_CAPABILITIES.maxGuestsLimit, storagemotionenabled: KVM_CAPABILITIES.storageMotion });
      const pod = k.engine.db.prepare('SELECT uuid FROM pods').pluck().get() as string;
      const zone = k.engine.db.prepare('SELECT uuid FROM zones').pluck().get() as string;
      const added = await k.call('addCluster', { zoneid: zone, podid: pod, clustername: 'kvm-a', hypervisor: 'KVM', clustertype: 'CloudManaged' });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      const kvmCluster = added.body['cluster'] as { id: string };
      const h = (await k.call('checkClusterHeadroom', { clusterid: kvmCluster.id })).body['clusterheadroom'] as HeadroomBody;
      expect(h).toMatchObject({ maxguestsperhost: KVM_CAPABILITIES.maxGuestsLimit, maxguestssource: 'hypervisor', hostcount: 0, vmcount: 0, warning: [] });
    } finally {
      await k.close();
    }
  });
});

describe('placement respects the per-host VM limit', () => {
  it("refuses a host at the limit, names it in the 533, and places elsewhere without hostid", async () => {
    await t.call('updateHypervisorCapabilities', { id: (await simulator()).id, maxguestslimit: '2' });
    await deployOn('full-1', 0);
    await deployOn('full-2', 0);
    const third = await deployCall('full-3', 0);
    expect(third.status).toBe(533);
    expect(third.body['errortext']).toBe(`Unable to create a deployment for offering Small Instance: no suitable host (${hosts[0]!.name}: VM limit: runs 2 of at most 2 VMs per host (maxguestslimit))`);
    expect(t.engine.db.prepare(`SELECT COUNT(*) FROM vm_instances WHERE display_name='full-3'`).pluck().get()).toBe(0);
    // No host chosen: placement skips the full host.
    const free = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'free-1' });
    expect(free['jobstatus']).toBe(1);
    expect(((free['jobresult'] as { virtualmachine: { hostname: string } }).virtualmachine).hostname).not.toBe(hosts[0]!.name);
  });

  it("a cluster's own cluster.max.guests.per.host wins over the hypervisor's", async () => {
    const clusterRowId = t.engine.db.prepare('SELECT id FROM clusters').pluck().get() as number;
    const set = await t.call('updateConfiguration', { name: 'cluster.max.guests.per.host', value: '1', clusterid: clusterId });
    expect(set.status).toBe(200);
    expect(t.engine.settings.raw('cluster.max.guests.per.host', { clusterId: clusterRowId })).toBe('1');
    await deployOn('only-1', 1);
    const second = await deployCall('only-2', 1);
    expect(second.status).toBe(533);
    expect(second.body['errortext']).toMatch(/VM limit: runs 1 of at most 1 VMs per host/);
    expect(await headroom()).toMatchObject({ maxguestsperhost: 1, maxguestssource: 'cluster' });
  });
});

describe('checkClusterHeadroom (R14)', () => {
  it('has headroom when the VMs fit (N−1)·L and any host can fail', async () => {
    await t.call('updateHypervisorCapabilities', { id: (await simulator()).id, maxguestslimit: '4' });
    await deployOn('a', 0);
    await deployOn('b', 1);
    const h = await headroom();
    expect(h).toMatchObject({ hasheadroom: true, hostcount: 3, maxguestsperhost: 4, maxguestssource: 'hypervisor', vmcount: 2, safevmcount: 8, canabsorblargesthost: true, warning: [] });
  });

  it('warns past (N−1)·L and when the largest host cannot be absorbed, naming the VMs that would not fit', async () => {
    await t.call('updateHypervisorCapabilities', { id: (await simulator()).id, maxguestslimit: '2' });
    // host1: web-a, web-b; host2: web-c, web-d; host3: web-e. 5 VMs > (3−1)·2 = 4.
    for (const [name, host] of [['web-a', 0], ['web-b', 0], ['web-c', 1], ['web-d', 1], ['web-e', 2]] as const) expect((await deployOn(name, host))['jobstatus']).toBe(1);
    refreshHeadroom(t.engine); // what the HA pass does every ha.monitor.interval
    const h = await headroom();
    expect(h).toMatchObject({ hasheadroom: false, vmcount: 5, safevmcount: 4, largesthostname: hosts[0]!.name, canabsorblargesthost: false });
    expect(h.warning).toEqual([
      'Demo Cluster runs 5 VMs, more than (N−1)·L = (3−1)·2 = 4: if one host fails, its VMs cannot all restart on the others.',
      `Demo Cluster cannot absorb its largest host: if ${hosts[0]!.name} (2 VMs) failed, 1 could not restart elsewhere: web-b.`,
    ]);
    // Per host: host1's loss strands web-b (host3 takes web-a; host2 is full), host2's strands web-d, host3's web-e.
    const byHost = Object.fromEntries(h.hostfailure.map((f) => [f.hostname, f]));
    expect(byHost[hosts[0]!.name]!.unplaceable.map((u) => u.name)).toEqual(['web-b']);
    expect(byHost[hosts[0]!.name]!.unplaceable[0]!.reason).toMatch(/VM limit: runs 2 of at most 2/);
    expect(byHost[hosts[1]!.name]!.unplaceable.map((u) => u.name)).toEqual(['web-d']);
    expect(byHost[hosts[2]!.name]!.unplaceable.map((u) => u.name)).toEqual(['web-e']);
    // One host asked for: only its failure.
    const one = await headroom({ hostid: hosts[2]!.uuid });
    expect(one.hostfailure.map((f) => f.hostname)).toEqual([hosts[2]!.name]);
    expect((await t.call('listClusters')).body['cluster']).toMatchObject([{ haheadroom: false }]);
    // Raising the limit gives the headroom back, and the events say so.
    await t.call('updateHypervisorCapabilities', { id: (await simulator()).id, maxguestslimit: '3' });
    expect(await headroom()).toMatchObject({ hasheadroom: true, safevmcount: 6, warning: [] });
    for (const type of ['CLUSTER.HEADROOM.LOST', 'CLUSTER.HEADROOM.OK']) expect((await t.call('listEvents', { type })).body['event']).toHaveLength(1);
    // The event says why, in the first warning's words.
    const lost = ((await t.call('listEvents', { type: 'CLUSTER.HEADROOM.LOST' })).body['event'] as { level: string; description: string }[])[0]!;
    expect(lost).toMatchObject({ level: 'WARN', description: 'cluster Demo Cluster lost its N-1 headroom: Demo Cluster runs 5 VMs, more than (N−1)·L = (3−1)·2 = 4: if one host fails, its VMs cannot all restart on the others.' });
  });

  it('within (N−1)·L, warns about a smaller host whose VMs only it can take (a host tag)', async () => {
    await t.call('updateHypervisorCapabilities', { id: (await simulator()).id, maxguestslimit: '10' });
    await t.call('updateHost', { id: hosts[2]!.uuid, hosttags: 'ssd' });
    const ssd = ((await t.call('createServiceOffering', { name: 'ssd-small', cpunumber: '1', cpuspeed: '500', memory: '512', hosttags: 'ssd' })).body['serviceoffering'] as { id: string }).id;
    for (const [name, host] of [['plain-1', 0], ['plain-2', 0], ['plain-3', 1]] as const) await deployOn(name, host);
    expect((await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ssd, name: 'fast-1', hostid: hosts[2]!.uuid }))['jobstatus']).toBe(1);
    const h = await headroom();
    expect(h).toMatchObject({ hasheadroom: false, vmcount: 4, safevmcount: 20, largesthostname: hosts[0]!.name, canabsorblargesthost: true });
    expect(h.warning).toEqual([`If ${hosts[2]!.name} (1 VM) failed, 1 could not restart elsewhere: fast-1.`]);
    expect(h.hostfailure.find((f) => f.hostname === hosts[2]!.name)!.unplaceable[0]!.reason).toMatch(/tag ssd missing/);
  });

  it('refuses a host that is not in the cluster', async () => {
    const res = await t.call('checkClusterHeadroom', { clusterid: clusterId, hostid: '00000000-0000-4000-8000-000000000000' });
    expect(res.status).toBe(431);
    expect(res.body['errortext']).toMatch(/hostid: host .* is not in cluster Demo Cluster/);
  });
});

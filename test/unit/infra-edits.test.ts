/**
 * updateZone, updatePod, updateCluster, deleteZone, deletePod and deleteCluster (CloudStack's
 * semantics): an update answers the record as its list does and sends it on the zones/pods/clusters
 * live channel; a delete is refused (431, naming what is in the way, nothing written) while the zone
 * still has pods, networks or storage, the pod clusters or hosts, the cluster hosts or pools, and an
 * empty one goes (its id in the channel's `removed`, its name free again); a Disabled zone, pod or
 * cluster takes no new VM (the planner's allocation-state verdict names it); others than the root
 * admin get 531; listApis publishes the six with their parameter rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbFingerprint, demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import type { InfraUpdate } from '../../preload/api.js';
import type { InfraChannel } from '../../main/engine/live/infra-feed.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let demo: { zone: string; pod: string; cluster: string };
let carol: Caller;
/** What each live channel sent. */
const sent: Record<InfraChannel, InfraUpdate[]> = { zones: [], pods: [], clusters: [] };

const errorOf = async (command: string, params: Record<string, string>, caller?: Caller) => {
  const r = await t.call(command, params, caller);
  return { status: r.status, text: String(r.body['errortext'] ?? '') };
};
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check(), what).toBe(true);
};
const changed = (channel: InfraChannel, id: string) => sent[channel].flatMap((m) => m.changed).filter((r) => r['id'] === id);
const removed = (channel: InfraChannel, id: string) => sent[channel].some((m) => m.removed.includes(id));

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const row = t.engine.db.prepare(`SELECT z.uuid AS zone, p.uuid AS pod, c.uuid AS cluster FROM clusters c JOIN pods p ON p.id=c.pod_id JOIN zones z ON z.id=c.zone_id ORDER BY c.id LIMIT 1`).get() as typeof demo;
  demo = row;
  for (const channel of ['zones', 'pods', 'clusters'] as const) t.engine.infraFeeds[channel].emitter.on(channel, (m: InfraUpdate) => sent[channel].push(m));
  const domainId = t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).pluck().get() as number;
  const { userId } = t.engine.accounts.createAccount({ name: 'carol', role: 'User', domainId, username: 'carol', password: 'secret-pw' });
  carol = t.engine.accounts.byUserId(userId) as Caller;
});
afterAll(() => t.close());

describe('update', () => {
  it('updateZone renames, sets DNS, domain and allocation state, answers as listZones does and sends the record live', async () => {
    const zone = ((await t.ok('createZone', { name: 'Edit Zone' }))['zone'] as { id: string }).id;
    const answer = (await t.ok('updateZone', { id: zone, name: 'Edited Zone', dns1: '10.0.0.53', dns2: '10.0.0.54', internaldns1: '10.1.0.53', domain: 'lab.example', allocationstate: 'Disabled' }))['zone'];
    expect(answer).toMatchObject({ id: zone, name: 'Edited Zone', dns1: '10.0.0.53', dns2: '10.0.0.54', internaldns1: '10.1.0.53', domain: 'lab.example', allocationstate: 'Disabled' });
    expect(answer).toEqual(((await t.ok('listZones', { id: zone }))['zone'] as unknown[])[0]);
    await until(() => changed('zones', zone).some((r) => r['name'] === 'Edited Zone'), 'renamed zone sent');
    // An empty value clears (CloudStack: "empty string will update domain with NULL value").
    expect(((await t.ok('updateZone', { id: zone, domain: '', dns2: '' }))['zone'] as Record<string, unknown>)['domain']).toBeUndefined();
    expect(((await t.ok('listZones', { id: zone }))['zone'] as Record<string, unknown>[])[0]).toMatchObject({ dns1: '10.0.0.53', dns2: undefined, domain: undefined });
  });

  it('updateZone refuses a bad allocation state, a bad DNS address and a taken name (431 naming the parameter), writing nothing', async () => {
    const zone = ((await t.ok('createZone', { name: 'Strict Zone' }))['zone'] as { id: string }).id;
    const before = dbFingerprint(t.engine);
    expect(await errorOf('updateZone', { id: zone, allocationstate: 'enabled' })).toEqual({ status: 431, text: 'allocationstate: "enabled" is not an allocation state: Enabled or Disabled' });
    expect(await errorOf('updateZone', { id: zone, dns1: '10.0.0.300' })).toEqual({ status: 431, text: 'dns1: "10.0.0.300" is not an IPv4 address (four numbers 0-255 separated by dots)' });
    expect(await errorOf('updateZone', { id: zone, name: 'Demo' })).toEqual({ status: 431, text: 'name: a zone named Demo already exists' });
    expect(await errorOf('updateZone', { id: zone, name: '  ' })).toEqual({ status: 431, text: 'name: a zone name cannot be empty' });
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('updateZone sets the IPv6 DNS servers, guest CIDR, sort key and details; listZones answers them and orders by sortkey', async () => {
    const zone = ((await t.ok('createZone', { name: 'More Zone' }))['zone'] as { id: string }).id;
    const answer = (await t.ok('updateZone', { id: zone, ip6dns1: '2001:db8::53', ip6dns2: '2001:db8::54', guestcidraddress: '10.1.0.0/16', sortkey: '-1', 'details[0].key': 'owner', 'details[0].value': 'lab' }))['zone'];
    expect(answer).toMatchObject({ ip6dns1: '2001:db8::53', ip6dns2: '2001:db8::54', guestcidraddress: '10.1.0.0/16', resourcedetails: { owner: 'lab' } });
    expect(answer).toEqual(((await t.ok('listZones', { id: zone }))['zone'] as unknown[])[0]);
    // Sort key -1 comes before the zones at the default 0.
    expect(((await t.ok('listZones'))['zone'] as { id: string }[])[0]!.id).toBe(zone);
    await t.ok('updateZone', { id: zone, sortkey: '5' });
    expect(((await t.ok('listZones'))['zone'] as { id: string }[]).at(-1)!.id).toBe(zone);
    // Details given are merged into the zone's (CloudStack's editZone); empty values clear the others.
    const cleared = (await t.ok('updateZone', { id: zone, ip6dns2: '', guestcidraddress: '', 'details[0].key': 'rack', 'details[0].value': 'r1' }))['zone'] as Record<string, unknown>;
    expect(cleared).toMatchObject({ ip6dns1: '2001:db8::53', resourcedetails: { owner: 'lab', rack: 'r1' } });
    expect(cleared['ip6dns2']).toBeUndefined();
    expect(cleared['guestcidraddress']).toBeUndefined();
  });

  it('listZones answers the sort key (0 until set), and updateZone cleanupdetails=true removes the last detail, not with details', async () => {
    const zone = ((await t.ok('createZone', { name: 'Keyed Zone' }))['zone'] as { id: string; sortkey?: number });
    expect(zone.sortkey).toBe(0);
    const listed = async () => ((await t.ok('listZones', { id: zone.id }))['zone'] as Record<string, unknown>[])[0]!;
    expect((await listed())['sortkey']).toBe(0);
    expect(((await t.ok('updateZone', { id: zone.id, sortkey: '7' }))['zone'] as Record<string, unknown>)['sortkey']).toBe(7);
    expect((await listed())['sortkey']).toBe(7);

    await t.ok('updateZone', { id: zone.id, 'details[0].key': 'owner', 'details[0].value': 'lab' });
    expect((await listed())['resourcedetails']).toEqual({ owner: 'lab' });
    const before = dbFingerprint(t.engine);
    expect(await errorOf('updateZone', { id: zone.id, cleanupdetails: 'true', 'details[0].key': 'rack', 'details[0].value': 'r1' })).toEqual({ status: 431, text: 'cleanupdetails: true removes all the details; give it or details, not both' });
    expect(dbFingerprint(t.engine)).toBe(before);
    await t.ok('updateZone', { id: zone.id, cleanupdetails: 'false' });
    expect((await listed())['resourcedetails']).toEqual({ owner: 'lab' });
    const cleaned = (await t.ok('updateZone', { id: zone.id, cleanupdetails: 'true' }))['zone'] as Record<string, unknown>;
    expect(cleaned['resourcedetails']).toBeUndefined();
    expect((await listed())['resourcedetails']).toBeUndefined();
    expect((await listed())['sortkey']).toBe(7);
    expect(t.engine.db.prepare(`SELECT description FROM events WHERE type='ZONE.EDIT' AND resource_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(zone.id)).toContain('details cleared');
  });

  it("updateZone details merge into the zone's as CloudStack's editZone does; removeResourceDetail resourcetype=Zone removes one (or all without key)", async () => {
    const zone = ((await t.ok('createZone', { name: 'Merge Zone' }))['zone'] as { id: string }).id;
    const listed = async () => (((await t.ok('listZones', { id: zone }))['zone'] as Record<string, unknown>[])[0]!)['resourcedetails'];
    await t.ok('updateZone', { id: zone, 'details[0].key': 'owner', 'details[0].value': 'lab', 'details[1].key': 'rack', 'details[1].value': 'A4' });
    // A client that sends one detail keeps the others; a key given again takes the new value.
    await t.ok('updateZone', { id: zone, 'details[0].key': 'row', 'details[0].value': '7' });
    expect(await listed()).toEqual({ owner: 'lab', rack: 'A4', row: '7' });
    await t.ok('updateZone', { id: zone, 'details[0].key': 'rack', 'details[0].value': 'B2' });
    expect(await listed()).toEqual({ owner: 'lab', rack: 'B2', row: '7' });
    // One detail removed the CloudStack way; the event names it and the zone goes on the live channel.
    sent.zones.length = 0;
    const removedOne = await t.run('removeResourceDetail', { resourcetype: 'Zone', resourceid: zone, key: 'rack' });
    expect(removedOne['jobstatus']).toBe(1);
    expect(removedOne['jobresult']).toMatchObject({ success: true });
    expect(await listed()).toEqual({ owner: 'lab', row: '7' });
    expect(t.engine.db.prepare(`SELECT description FROM events WHERE type='ZONE.EDIT' AND resource_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(zone)).toBe('zone Merge Zone updated: detail rack removed (removeResourceDetail)');
    await until(() => changed('zones', zone).some((r) => JSON.stringify(r['resourcedetails']) === JSON.stringify({ owner: 'lab', row: '7' })), 'the zone without rack on the zones channel');
    // A key the zone does not have: nothing removed, success (CloudStack's removeDetail).
    expect((await t.run('removeResourceDetail', { resourcetype: 'zone', resourceid: zone, key: 'nope' }))['jobstatus']).toBe(1);
    expect(await listed()).toEqual({ owner: 'lab', row: '7' });
    // Refusals name the parameter and write nothing.
    const before = dbFingerprint(t.engine);
    expect(await errorOf('removeResourceDetail', { resourcetype: 'UserVm', resourceid: zone, key: 'owner' })).toEqual({ status: 431, text: 'resourcetype: "UserVm" is not a resource type Kiln keeps details for with removeResourceDetail: Zone' });
    expect(await errorOf('removeResourceDetail', { resourcetype: 'Zone', resourceid: zone, key: ' ' })).toEqual({ status: 431, text: 'key: give the key of the detail to remove, or no key to remove them all' });
    expect((await errorOf('removeResourceDetail', { resourcetype: 'Zone', resourceid: zone, key: 'owner' }, carol)).status).toBe(432);
    expect(dbFingerprint(t.engine)).toBe(before);
    // Without key: all of them.
    expect((await t.run('removeResourceDetail', { resourcetype: 'Zone', resourceid: zone }))['jobstatus']).toBe(1);
    expect(await listed()).toBeUndefined();
  });

  it("addResourceDetail resourcetype=Zone sets the pairs given on the zone's details and keeps the others, as CloudStack's addResourceMetaData", async () => {
    const zone = ((await t.ok('createZone', { name: 'Added Zone' }))['zone'] as { id: string }).id;
    const listed = async () => (((await t.ok('listZones', { id: zone }))['zone'] as Record<string, unknown>[])[0]!)['resourcedetails'];
    await t.ok('updateZone', { id: zone, 'details[0].key': 'owner', 'details[0].value': 'lab' });
    const added = await t.run('addResourceDetail', { resourcetype: 'Zone', resourceid: zone, 'details[0].key': 'rack', 'details[0].value': 'A4', 'details[1].key': 'owner', 'details[1].value': 'ops', fordisplay: 'true' });
    expect(added['jobstatus']).toBe(1);
    expect(added['jobresult']).toMatchObject({ success: true });
    expect(await listed()).toEqual({ owner: 'ops', rack: 'A4' });
    expect(t.engine.db.prepare(`SELECT description FROM events WHERE type='ZONE.EDIT' AND resource_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(zone)).toBe('zone Added Zone updated: details rack, owner set (addResourceDetail)');
    const before = dbFingerprint(t.engine);
    expect(await errorOf('addResourceDetail', { resourcetype: 'Host', resourceid: zone, 'details[0].key': 'a', 'details[0].value': 'b' })).toEqual({ status: 431, text: 'resourcetype: "Host" is not a resource type Kiln keeps details for with addResourceDetail: Zone' });
    expect(await errorOf('addResourceDetail', { resourcetype: 'Zone', resourceid: zone, 'details[0].key': 'a', 'details[0].value': 'b', fordisplay: 'false' })).toEqual({ status: 431, text: "fordisplay: Kiln shows a zone's details to whoever lists the zone; false is not kept" });
    expect((await errorOf('addResourceDetail', { resourcetype: 'Zone', resourceid: zone })).status).toBe(431);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('updateZone refuses a bad IPv6 DNS, a bad or host-addressed CIDR and a bad sort key (431 naming the parameter), writing nothing', async () => {
    const zone = ((await t.ok('createZone', { name: 'Strict More Zone' }))['zone'] as { id: string }).id;
    const before = dbFingerprint(t.engine);
    expect(await errorOf('updateZone', { id: zone, ip6dns1: '10.0.0.53' })).toEqual({ status: 431, text: 'ip6dns1: "10.0.0.53" is not an IPv6 address' });
    expect(await errorOf('updateZone', { id: zone, guestcidraddress: '10.1.0.0/33' })).toEqual({ status: 431, text: 'guestcidraddress: "10.1.0.0/33" is not an IPv4 CIDR (address/prefix length 0-32)' });
    expect(await errorOf('updateZone', { id: zone, guestcidraddress: '10.1.2.3/16' })).toEqual({ status: 431, text: 'guestcidraddress: "10.1.2.3/16" has host bits set (the network of /16 is 10.1.0.0/16)' });
    expect((await errorOf('updateZone', { id: zone, sortkey: 'first' })).status).toBe(431);
    // A bad value beside good ones writes none of them.
    expect((await errorOf('updateZone', { id: zone, name: 'Renamed Strict', dns1: '10.0.0.1', ip6dns2: 'nope' })).text).toBe('ip6dns2: "nope" is not an IPv6 address');
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('updatePod renames, changes its range within the gateway\'s subnet and refuses one outside it or reversed', async () => {
    const pod = ((await t.ok('createPod', { zoneid: demo.zone, name: 'Range Pod', gateway: '192.168.10.1', netmask: '255.255.255.0', startip: '192.168.10.10', endip: '192.168.10.20' }))['pod'] as { id: string }).id;
    const answer = (await t.ok('updatePod', { id: pod, name: 'Ranged Pod', startip: '192.168.10.30', endip: '192.168.10.40', allocationstate: 'Disabled' }))['pod'];
    expect(answer).toMatchObject({ id: pod, name: 'Ranged Pod', startip: ['192.168.10.30'], endip: ['192.168.10.40'], gateway: '192.168.10.1', allocationstate: 'Disabled' });
    await until(() => changed('pods', pod).some((r) => r['name'] === 'Ranged Pod'), 'renamed pod sent');
    expect(await errorOf('updatePod', { id: pod, endip: '192.168.11.5' })).toEqual({ status: 431, text: "endip: 192.168.11.5 is not in the pod's subnet (gateway 192.168.10.1, netmask 255.255.255.0)" });
    expect((await errorOf('updatePod', { id: pod, startip: '192.168.10.50' })).text).toBe('startip: 192.168.10.50 comes after endip 192.168.10.40; the start IP address must have a lower value than the end IP address');
    expect((await errorOf('updatePod', { id: pod, name: 'Demo Pod' })).text).toBe('name: the zone already has a pod named Demo Pod');
    expect(((await t.ok('listPods', { id: pod }))['pod'] as Record<string, unknown>[])[0]).toMatchObject({ startip: ['192.168.10.30'], endip: ['192.168.10.40'] });
  });

  it('updateCluster renames and sets allocation and managed state', async () => {
    const pod = ((await t.ok('createPod', { zoneid: demo.zone, name: 'Cluster Edit Pod' }))['pod'] as { id: string }).id;
    const cluster = ((await t.ok('addCluster', { zoneid: demo.zone, podid: pod, clustername: 'Edit Cluster', hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
    const answer = (await t.ok('updateCluster', { id: cluster, clustername: 'Edited Cluster', allocationstate: 'Disabled', managedstate: 'Unmanaged' }))['cluster'];
    expect(answer).toMatchObject({ id: cluster, name: 'Edited Cluster', allocationstate: 'Disabled', managedstate: 'Unmanaged' });
    await until(() => changed('clusters', cluster).some((r) => r['allocationstate'] === 'Disabled'), 'disabled cluster sent');
    expect((await errorOf('updateCluster', { id: cluster, managedstate: 'PrepareUnmanaged' })).text).toBe('managedstate: "PrepareUnmanaged" is not a managed state: Managed or Unmanaged');
  });

  it("a rename sends the cluster's hosts again on the 'hosts' channel, with the new cluster name", async () => {
    const hostsSent: InfraUpdate[] = [];
    const listener = (m: InfraUpdate) => hostsSent.push(m);
    t.engine.hostFeed.emitter.on('hosts', listener);
    try {
      await t.ok('updateCluster', { id: demo.cluster, clustername: 'Renamed Demo Cluster' });
      const names = () => new Set(hostsSent.flatMap((m) => m.changed).filter((h) => h['clustername'] === 'Renamed Demo Cluster').map((h) => h['name']));
      await until(() => names().size === 3, 'the three demo hosts sent with the new name');
    } finally {
      t.engine.hostFeed.emitter.off('hosts', listener);
      await t.ok('updateCluster', { id: demo.cluster, clustername: 'Demo Cluster' });
    }
  });
});

describe('delete', () => {
  it('refuses (431) the demo zone, pod and cluster, naming what is in them, and writes nothing', async () => {
    const before = dbFingerprint(t.engine);
    const zone = await errorOf('deleteZone', { id: demo.zone });
    expect(zone.status).toBe(431);
    expect(zone.text).toMatch(/^id: zone Demo cannot be deleted: it still has \d+ pods \(Demo Pod, /);
    expect(zone.text).toContain('hosts (');
    expect(zone.text).toContain('1 network (Demo L2)');
    expect(zone.text).toMatch(/ VMs \(demo-web, demo-db\)/);
    const pod = await errorOf('deletePod', { id: demo.pod });
    expect(pod.status).toBe(431);
    expect(pod.text).toMatch(/^id: pod Demo Pod cannot be deleted: it still has 1 cluster \(Demo Cluster\), 3 hosts \(/);
    const cluster = await errorOf('deleteCluster', { id: demo.cluster });
    expect(cluster.status).toBe(431);
    expect(cluster.text).toMatch(/^id: cluster Demo Cluster cannot be deleted: it still has 3 hosts \(.+\)/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('deletes an empty cluster, then its pod, then its zone; each leaves its list and goes out as removed; the names are free again', async () => {
    const zone = ((await t.ok('createZone', { name: 'Gone Zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { zoneid: zone, name: 'Gone Pod' }))['pod'] as { id: string }).id;
    const cluster = ((await t.ok('addCluster', { zoneid: zone, podid: pod, clustername: 'Gone Cluster', hypervisor: 'KVM' }))['cluster'] as { id: string }).id;
    expect((await errorOf('deleteZone', { id: zone })).text).toBe('id: zone Gone Zone cannot be deleted: it still has 1 pod (Gone Pod)');
    expect((await errorOf('deletePod', { id: pod })).text).toBe('id: pod Gone Pod cannot be deleted: it still has 1 cluster (Gone Cluster)');

    expect((await t.ok('deleteCluster', { id: cluster }))['success']).toBe('true');
    expect((await t.ok('listClusters', { id: cluster }))['cluster']).toBeUndefined();
    await until(() => removed('clusters', cluster), 'cluster removed sent');
    expect((await t.ok('deletePod', { id: pod }))['success']).toBe('true');
    await until(() => removed('pods', pod), 'pod removed sent');
    expect((await t.ok('deleteZone', { id: zone }))['success']).toBe('true');
    await until(() => removed('zones', zone), 'zone removed sent');
    expect((await t.ok('listZones', { name: 'Gone Zone' }))['zone']).toBeUndefined();
    // A second delete finds nothing: 431 naming the id.
    expect((await errorOf('deleteZone', { id: zone })).status).toBe(431);
    // The name is free for a new zone.
    expect(((await t.ok('createZone', { name: 'Gone Zone' }))['zone'] as { name: string }).name).toBe('Gone Zone');
    const events = t.engine.db.prepare(`SELECT type FROM events WHERE type IN ('ZONE.DELETE','POD.DELETE','CLUSTER.DELETE') ORDER BY id`).pluck().all();
    expect(events).toEqual(['CLUSTER.DELETE', 'POD.DELETE', 'ZONE.DELETE']);
  });

  it('names each kind of record in the way: hosts, pools and VMs not expunged', async () => {
    const pod = ((await t.ok('createPod', { zoneid: demo.zone, name: 'VM Pod' }))['pod'] as { id: string }).id;
    const cluster = ((await t.ok('addCluster', { zoneid: demo.zone, podid: pod, clustername: 'VM Cluster', hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
    const added = (await t.ok('addHost', { zoneid: demo.zone, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: 'simulator://vm-host?memory=8192', username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
    const host = Array.isArray(added) ? added[0]! : added;
    const vm = await deployDemo(t, { hostid: host.id, name: 'in-the-way' });
    const refused = await errorOf('deleteCluster', { id: cluster });
    // Its pools are recorded once something reads them (listStoragePools).
    await t.ok('listStoragePools', { clusterid: cluster });
    expect((await errorOf('deleteCluster', { id: cluster })).text).toBe('id: cluster VM Cluster cannot be deleted: it still has 1 host (vm-host), 1 primary storage pool (sim-primary) and 1 VM (in-the-way)');
    expect(refused.status).toBe(431);
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    // Without the VM (expunged), the host and its pool are still in the way.
    expect((await errorOf('deleteCluster', { id: cluster })).text).toBe('id: cluster VM Cluster cannot be deleted: it still has 1 host (vm-host) and 1 primary storage pool (sim-primary)');
  });
});

describe('allocation state at placement', () => {
  const deploy = (params: Record<string, string> = {}) => t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, ...params });
  const jobError = async (params: Record<string, string> = {}) => {
    const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, ...params });
    return job['jobstatus'] === 1 ? undefined : String((job['jobresult'] as { errortext: string }).errortext);
  };

  it('a Disabled cluster, pod or zone takes no new VM, the refusal naming it; Enabled again, it does', async () => {
    // Each case places within the demo cluster only (other tests here add enabled clusters to the zone).
    const scope = { clusterid: demo.cluster };
    for (const [command, id, name] of [['updateCluster', demo.cluster, 'cluster Demo Cluster'], ['updatePod', demo.pod, 'pod Demo Pod'], ['updateZone', demo.zone, 'zone Demo']] as const) {
      await t.ok(command, { id, allocationstate: 'Disabled' });
      const refused = await deploy(scope);
      const text = refused.status === 200 ? await jobError(scope) : String(refused.body['errortext']);
      expect(text, `${name} Disabled`).toContain(`${name} is Disabled`);
      // explainPlacement says it per host.
      const explained = (await t.ok('explainPlacement', { zoneid: ids.zoneid, serviceofferingid: ids.small, ...scope }))['placement'] as { hosts: { hostName: string; reason: string }[] };
      expect(explained.hosts.map((h) => h.reason)).toEqual(['sim-host-1', 'sim-host-2', 'sim-host-3'].map(() => `${name} is Disabled`));
      await t.ok(command, { id, allocationstate: 'Enabled' });
    }
    const vm = await deployDemo(t, { name: 'after-enable', ...scope });
    expect(vm['state']).toBe('Running');
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });
});

describe('access and listApis', () => {
  // Kiln's registry, as CloudStack's, answers a command outside the caller's role 432 (it "does not exist or is not available for user"), as for createZone.
  it('answers 432 to a caller who is no root admin, and changes nothing', async () => {
    const before = dbFingerprint(t.engine);
    for (const [command, params] of [['updateZone', { id: demo.zone, name: 'x' }], ['deleteZone', { id: demo.zone }], ['updatePod', { id: demo.pod, name: 'x' }], ['deletePod', { id: demo.pod }], ['updateCluster', { id: demo.cluster, clustername: 'x' }], ['deleteCluster', { id: demo.cluster }]] as const) {
      expect(await errorOf(command, params, carol), command).toEqual({ status: 432, text: `The given command ${command} either does not exist, is not available for user, or not available from ip address` });
    }
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('listApis publishes the six commands with their parameters and rules', async () => {
    const apis = new Map((((await t.ok('listApis'))['api'] as { name: string; params: { name: string; required: boolean; pattern?: string }[] }[])).map((a) => [a.name, a]));
    for (const name of ['updateZone', 'deleteZone', 'updatePod', 'deletePod', 'updateCluster', 'deleteCluster']) {
      expect(apis.get(name)?.params.find((p) => p.name === 'id')?.required, name).toBe(true);
    }
    expect(apis.get('updateZone')!.params.find((p) => p.name === 'allocationstate')?.pattern).toBe('^(?:Enabled|Disabled)$');
    expect(apis.get('updatePod')!.params.find((p) => p.name === 'startip')?.pattern).toBeDefined();
    expect(apis.get('updateCluster')!.params.map((p) => p.name).sort()).toEqual(['allocationstate', 'clustername', 'id', 'managedstate']);
    const userApis = ((await t.ok('listApis', {}, carol))['api'] as { name: string }[]).map((a) => a.name);
    expect(userApis).not.toContain('deletePod');
  });
});

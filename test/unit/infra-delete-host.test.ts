/**
 * deleteHost and deleteStoragePool (CloudStack's rules as far as Kiln's states allow), and a
 * cluster's managed state (updateCluster managedstate). On the simulator:
 * - deleteHost refuses (431, naming the parameter and what is in the way, nothing written) a host
 *   that is not Disabled unless forced, one with VMs on it, and one with volumes on its local
 *   storage (unless forcedestroylocalstorage=true: test/integration/delete-host-local-storage.test.ts); a Disabled empty
 *   host goes with its session, its local pools' records and, as its cluster's last host, the
 *   cluster's pools, so that deleteCluster then succeeds;
 * - deleteStoragePool refuses a pool its hosts still report and one with volumes; forced lets the
 *   volumes of Destroyed VMs go with the pool, not others; a Down pool goes;
 * - Unmanaged drops the cluster's sessions and shows its hosts Disconnected; the HA pass neither
 *   reconnects them nor restarts their VMs elsewhere, a command does not reconnect them; Managed
 *   reconnects them (Up).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dbFingerprint, demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import type { SimulatorSession } from '../../drivers/simulator/index.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let zone: string;

const errorOf = async (command: string, params: Record<string, string>) => {
  const r = await t.call(command, params);
  return { status: r.status, text: String(r.body['errortext'] ?? '') };
};
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check(), what).toBe(true);
};
const hostId = (uuid: string) => t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(uuid) as number;
const hostState = async (uuid: string) => (((await t.ok('listHosts', { id: uuid }))['host'] as { state: string }[] | undefined)?.[0])?.state;

/** A new pod and cluster in the demo zone with one simulator host HOSTNAME (URL query QUERY). */
async function clusterWithHost(name: string, query = ''): Promise<{ pod: string; cluster: string; host: string }> {
  const pod = ((await t.ok('createPod', { zoneid: zone, name: `${name} Pod` }))['pod'] as { id: string }).id;
  const cluster = ((await t.ok('addCluster', { zoneid: zone, podid: pod, clustername: `${name} Cluster`, hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
  const added = (await t.ok('addHost', { zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: `simulator://${name}-host?memory=8192${query}`, username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
  const host = (Array.isArray(added) ? added[0]! : added).id;
  // The pools are recorded when something reads them.
  await t.ok('listStoragePools', { clusterid: cluster });
  return { pod, cluster, host };
}

beforeAll(async () => {
  t = await testEngine();
  zone = demoIds(t.engine).zoneid;
});
afterAll(() => t.close());

describe('deleteHost', () => {
  it('refuses an Enabled host without forced, one with VMs and one with volumes on its local storage (431 naming the parameter), writing nothing', async () => {
    const { host, cluster } = await clusterWithHost('busy', '&localpools=busy-local');
    const before = dbFingerprint(t.engine);
    expect(await errorOf('deleteHost', { id: host })).toEqual({ status: 431, text: "forced: host busy-host is Enabled and Up; Kiln deletes a Disabled host (updateHost allocationstate=Disable, its stand-in for CloudStack's Maintenance), or give forced=true" });
    expect(dbFingerprint(t.engine)).toBe(before);

    const vm = await deployDemo(t, { hostid: host, name: 'on-busy' });
    await t.ok('updateHost', { id: host, allocationstate: 'Disable' });
    const withVm = dbFingerprint(t.engine);
    for (const params of [{ id: host }, { id: host, forced: 'true' }] as Record<string, string>[]) {
      expect(await errorOf('deleteHost', params)).toEqual({ status: 431, text: 'id: host busy-host cannot be deleted: it still has 1 VM (on-busy); stop or migrate it first' });
    }
    expect(dbFingerprint(t.engine)).toBe(withVm);
    expect(t.engine.hosts.openSession(hostId(host))).toBeDefined();

    // Stopped, its disk on the shared pool: nothing on the host's local storage yet. A data disk there is.
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const local = ((await t.ok('listStoragePools', { name: 'busy-local' }))['storagepool'] as { id: string }[])[0]!;
    t.engine.db.prepare(`INSERT INTO volumes (uuid, name, account_id, zone_id, volume_type, size, pool, pool_id, state, created) SELECT 'vol-busy-local', 'busy-data', account_id, zone_id, 'DATADISK', 1073741824, 'busy-local', (SELECT id FROM storage_pools WHERE uuid=?), 'Ready', created FROM vm_instances WHERE uuid=?`).run(local.id, vm['id']!);
    const withVolume = dbFingerprint(t.engine);
    expect(await errorOf('deleteHost', { id: host })).toEqual({ status: 431, text: 'id: host busy-host cannot be deleted: it still has 1 volume (busy-data) on its local storage; give forcedestroylocalstorage=true to delete it with the host' });
    expect(await errorOf('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'false' })).toEqual({ status: 431, text: 'id: host busy-host cannot be deleted: it still has 1 volume (busy-data) on its local storage; give forcedestroylocalstorage=true to delete it with the host' });
    expect(dbFingerprint(t.engine)).toBe(withVolume);
    expect((await errorOf('deleteCluster', { id: cluster })).status).toBe(431);
  });

  it('deletes a Disabled host: its session is dropped, its pools\' records go, and then its cluster can be deleted', async () => {
    const { host, cluster, pod } = await clusterWithHost('gone', '&localpools=gone-local');
    const id = hostId(host);
    expect(t.engine.hosts.openSession(id)).toBeDefined();
    expect(((await t.ok('listStoragePools', { clusterid: cluster }))['storagepool'] as { name: string }[]).map((p) => p.name).sort()).toEqual(['gone-local', 'sim-primary']);
    expect((await errorOf('deleteCluster', { id: cluster })).text).toBe('id: cluster gone Cluster cannot be deleted: it still has 1 host (gone-host) and 2 primary storage pools (sim-primary, gone-local)');

    await t.ok('updateHost', { id: host, allocationstate: 'Disable' });
    // A cleanup the host still owes (a VM expunged while it was away): forgotten with the host, and said so.
    t.engine.db.prepare(`INSERT INTO host_cleanups (host_id, vm_id, domain, disks, reason, created) VALUES (?, NULL, 'i-2-99-VM', '[]', 'test', '2026-01-01')`).run(id);
    expect((await t.ok('deleteHost', { id: host }))['success']).toBe('true');
    expect(t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups WHERE host_id=?').pluck().get(id)).toBe(0);
    expect(t.engine.db.prepare(`SELECT description FROM events WHERE type='HOST.DELETE' AND resource_uuid=?`).pluck().get(host)).toBe('host gone-host deleted; 1 cleanup(s) it still owed (definitions or disks of expunged VMs left there) are forgotten');
    expect(t.engine.hosts.openSession(id)).toBeUndefined();
    expect((await t.ok('listHosts', { id: host }))['host']).toBeUndefined();
    expect((await t.ok('listStoragePools', { clusterid: cluster }))['storagepool']).toBeUndefined();
    // A pass of HA and the pool refresh find nothing to connect: the session stays dropped.
    await t.engine.background.ha.pass();
    expect(t.engine.hosts.openSession(id)).toBeUndefined();
    expect((await t.ok('listStoragePools', { clusterid: cluster }))['storagepool']).toBeUndefined();
    expect(t.engine.db.prepare(`SELECT type FROM events WHERE type='HOST.DELETE' AND resource_uuid=?`).pluck().all(host)).toEqual(['HOST.DELETE']);

    expect((await t.ok('deleteCluster', { id: cluster }))['success']).toBe('true');
    expect((await t.ok('deletePod', { id: pod }))['success']).toBe('true');
    // The URL is free again for addHost.
    const pod2 = ((await t.ok('createPod', { zoneid: zone, name: 'again Pod' }))['pod'] as { id: string }).id;
    const cluster2 = ((await t.ok('addCluster', { zoneid: zone, podid: pod2, clustername: 'again Cluster', hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
    await t.ok('addHost', { zoneid: zone, podid: pod2, clusterid: cluster2, hypervisor: 'Simulator', url: 'simulator://gone-host?memory=8192&localpools=gone-local', username: 'root', password: 'x' });
  });

  it('forced=true deletes an Enabled host with nothing on it; the cluster\'s shared pool stays while another host reports it', async () => {
    const { host, cluster, pod } = await clusterWithHost('forced');
    const second = (await t.ok('addHost', { zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: 'simulator://forced-host-2?memory=8192', username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
    const secondId = (Array.isArray(second) ? second[0]! : second).id;
    expect((await t.ok('deleteHost', { id: host, forced: 'true' }))['success']).toBe('true');
    expect(((await t.ok('listStoragePools', { clusterid: cluster }))['storagepool'] as { name: string }[]).map((p) => p.name)).toEqual(['sim-primary']);
    await t.ok('deleteHost', { id: secondId, forced: 'true' });
    expect((await t.ok('listStoragePools', { clusterid: cluster }))['storagepool']).toBeUndefined();
    expect((await t.ok('deleteCluster', { id: cluster }))['success']).toBe('true');
  });
});

describe('deleteHost forcedestroylocalstorage=true, a destroy that fails', () => {
  it('stops there: 530 naming the VM and its job, the VM settled in Error, the host and the other VM untouched; a second delete finishes', async () => {
    const { host } = await clusterWithHost('failing', '&localpools=failing-local');
    const poolid = ((await t.ok('listStoragePools', { name: 'failing-local' }))['storagepool'] as { id: string }[])[0]!.id;
    const vms: string[] = [];
    for (const name of ['first-local', 'second-local']) {
      const vm = await deployDemo(t, { hostid: host, name });
      await t.job('stopVirtualMachine', { id: vm['id']! });
      const root = t.engine.db.prepare(`SELECT v.uuid FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(vm['id']) as string;
      await t.job('migrateVolume', { volumeid: root, storageid: poolid });
      vms.push(vm['id']!);
    }
    const state = (uuid: string) => t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(uuid);
    t.engine.simulator.failNext('destroy', { host: 'failing-host', message: 'libvirt: domain is locked' });
    const r = await t.call('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' });
    const job = t.engine.db.prepare(`SELECT uuid FROM async_jobs WHERE cmd='destroyVirtualMachine' AND instance_uuid=?`).pluck().get(vms[0]) as string;
    expect([r.status, r.body['errortext']]).toEqual([530, `host failing-host was not deleted: destroying VM first-local (job ${job}) failed, the VM is Error: libvirt: domain is locked (simulated host failing-host)`]);
    expect(state(vms[0]!)).toBe('Error');
    expect(state(vms[1]!)).toBe('Stopped');
    expect((await t.ok('listHosts', { id: host }))['host']).toHaveLength(1);
    expect(t.engine.db.prepare(`SELECT COUNT(*) FROM events WHERE type='HOST.DELETE' AND resource_uuid=?`).pluck().get(host)).toBe(0);

    expect((await t.ok('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' }))['success']).toBe('true');
    expect(vms.map(state)).toEqual(['Expunged', 'Expunged']);
    expect((await t.ok('listHosts', { id: host }))['host']).toBeUndefined();
  });
});

describe('deleteHost forcedestroylocalstorage=true, the host gone', () => {
  it('destroys and expunges its VMs on Kiln\'s books when the host does not answer, and the cleanups they leave go with the host', async () => {
    const { host } = await clusterWithHost('dead', '&localpools=dead-local');
    const poolid = ((await t.ok('listStoragePools', { name: 'dead-local' }))['storagepool'] as { id: string }[])[0]!.id;
    const vm = await deployDemo(t, { hostid: host, name: 'on-dead' });
    await t.job('stopVirtualMachine', { id: vm['id']! });
    const root = t.engine.db.prepare(`SELECT v.uuid FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(vm['id']) as string;
    await t.job('migrateVolume', { volumeid: root, storageid: poolid });
    await t.job('startVirtualMachine', { id: vm['id']!, hostid: host });
    t.engine.simulator.setHostUp('dead-host', false);
    await t.engine.hosts.drop(hostId(host));

    expect((await t.ok('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' }))['success']).toBe('true');
    expect(t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm['id'])).toBe('Expunged');
    expect((await t.ok('listHosts', { id: host }))['host']).toBeUndefined();
    expect(t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups WHERE host_id=?').pluck().get(hostId(host))).toBe(0);
    expect(t.engine.db.prepare(`SELECT description FROM events WHERE type='HOST.DELETE' AND resource_uuid=?`).pluck().get(host)).toMatch(/^host dead-host deleted \(forced\); VM on-dead on its local storage destroyed and expunged \(forcedestroylocalstorage\); \d+ cleanup\(s\) it still owed/);
  });
});

describe('a connect under way', () => {
  it('a delete waits for it and drops the session it opened, and an Unmanaged cluster does too', async () => {
    const deleted = await clusterWithHost('racing');
    const id = hostId(deleted.host);
    await t.ok('updateHost', { id: deleted.host, allocationstate: 'Disable' });
    await t.engine.hosts.drop(id);
    const connecting = t.engine.hosts.session(id);
    await t.ok('deleteHost', { id: deleted.host });
    await connecting.catch(() => undefined);
    expect(t.engine.hosts.openSession(id)).toBeUndefined();

    const unmanaged = await clusterWithHost('racing-unmanaged');
    const other = hostId(unmanaged.host);
    await t.engine.hosts.drop(other);
    const again = t.engine.hosts.session(other);
    await t.ok('updateCluster', { id: unmanaged.cluster, managedstate: 'Unmanaged' });
    await again.catch(() => undefined);
    expect(t.engine.hosts.openSession(other)).toBeUndefined();
    expect(await hostState(unmanaged.host)).toBe('Disconnected');
  });
});

describe('deleteStoragePool', () => {
  it('refuses a pool its host still reports and one with volumes, forced only for volumes of Destroyed VMs; a Down pool goes', async () => {
    const { host } = await clusterWithHost('pool', '&localpools=pool-local');
    const pool = ((await t.ok('listStoragePools', { name: 'pool-local' }))['storagepool'] as { id: string }[])[0]!;
    const before = dbFingerprint(t.engine);
    expect(await errorOf('deleteStoragePool', { id: pool.id })).toEqual({ status: 431, text: 'id: storage pool pool-local is Up: host pool-host still reports it, and Kiln would record it again at their next refresh. Kiln deletes a pool no host reports (Down); remove it on the hypervisor, or delete its host (deleteHost)' });
    expect(dbFingerprint(t.engine)).toBe(before);

    // A VM whose disk is there.
    const vm = await deployDemo(t, { hostid: host, name: 'on-pool' });
    t.engine.db.prepare(`INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, pool, pool_id, state, created) SELECT 'vol-pool-local', 'pool-data', id, account_id, zone_id, 'DATADISK', 1, 1073741824, 'pool-local', (SELECT id FROM storage_pools WHERE uuid=?), 'Ready', created FROM vm_instances WHERE uuid=?`).run(pool.id, vm['id']!);
    // The hypervisor no longer reports the pool: Down at the next refresh.
    (t.engine.hosts.openSession(hostId(host)) as SimulatorSession).localPools = [];
    await t.engine.hosts.refresh(hostId(host));
    expect(((await t.ok('listStoragePools', { id: pool.id }))['storagepool'] as { state: string }[])[0]!.state).toBe('Down');

    const withVolume = dbFingerprint(t.engine);
    expect(await errorOf('deleteStoragePool', { id: pool.id })).toEqual({ status: 431, text: 'id: storage pool pool-local cannot be deleted: it still has 1 volume (pool-data) of VM on-pool' });
    expect(await errorOf('deleteStoragePool', { id: pool.id, forced: 'true' })).toEqual({ status: 431, text: 'id: storage pool pool-local cannot be deleted: it still has 1 non-destroyed volume (pool-data) of VM on-pool' });
    expect(dbFingerprint(t.engine)).toBe(withVolume);

    await t.run('destroyVirtualMachine', { id: vm['id']! });
    expect((await errorOf('deleteStoragePool', { id: pool.id })).status).toBe(431);
    expect((await t.ok('deleteStoragePool', { id: pool.id, forced: 'true' }))['success']).toBe('true');
    expect((await t.ok('listStoragePools', { id: pool.id }))['storagepool']).toBeUndefined();
    expect(t.engine.db.prepare(`SELECT pool_id FROM volumes WHERE uuid='vol-pool-local'`).pluck().get()).toBeNull();
    expect((await errorOf('deleteStoragePool', { id: pool.id })).status).toBe(431);
  });
});

describe('managed state', () => {
  it('Unmanaged disconnects the cluster\'s hosts: HA neither reconnects them nor restarts their VMs; Managed reconnects them', async () => {
    const { host, cluster } = await clusterWithHost('unmanaged');
    const id = hostId(host);
    const vm = await deployDemo(t, { hostid: host, name: 'in-unmanaged', haenable: 'true' });
    t.engine.db.prepare('UPDATE vm_instances SET ha_enabled=1 WHERE uuid=?').run(vm['id']!);

    expect((await t.ok('updateCluster', { id: cluster, managedstate: 'Unmanaged' }))['cluster']).toMatchObject({ managedstate: 'Unmanaged' });
    expect(t.engine.hosts.openSession(id)).toBeUndefined();
    expect(await hostState(host)).toBe('Disconnected');
    // Several HA passes (three misses would declare a checked host Down and restart its HA VMs).
    for (let i = 0; i < 4; i++) await t.engine.background.ha.pass();
    expect(t.engine.hosts.openSession(id)).toBeUndefined();
    expect(await hostState(host)).toBe('Disconnected');
    expect(((await t.ok('listVirtualMachines', { id: vm['id']! }))['virtualmachine'] as { state: string; hostid: string }[])[0]).toMatchObject({ state: 'Running', hostid: host });
    expect(t.engine.db.prepare(`SELECT COUNT(*) FROM events WHERE type='HA.RESTART' AND resource_uuid=?`).pluck().get(vm['id']!)).toBe(0);
    // A command on its VM does not reconnect the host: 534 saying why.
    expect(await errorOf('stopVirtualMachine', { id: vm['id']! })).toEqual({ status: 534, text: 'host unmanaged-host of VM in-unmanaged is Disconnected: cluster unmanaged Cluster is Unmanaged: Kiln does not manage its hosts' });
    await expect(t.engine.hosts.session(id)).rejects.toThrow('host unmanaged-host is in cluster unmanaged Cluster, which is Unmanaged: Kiln does not connect to its hosts (updateCluster managedstate=Managed)');
    expect(await hostState(host)).toBe('Disconnected');

    await t.ok('updateCluster', { id: cluster, managedstate: 'Managed' });
    await until(() => t.engine.hosts.openSession(id) !== undefined, 'session reopened');
    expect(await hostState(host)).toBe('Up');
    await t.engine.background.ha.pass();
    expect(((await t.ok('listVirtualMachines', { id: vm['id']! }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
  });
});

describe('access', () => {
  it('answers 432 to a caller who is no root admin, changing nothing, and listApis publishes both with their parameters to the admin only', async () => {
    const domainId = t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).pluck().get() as number;
    const { userId } = t.engine.accounts.createAccount({ name: 'dave', role: 'User', domainId, username: 'dave', password: 'secret-pw' });
    const dave = t.engine.accounts.byUserId(userId) as Caller;
    const host = (((await t.ok('listHosts', { name: 'sim-host-1' }))['host']) as { id: string }[])[0]!.id;
    const pool = (((await t.ok('listStoragePools'))['storagepool']) as { id: string }[])[0]!.id;
    const before = dbFingerprint(t.engine);
    for (const [command, id] of [['deleteHost', host], ['deleteStoragePool', pool]] as const) {
      const r = await t.call(command, { id }, dave);
      expect([r.status, r.body['errortext']]).toEqual([432, `The given command ${command} either does not exist, is not available for user, or not available from ip address`]);
    }
    expect(dbFingerprint(t.engine)).toBe(before);
    const apis = new Map((((await t.ok('listApis'))['api'] as { name: string; params: { name: string }[] }[])).map((a) => [a.name, a.params.map((p) => p.name).sort()]));
    expect(apis.get('deleteHost')).toEqual(['forced', 'forcedestroylocalstorage', 'id']);
    expect(apis.get('deleteStoragePool')).toEqual(['forced', 'id']);
    expect(((await t.ok('listApis', {}, dave))['api'] as { name: string }[]).map((a) => a.name)).not.toContain('deleteHost');
  });
});

describe('managed state across a restart', () => {
  it('a Kiln started with a cluster Unmanaged connects its other hosts, not that cluster\'s, which stay Disconnected', async () => {
    const first = await testEngine({ keep: true });
    const pod = ((await first.ok('createPod', { zoneid: demoIds(first.engine).zoneid, name: 'Restart Pod' }))['pod'] as { id: string }).id;
    const cluster = ((await first.ok('addCluster', { zoneid: demoIds(first.engine).zoneid, podid: pod, clustername: 'Restart Cluster', hypervisor: 'Simulator' }))['cluster'] as { id: string }).id;
    await first.ok('addHost', { zoneid: demoIds(first.engine).zoneid, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: 'simulator://restart-host?memory=8192', username: 'root', password: 'x' });
    await first.ok('updateCluster', { id: cluster, managedstate: 'Unmanaged' });
    await first.engine.close();
    const again = await testEngine({ dataDir: first.dataDir, background: true });
    try {
      again.engine.background.ha.stop();
      const rows = again.engine.db.prepare(`SELECT h.id, h.name, h.state, c.managed_state AS managed FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE h.removed IS NULL ORDER BY h.id`).all() as { id: number; name: string; state: string; managed: string }[];
      const managed = rows.filter((r) => r.managed === 'Managed').map((r) => r.id);
      await vi.waitFor(() => expect(managed.filter((id) => again.engine.hosts.openSession(id) === undefined)).toEqual([]), { timeout: 10_000, interval: 20 });
      const unmanaged = rows.find((r) => r.name === 'restart-host')!;
      expect(again.engine.hosts.openSession(unmanaged.id)).toBeUndefined();
      expect(again.engine.db.prepare('SELECT state FROM hosts WHERE id=?').pluck().get(unmanaged.id)).toBe('Disconnected');
    } finally {
      await again.close();
    }
  });
});

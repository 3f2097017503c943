/**
 * The XenServer driver in the engine, through the API (the command registry), against the xapi
 * simulator: addCluster hypervisor=XenServer url=https://MASTER discovers the pool's hosts as host
 * rows (Up, with XenServer's capabilities and the pinned thumbprint), as CloudStack adds a pool;
 * wrong input writes nothing; listHypervisorCapabilities publishes the connection form. Then pool
 * HA: when a host fails and xapi restarts an HA VM on another host, Kiln records the move on the
 * new host and starts no second copy, through as many HA passes as it takes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmSpec } from '../../drivers/types.js';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';
import { openDisplay } from '../../main/engine/vm/graphical-console.js';

const TEMPLATE = 'Kiln engine template';

describe('XenServer through the engine on the xapi simulator', () => {
  let sim: XapiSim;
  let t: TestEngine;
  let zoneid: string;
  let podid: string;
  let clusterid: string;
  const counts = () => ({
    hosts: t.engine.db.prepare('SELECT COUNT(*) FROM hosts').pluck().get() as number,
    clusters: t.engine.db.prepare('SELECT COUNT(*) FROM clusters').pluck().get() as number,
  });

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 3, vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, haTimeoutMs: 1_000 })] });
    zoneid = ((await t.call('createZone', { name: 'Xen Zone' })).body['zone'] as { id: string }).id;
    podid = ((await t.call('createPod', { name: 'Xen Pod', zoneid })).body['pod'] as { id: string }).id;
  });
  afterAll(async () => {
    t?.engine.background.ha.stop();
    await t?.close();
    await sim?.stop();
  });

  it('listHypervisorCapabilities publishes how a pool is added', async () => {
    const xen = ((await t.call('listHypervisorCapabilities', { hypervisor: 'XenServer' })).body['hypervisorCapabilities'] as Record<string, unknown>[])[0]!;
    expect(xen).toMatchObject({ hypervisor: 'XenServer', diskformat: 'vhd', connectionadds: 'cluster', trustkind: 'tls-certificate', capabilities: { liveMigration: true, storageMotion: true, memorySnapshots: true, quiesceSnapshots: false } });
  });

  it('a URL with a path, http://, a missing password and a wrong password are refused, writing nothing', async () => {
    const before = counts();
    const base = { zoneid, podid, hypervisor: 'XenServer', clustername: 'x', username: sim.username, password: sim.password };
    const withPath = await t.call('addCluster', { ...base, url: `${sim.url}/pool` });
    expect(withPath.status).toBe(431);
    expect(String(withPath.body['errortext'])).toMatch(/^url: a XenServer URL names the pool master only/);
    const plain = await t.call('addCluster', { ...base, url: sim.url.replace('https:', 'http:') });
    expect(plain.status).toBe(431);
    expect(String(plain.body['errortext'])).toMatch(/^url: a XenServer pool is reached as https:\/\/MASTER/);
    const noPassword = await t.call('addCluster', { ...base, url: sim.url, password: '' });
    expect(noPassword.status).toBe(431);
    expect(String(noPassword.body['errortext'])).toMatch(/^password: /);
    const wrong = await t.call('addCluster', { ...base, url: sim.url, password: 'wrong' });
    expect(wrong.status).toBeGreaterThanOrEqual(431);
    expect(String(wrong.body['errortext'])).toMatch(/SESSION_AUTHENTICATION_FAILED \[root, Authentication failure\]/);
    expect(counts()).toEqual(before);
  });

  it('addCluster hypervisor=XenServer url=https://MASTER adds the pool\'s three hosts, Up, with XenServer capabilities and the pinned thumbprint', async () => {
    const res = await t.call('addCluster', { zoneid, podid, clustername: 'Pool 1', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    expect(res.status).toBe(200);
    const cluster = res.body['cluster'] as { id: string; hypervisortype: string };
    clusterid = cluster.id;
    expect(cluster.hypervisortype).toBe('XenServer');
    const hosts = (await t.call('listHosts', { clusterid })).body['host'] as { name: string; state: string; hypervisor: string; trustkind?: string; hostkeyfingerprint?: string; capabilities?: Record<string, unknown>; memorytotal?: number; cpunumber?: number }[];
    const admin = await Session.login(sim.url, sim.username, sim.password);
    const poolHosts = Object.values(await admin.call<Record<string, { name_label: string }>>('host.get_all_records')).map((h) => h.name_label);
    expect(hosts.map((h) => h.name).sort()).toEqual(poolHosts.sort());
    expect(hosts).toHaveLength(3);
    for (const h of hosts) {
      expect(h).toMatchObject({ state: 'Up', hypervisor: 'XenServer', trustkind: 'tls-certificate', hostkeyfingerprint: sim.thumbprint });
      expect(h.capabilities).toMatchObject({ liveMigration: true, snapshots: true, migration: true, consoleSerial: false, consoleGraphical: 'vnc', maxGuestsLimit: 500 });
    }
    const again = await t.call('addCluster', { zoneid, podid, clustername: 'Pool again', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    expect(again.status).toBe(431);
    expect(String(again.body['errortext'])).toContain('already added');
  });

  it('the graphical console: the engine\'s display path (what the console WebSocket carries) gets the VM\'s RFB from xapi\'s console', async () => {
    const host = sim.info.hosts[0]!;
    const hostId = t.engine.db.prepare('SELECT id FROM hosts WHERE ref=?').pluck().get(host.ref) as number;
    const session = await t.engine.hosts.session(hostId);
    const vm = await deployDemo(t, { name: 'xen-console', startvm: 'false' });
    const internal = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm['id']) as string;
    const made = await session.define({ internalName: internal, displayName: 'xen-console', uuid: vm['id']!, cpuNumber: 1, cpuSpeedMhz: 500, memoryMiB: 256, disks: [{ name: 'xen-console-root.vhd', sizeBytes: 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [] });
    await session.start(made.ref);
    const cluster = t.engine.db.prepare('SELECT id, pod_id FROM clusters WHERE uuid=?').get(clusterid) as { id: number; pod_id: number };
    t.engine.db.prepare(`UPDATE vm_instances SET state='Running', host_id=?, last_host_id=?, cluster_id=?, pod_id=?, ref=?, hypervisor='XenServer' WHERE uuid=?`).run(hostId, hostId, cluster.id, cluster.pod_id, made.ref, vm['id']);
    const listed = ((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { consoles?: string }[])[0]!;
    expect(listed.consoles).toContain('vnc');
    const display = await openDisplay(t.engine, t.admin, vm['id']!);
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no RFB greeting within 5 s')), 5_000);
        display.socket.once('data', (d: Buffer) => {
          clearTimeout(timer);
          resolve(d.toString('latin1'));
        });
      });
      expect(greeting).toBe('RFB 003.008\n');
    } finally {
      await display.close();
    }
    await session.destroy(made.ref, { removeDisks: 'all' });
    t.engine.db.prepare(`UPDATE vm_instances SET state='Stopped', host_id=NULL WHERE uuid=?`).run(vm['id']);
  });

  it('the master goes away: the pool\'s hosts go Disconnected; when it is back they come Up again', async () => {
    const rows = () => t.engine.db.prepare(`SELECT id, state FROM hosts WHERE hypervisor='XenServer' AND removed IS NULL ORDER BY id`).all() as { id: number; state: string }[];
    expect(rows().map((r) => r.state)).toEqual(['Up', 'Up', 'Up']);
    await sim.hostDown(0);
    for (let i = 0; i < 100 && rows().some((r) => r.state !== 'Disconnected'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(rows().map((r) => r.state)).toEqual(['Disconnected', 'Disconnected', 'Disconnected']);
    // While it is away a reconnect fails with the reason and changes nothing.
    await expect(t.engine.hosts.session(rows()[0]!.id)).rejects.toThrow(/unreachable|ECONNREFUSED|cannot be reached/);
    await sim.hostUp(0);
    // What the background host check does: reconnect each host.
    for (const r of rows()) await t.engine.hosts.session(r.id);
    expect(rows().map((r) => r.state)).toEqual(['Up', 'Up', 'Up']);
  }, 30_000);

  it('pool HA restarts a VM of a failed host: Kiln records it on the new host and starts no second copy', async () => {
    const admin = await Session.login(sim.url, sim.username, sim.password);
    await admin.call('pool.enable_ha', [], {});
    const victim = sim.info.hosts[1]!;
    const hostId = t.engine.db.prepare('SELECT id FROM hosts WHERE ref=?').pluck().get(victim.ref) as number;
    const session = await t.engine.hosts.session(hostId);
    for (let i = 0; i < 50 && !session.isolationFencing; i++) await new Promise((r) => setTimeout(r, 50));
    // A VM row as a deploy leaves it, placed on the victim host (the engine's deploy onto XenServer
    // needs templates in the pool; that is not this test's concern).
    const vm = await deployDemo(t, { name: 'ha-xen', startvm: 'false' });
    const internal = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm['id']) as string;
    const spec: VmSpec = { internalName: internal, displayName: 'ha-xen', uuid: vm['id']!, cpuNumber: 1, cpuSpeedMhz: 500, memoryMiB: 256, highAvailability: true, disks: [{ name: 'ha-xen-root.vhd', sizeBytes: 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [] };
    const made = await session.define(spec);
    await session.start(made.ref);
    const cluster = t.engine.db.prepare('SELECT id, pod_id, zone_id FROM clusters WHERE uuid=?').get(clusterid) as { id: number; pod_id: number; zone_id: number };
    t.engine.db.prepare(`UPDATE vm_instances SET state='Running', host_id=?, last_host_id=?, cluster_id=?, pod_id=?, ref=?, ha_enabled=1, hypervisor='XenServer' WHERE uuid=?`).run(hostId, hostId, cluster.id, cluster.pod_id, made.ref, vm['id']);
    t.engine.background.ha.start();
    const { restarted } = await sim.control<{ restarted: { vm: string; host: string }[] }>('host-crash', { host: victim.ref, restartDelayMs: 400 });
    const target = restarted.find((r) => r.vm === made.ref)?.host;
    expect(target).toBeDefined();
    const row = () => t.engine.db.prepare('SELECT v.state, h.ref AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(vm['id']) as { state: string; host: string | null };
    for (let i = 0; i < 100 && row().host !== target; i++) await new Promise((r) => setTimeout(r, 50));
    expect(row()).toEqual({ state: 'Running', host: target });
    // Kiln's own passes while the host is down (past the HA timeout) start nothing.
    for (let i = 0; i < 4; i++) {
      await t.engine.background.ha.pass();
      await new Promise((r) => setTimeout(r, 400));
    }
    await t.engine.jobs.drain();
    expect(row()).toEqual({ state: 'Running', host: target });
    expect(t.engine.db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=?`).pluck().get(vm['id'])).toBe(0);
    const events = t.engine.db.prepare(`SELECT type, description FROM events WHERE description LIKE ? ORDER BY id`).all(`%${vm['id']}%`) as { type: string; description: string }[];
    expect(events.map((e) => e.type)).toContain('VM.MIGRATE');
    expect(events.find((e) => e.type === 'VM.MIGRATE')!.description).toMatch(/moved by the hypervisor platform/);
    expect(events.map((e) => e.type)).not.toContain('HA.RESTART');
    const running = Object.values(await admin.call<Record<string, Record<string, unknown>>>('VM.get_all_records')).filter((v) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === vm['id'] && v['power_state'] === 'Running');
    expect(running.map((v) => v['resident_on'])).toEqual([target]);
    await sim.control('host-recover', { host: victim.ref });
  }, 40_000);
});

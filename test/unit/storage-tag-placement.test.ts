/**
 * Storage tags steer host placement (issue 13, R48): on the simulator zone, where only tag-host
 * reaches a pool tagged ssd (its local pool sim-ssd, from localpools=), a VM whose offering asks
 * for ssd is placed there by the planner (deploy, start, migration targets), and an offering
 * whose tag no pool has is refused 533 before anything is written, the error's placement table
 * giving each host's verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let tagHostId: string;
let ssdOffering: string;
let nvmeOffering: string;

interface Verdict { hostName: string; suitable: boolean; reason: string }

const count = (table: string) => t.engine.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
const hostOf = (vmId: string) => t.engine.db.prepare('SELECT h.name FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').pluck().get(vmId);
const rootPool = (vmId: string) => t.engine.db.prepare(`SELECT v.pool FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(vmId);

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.hypervisor='Simulator' ORDER BY c.id LIMIT 1`).get() as { uuid: string; pod: string };
  const add = async (url: string) => {
    const h = (await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url, username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
    return (Array.isArray(h) ? h[0]! : h).id;
  };
  tagHostId = await add('simulator://tag-host?localpools=sim-ssd,sim-scratch&memory=65536');
  await add('simulator://plain-host?memory=65536');
  // Records come from the hosts' reports; the admin tags one of them.
  const pools = (await t.ok('listStoragePools', {}))['storagepool'] as { id: string; name: string }[];
  await t.ok('updateStoragePool', { id: pools.find((p) => p.name === 'sim-ssd')!.id, tags: 'ssd' });
  ssdOffering = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '1', cpuspeed: '500', memory: '256', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
  nvmeOffering = ((await t.ok('createServiceOffering', { name: 'nvme-root', cpunumber: '1', cpuspeed: '500', memory: '256', tags: 'nvme' }))['serviceoffering'] as { id: string }).id;
});
afterAll(() => t.close());

describe('storage tags at host placement', () => {
  it('a deploy with a tagged offering and no host given lands on the only host whose pool has the tag, its root disk there', async () => {
    const vm = await deployDemo(t, { serviceofferingid: ssdOffering });
    expect(hostOf(vm['id']!)).toBe('tag-host');
    expect(rootPool(vm['id']!)).toBe('sim-ssd');
    // Every other host was refused for the storage tag, and said so.
    const explained = await t.ok('explainPlacement', { zoneid: ids.zoneid, serviceofferingid: ssdOffering });
    const hosts = (explained['placement'] as { hosts: Verdict[] }).hosts;
    expect(hosts.filter((h) => h.suitable).map((h) => h.hostName)).toEqual(['tag-host']);
    expect(hosts.find((h) => h.hostName === 'plain-host')!.reason).toBe('no enabled pool with storage tag ssd for volume the root volume (service offering ssd-root; pools: sim-primary)');
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });

  it('a start of a stopped VM (disk not made yet) is placed on that host too', async () => {
    const vm = await deployDemo(t, { serviceofferingid: ssdOffering, startvm: 'false' });
    expect((await t.run('startVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect(hostOf(vm['id']!)).toBe('tag-host');
    expect(rootPool(vm['id']!)).toBe('sim-ssd');
    // Its disk is on tag-host's local pool: no other host is a migration target, each saying why.
    const found = ((await t.ok('findHostsForMigration', { id: vm['id']! }))['host'] ?? []) as { name: string; suitableformigration: boolean; reason: string }[];
    expect(found.filter((h) => h.suitableformigration).map((h) => h.name)).toEqual([]);
    // Judged by the pool its disk is on (tag-host's local sim-ssd), not by the pools plain-host has.
    const local = /^volume ROOT-\d+ is on local storage pool sim-ssd of host tag-host, which this host does not reach; move the volume first \(migrateVolume, or migrateVirtualMachineWithVolume with migrateto\)$/;
    expect(found.find((h) => h.name === 'plain-host')!.reason).toMatch(local);
    const explained = ((await t.ok('explainPlacement', { virtualmachineid: vm['id']! }))['placement'] as { hosts: Verdict[] }).hosts;
    expect(explained.find((h) => h.hostName === 'plain-host')!.reason).toMatch(local);
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });

  it('an offering whose tag no pool has is refused 533 with every host\'s verdict, and nothing is written', async () => {
    const before = { vms: count('vm_instances'), volumes: count('volumes'), nics: count('nics') };
    const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: nvmeOffering });
    expect(refused.status).toBe(533);
    const text = String(refused.body['errortext']);
    expect(text).toContain('tag-host: no enabled pool with storage tag nvme for volume the root volume (service offering nvme-root; pools: sim-primary, sim-ssd has ssd, sim-scratch)');
    expect(text).toContain('plain-host: no enabled pool with storage tag nvme for volume the root volume (service offering nvme-root; pools: sim-primary)');
    // The placement table the UI shows: one verdict per host of the zone, none suitable.
    const placement = refused.body['placement'] as Verdict[];
    const hosts = t.engine.db.prepare(`SELECT COUNT(*) FROM hosts WHERE removed IS NULL AND zone_id=(SELECT id FROM zones WHERE uuid=?)`).pluck().get(ids.zoneid);
    expect(placement).toHaveLength(hosts as number);
    expect(placement.every((v) => !v.suitable)).toBe(true);
    expect({ vms: count('vm_instances'), volumes: count('volumes'), nics: count('nics') }).toEqual(before);
  });

  it('a disabled tagged pool no longer draws the VM: tag-host is refused, naming the pool Disabled', async () => {
    const ssd = ((await t.ok('listStoragePools', { name: 'sim-ssd' }))['storagepool'] as { id: string }[])[0]!;
    await t.ok('updateStoragePool', { id: ssd.id, enabled: 'false' });
    try {
      const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ssdOffering, hostid: tagHostId });
      expect(refused.status).toBe(533);
      expect(String(refused.body['errortext'])).toContain('tag-host: no enabled pool with storage tag ssd for volume the root volume (service offering ssd-root; pools: sim-primary, sim-ssd has ssd (Disabled), sim-scratch)');
    } finally {
      await t.ok('updateStoragePool', { id: ssd.id, enabled: 'true' });
    }
  });
});

/**
 * Primary storage on the simulator (issue 13, R48's storage half): listStoragePools fills its
 * records from what the hosts publish (sim-primary shared by the cluster, a host's localpools its
 * own), updateStoragePool sets tags and enabled (root admin only), and a volume whose disk or
 * service offering carries storage tags is placed only on a pool that has them all; a refusal is
 * a 533 naming the volume, the offering, the tag and the pools there are, and writes no pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, simDomain, testEngine, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let tagHostId: string;
let plainHostId: string;

interface Pool { id: string; name: string; scope: string; type: string; state: string; tags?: string; clustername: string; hypervisor: string; hostname?: string; disksizetotal: number; disksizeallocated: number; disksizeused: number }

async function pools(params: Record<string, string> = {}): Promise<Pool[]> {
  return ((await t.ok('listStoragePools', params))['storagepool'] as Pool[] | undefined) ?? [];
}

async function poolNamed(name: string): Promise<Pool> {
  const found = (await pools({ name }))[0];
  if (!found) throw new Error(`no pool ${name}`);
  return found;
}

/** An async command's job: its result, or its error as {status, text}. */
async function job(command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.hypervisor='Simulator' ORDER BY c.id LIMIT 1`).get() as { uuid: string; pod: string };
  const add = async (url: string) => ((await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url, username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string });
  const one = (h: { id: string }[] | { id: string }) => (Array.isArray(h) ? h[0]! : h).id;
  tagHostId = one(await add('simulator://tag-host?localpools=sim-ssd&memory=65536'));
  plainHostId = one(await add('simulator://plain-host?memory=65536'));
});
afterAll(() => t.close());

describe('listStoragePools', () => {
  it("lists what the cluster's hosts publish: the shared pool once, a host's local pool with its host", async () => {
    const all = await pools();
    const shared = all.filter((p) => p.name === 'sim-primary');
    expect(shared).toHaveLength(1);
    expect(shared[0]).toMatchObject({ scope: 'CLUSTER', type: 'NetworkFilesystem', state: 'Up', hypervisor: 'Simulator', disksizetotal: 2 ** 40, disksizeused: 2 ** 39 });
    expect(shared[0]!.hostname).toBeUndefined();
    const local = await poolNamed('sim-ssd');
    expect(local).toMatchObject({ scope: 'HOST', type: 'Filesystem', hostname: 'tag-host', state: 'Up' });
    expect((await pools({ hostid: plainHostId })).map((p) => p.name)).toEqual(['sim-primary']);
    expect((await pools({ hostid: tagHostId })).map((p) => p.name).sort()).toEqual(['sim-ssd', 'sim-primary'].sort());
    expect((await pools({ scope: 'HOST' })).map((p) => p.name)).toEqual(['sim-ssd']);
    // The hosts publish the facet as a capability.
    const host = ((await t.ok('listHosts', { id: tagHostId }))['host'] as { capabilities: Record<string, unknown> }[])[0]!;
    expect(host.capabilities['primaryStorage']).toBe(true);
  });

  it("maps existing volumes' pool text to the records: a made disk without pool text is on its host's default pool", async () => {
    const vm = await deployDemo(t, { hostid: plainHostId });
    const before = (await poolNamed('sim-primary')).disksizeallocated;
    await pools();
    const root = t.engine.db.prepare(`SELECT v.pool, p.name FROM volumes v JOIN vm_instances m ON m.id=v.vm_id LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vm['id']) as { pool: string | null; name: string | null };
    expect(root).toEqual({ pool: null, name: 'sim-primary' });
    expect((await poolNamed('sim-primary')).disksizeallocated).toBeGreaterThanOrEqual(before);
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });
});

describe('updateStoragePool', () => {
  it('sets and clears tags, and disables and enables a pool', async () => {
    const ssd = await poolNamed('sim-ssd');
    const tagged = (await t.ok('updateStoragePool', { id: ssd.id, tags: 'ssd, fast' }))['storagepool'] as Pool;
    expect(tagged.tags).toBe('ssd,fast');
    expect((await poolNamed('sim-ssd')).tags).toBe('ssd,fast');
    const disabled = (await t.ok('updateStoragePool', { id: ssd.id, enabled: 'false' }))['storagepool'] as Pool;
    expect(disabled.state).toBe('Disabled');
    expect((await pools({ status: 'Disabled' })).map((p) => p.name)).toEqual(['sim-ssd']);
    await t.ok('updateStoragePool', { id: ssd.id, enabled: 'true', tags: 'ssd' });
    expect(await poolNamed('sim-ssd')).toMatchObject({ state: 'Up', tags: 'ssd' });
  });

  it('refuses tags that are no tag list (431 naming tags), an unknown pool, and a caller who is no root admin', async () => {
    const ssd = await poolNamed('sim-ssd');
    const bad = await t.call('updateStoragePool', { id: ssd.id, tags: 'ssd;rm -rf' });
    expect(bad.status).toBe(431);
    expect(String(bad.body['errortext'])).toMatch(/^tags: .*is not a list of storage tags/);
    expect((await t.call('updateStoragePool', { id: '00000000-0000-4000-8000-000000000000', tags: 'x' })).status).toBe(431);
    const domainId = (t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).get() as { id: number }).id;
    const { userId } = t.engine.accounts.createAccount({ name: 'carol', role: 'User', domainId, username: 'carol', password: 'secret-pw' });
    const carol = t.engine.accounts.byUserId(userId) as Caller;
    expect((await t.call('updateStoragePool', { id: ssd.id, tags: 'x' }, carol)).status).not.toBe(200);
    expect((await poolNamed('sim-ssd')).tags).toBe('ssd');
  });
});

describe('storage tags at placement', () => {
  let ssdOffering: string;
  beforeAll(async () => {
    ssdOffering = ((await t.ok('createDiskOffering', { name: 'SSD 1 GB', disksize: '1', tags: 'ssd' }))['diskoffering'] as { id: string; tags: string }).id;
  });

  it('puts a tagged data disk on the pool with the tag when it is made (attach to a VM on the host that reaches it)', async () => {
    const vm = await deployDemo(t, { hostid: tagHostId });
    const volume = (await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ssdOffering, name: 'fast-data' })).result['volume'] as { id: string };
    const attached = await job('attachVolume', { id: volume.id, virtualmachineid: vm['id']! });
    expect(attached.status, attached.text).toBe(200);
    const row = t.engine.db.prepare(`SELECT v.pool, v.path, p.name FROM volumes v LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE v.uuid=?`).get(volume.id) as { pool: string; path: string; name: string };
    expect(row).toMatchObject({ pool: 'sim-ssd', name: 'sim-ssd' });
    // The simulated host made the disk in that pool.
    expect(simDomain(t, vm['id']!).domain.spec.disks.find((d) => d.name === row.path)?.pool).toBe('sim-ssd');
    expect((await poolNamed('sim-ssd')).disksizeallocated).toBe(1024 ** 3);
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true', volumeids: volume.id });
  });

  it('refuses (533) a tagged disk for a VM whose host reaches no pool with the tag, naming volume, offering, tag and pools; the volume stays unplaced', async () => {
    const vm = await deployDemo(t, { hostid: plainHostId });
    const volume = (await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ssdOffering, name: 'no-room' })).result['volume'] as { id: string };
    const refused = await job('attachVolume', { id: volume.id, virtualmachineid: vm['id']! });
    expect(refused.status).toBe(533);
    expect(refused.text).toContain('volume no-room needs storage tag ssd (disk offering SSD 1 GB)');
    expect(refused.text).toContain('host plain-host');
    expect(refused.text).toContain('sim-primary (no tags)');
    const row = t.engine.db.prepare(`SELECT pool, pool_id, vm_id, state FROM volumes WHERE uuid=?`).get(volume.id);
    expect(row).toEqual({ pool: null, pool_id: null, vm_id: null, state: 'Allocated' });
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    await t.run('deleteVolume', { id: volume.id }).catch(() => t.call('deleteVolume', { id: volume.id }));
  });

  it("a disabled pool takes no new volume, even with the tag", async () => {
    const ssd = await poolNamed('sim-ssd');
    await t.ok('updateStoragePool', { id: ssd.id, enabled: 'false' });
    const vm = await deployDemo(t, { hostid: tagHostId });
    const volume = (await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ssdOffering, name: 'on-disabled' })).result['volume'] as { id: string };
    const refused = await job('attachVolume', { id: volume.id, virtualmachineid: vm['id']! });
    expect(refused.status).toBe(533);
    expect(refused.text).not.toContain('sim-ssd');
    await t.ok('updateStoragePool', { id: ssd.id, enabled: 'true' });
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });

  it("a service offering's storage tags place the root disk; without a pool for them the deploy is refused 533 and nothing is written", async () => {
    const offering = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '1', cpuspeed: '500', memory: '256', tags: 'ssd' }))['serviceoffering'] as { id: string; storagetags: string });
    expect(offering.storagetags).toBe('ssd');
    const placed = await deployDemo(t, { hostid: tagHostId, serviceofferingid: offering.id });
    const root = t.engine.db.prepare(`SELECT v.pool FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(placed['id']);
    expect(root).toBe('sim-ssd');
    // A host that reaches no pool with the tag is refused at placement now (storage-tags filter), before any VM is written.
    const vms = () => t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get();
    const before = vms();
    const failed = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: offering.id, hostid: plainHostId });
    expect(failed.status).toBe(533);
    expect(String(failed.body['errortext'])).toContain('plain-host: no enabled pool with storage tag ssd for volume the root volume (service offering ssd-root; pools: sim-primary)');
    expect(vms()).toBe(before);
    await t.run('destroyVirtualMachine', { id: placed['id']!, expunge: 'true' });
  });
});

describe('findStoragePoolsForMigration', () => {
  it("lists the cluster's other pools for a volume with suitableformigration and why not", async () => {
    const ssdOffering = ((await t.ok('createDiskOffering', { name: 'SSD 2 GB', disksize: '2', tags: 'ssd' }))['diskoffering'] as { id: string }).id;
    const onTagHost = await deployDemo(t, { hostid: tagHostId });
    const onPlain = await deployDemo(t, { hostid: plainHostId });
    const rootOf = (vm: Record<string, string>) => t.engine.db.prepare(`SELECT v.uuid FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(vm['id']) as string;
    type Found = { name: string; suitableformigration: boolean; notsuitablereason?: string };
    const found = async (id: string) => ((await t.ok('findStoragePoolsForMigration', { id }))['storagepool'] as Found[]).map((p) => [p.name, p.suitableformigration, p.notsuitablereason]);
    expect(await found(rootOf(onTagHost))).toEqual([['sim-ssd', true, undefined]]);
    expect(await found(rootOf(onPlain))).toEqual([['sim-ssd', false, "it is local storage of host tag-host, and the volume's disk is on host plain-host"]]);
    const volume = (await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ssdOffering, name: 'fast-2' })).result['volume'] as { id: string };
    expect((await job('attachVolume', { id: volume.id, virtualmachineid: onTagHost['id']! })).status).toBe(200);
    expect(await found(volume.id)).toEqual([['sim-primary', false, 'it lacks storage tag ssd of disk offering SSD 2 GB']]);
    const neverMade = ((await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ssdOffering, name: 'never-made' })).result['volume'] as { id: string }).id;
    const allocated = await t.call('findStoragePoolsForMigration', { id: neverMade });
    expect(allocated.status).toBe(431);
    expect(String(allocated.body['errortext'])).toContain('has no disk on any host yet');
    await t.run('destroyVirtualMachine', { id: onTagHost['id']!, expunge: 'true', volumeids: volume.id });
    await t.run('destroyVirtualMachine', { id: onPlain['id']!, expunge: 'true' });
  });
});

/**
 * Storage tags judge a made disk by the pool it is on (storage/need-pool.ts), on the simulator: a
 * VM of an ssd offering has its root disk on the Demo Cluster's sim-primary, tagged ssd. A host of
 * another cluster of the zone has an ssd pool too (its local ssd-x), but not the VM's disk: its
 * verdict names the disk and its tag, and a start of the stopped VM there is a 533 that changes
 * nothing (before, any ssd pool of that host passed it, and the VM started where its disk is not).
 * Once sim-primary loses the tag, the disk fails on every host, naming pool and tag. With disks
 * free to move (an import with migrateallowed) the verdict picks a pool with the tags, the one the
 * move then uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolForNeed } from '../../main/engine/storage/need-pool.js';
import type { StoragePoolRow } from '../../main/engine/storage/pool-records.js';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let otherHost: string;
let vm: Record<string, string>;

interface Verdict { hostName: string; suitable: boolean; reason: string }
const rootVolume = (vmId: string) => t.engine.db.prepare(`SELECT v.name, v.pool FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vmId) as { name: string; pool: string };
const verdicts = async (vmId: string) => ((await t.ok('explainPlacement', { virtualmachineid: vmId }))['placement'] as { hosts: Verdict[] }).hosts;
/** The pool NAME of the cluster of host HOSTNAME. */
const poolOf = (name: string, hostName: string) => (t.engine.db.prepare('SELECT p.uuid FROM storage_pools p JOIN hosts h ON h.cluster_id=p.cluster_id WHERE p.name=? AND h.name=? AND p.removed IS NULL').get(name, hostName) as { uuid: string }).uuid;

beforeAll(async () => {
  t = await testEngine();
  const ids = demoIds(t.engine);
  const pod = ((await t.ok('listPods', { zoneid: ids.zoneid }))['pod'] as { id: string }[])[0]!;
  const cluster = (await t.ok('addCluster', { clustername: 'Other Cluster', zoneid: ids.zoneid, podid: pod.id, hypervisor: 'Simulator' }))['cluster'] as { id: string };
  otherHost = ((await t.ok('addHost', { zoneid: ids.zoneid, podid: pod.id, clusterid: cluster.id, hypervisor: 'Simulator', url: 'simulator://other-host?localpools=ssd-x&memory=65536' }))['host'] as { id: string }).id;
  await t.ok('listStoragePools', {});
  await t.ok('updateStoragePool', { id: poolOf('sim-primary', 'sim-host-1'), tags: 'ssd' });
  await t.ok('updateStoragePool', { id: poolOf('ssd-x', 'other-host'), tags: 'ssd' });
  const ssd = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '1', cpuspeed: '500', memory: '256', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
  const home = (t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name='sim-host-1'`).get() as { uuid: string }).uuid;
  vm = await deployDemo(t, { serviceofferingid: ssd, hostid: home });
  expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
});
afterAll(() => t.close());

describe('storage tags judge a made disk by the pool it is on', () => {
  it('a host of another cluster with an ssd pool of its own does not carry the disk: its verdict names it, and a start there is a 533', async () => {
    const root = rootVolume(vm['id']!);
    expect(root.pool).toBe('sim-primary');
    const reason = `volume ${root.name} (service offering ssd-root, storage tag ssd) is on pool sim-primary of cluster Demo Cluster, which this host (cluster Other Cluster) does not reach (it reaches sim-primary, ssd-x has ssd)`;
    const hosts = await verdicts(vm['id']!);
    expect(hosts.find((h) => h.hostName === 'other-host')).toMatchObject({ suitable: false, reason });
    expect(hosts.find((h) => h.hostName === 'sim-host-1')).toMatchObject({ suitable: true });

    const refused = await t.run('startVirtualMachine', { id: vm['id']!, hostid: otherHost });
    expect(refused['jobstatus']).toBe(2);
    expect(refused['jobresult']).toMatchObject({ errorcode: 533 });
    expect(String((refused['jobresult'] as { errortext: string }).errortext)).toContain(`other-host: ${reason}`);
    expect((await t.ok('listVirtualMachines', { id: vm['id']! }))['virtualmachine']).toMatchObject([{ state: 'Stopped' }]);
    expect(Object.keys(t.engine.simulator.world.find('other-host')!.domains)).toEqual([]);
  });

  it('a disk whose pool lost the tag fails on every host, naming the disk, the pool and the tag', async () => {
    const primary = poolOf('sim-primary', 'sim-host-1');
    await t.ok('updateStoragePool', { id: primary, tags: '' });
    try {
      const root = rootVolume(vm['id']!);
      const hosts = await verdicts(vm['id']!);
      expect(hosts.find((h) => h.hostName === 'sim-host-1')).toMatchObject({ suitable: false, reason: `volume ${root.name} is on pool sim-primary, which lacks storage tag ssd of service offering ssd-root` });
      expect(hosts.filter((h) => h.suitable)).toEqual([]);
    } finally {
      await t.ok('updateStoragePool', { id: primary, tags: 'ssd' });
    }
  });
});

describe('poolForNeed', () => {
  const pool = (id: number, name: string, tags: string, extra: Partial<StoragePoolRow> = {}): StoragePoolRow => ({
    id, uuid: `p${id}`, name, zone_id: 1, pod_id: 1, cluster_id: 1, host_id: null, ref: name, type: 'dir', scope: 'CLUSTER', hypervisor: 'KVM',
    capacity_bytes: 100, used_bytes: 0, allocated_bytes: null, is_default: 0, tags, enabled: 1, present: 1, last_seen: null, created: '', removed: null, ...extra,
  });
  // The host's pools, most free space first (as DbPlacementState.storagePools gives them).
  const pools = [pool(1, 'plain', '', { is_default: 1 }), pool(2, 'fast-1', 'ssd'), pool(3, 'fast-2', 'ssd,nvme')];
  const need = { volume: 'ROOT-7', tags: ['ssd'], offering: 'service offering big' };

  it('keeps a made disk on its pool when it has the tags, and refuses another tagged pool in its stead unless disks may move', () => {
    expect(poolForNeed({ ...need, poolId: 3 }, pools).pool?.name).toBe('fast-2');
    expect(poolForNeed({ ...need, poolId: 9 }, pools).refusal).toBe('volume ROOT-7 (service offering big, storage tag ssd) is on a pool that this host does not reach (it reaches plain, fast-1 has ssd, fast-2 has ssd nvme)');
    expect(poolForNeed({ ...need, poolId: 9, poolName: 'far of cluster C2' }, pools).refusal).toMatch(/^volume ROOT-7 \(service offering big, storage tag ssd\) is on pool far of cluster C2, which this host does not reach /);
    expect(poolForNeed({ ...need, poolId: 1 }, pools).refusal).toBe('volume ROOT-7 is on pool plain, which lacks storage tag ssd of service offering big');
    // Free to move: the first pool with the tags, which is where the move takes it.
    expect(poolForNeed({ ...need, poolId: 9 }, pools, true).pool?.name).toBe('fast-1');
    expect(poolForNeed({ ...need, poolId: 1 }, pools, true).pool?.name).toBe('fast-1');
  });

  it('keeps a disk on its Disabled pool, judges a copy by the default pool, and a new disk by the enabled pools', () => {
    const disabled = [pool(2, 'fast-1', 'ssd', { enabled: 0 }), pool(3, 'fast-2', 'ssd', { is_default: 1 })];
    expect(poolForNeed({ ...need, poolId: 2 }, disabled).pool?.name).toBe('fast-1');
    expect(poolForNeed(need, disabled).pool?.name).toBe('fast-2');
    expect(poolForNeed({ ...need, onDefaultPool: true }, pools).refusal).toBe('ROOT-7 would be copied onto the host\'s default pool plain, which lacks storage tag ssd of service offering big');
    expect(poolForNeed({ ...need, onDefaultPool: true }, disabled).pool?.name).toBe('fast-2');
  });
});

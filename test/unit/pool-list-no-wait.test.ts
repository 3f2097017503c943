/**
 * "listStoragePools waits on open-session hosts" (issue 16: a list never connects or waits on a
 * host). A host whose session is open but that no longer answers (a cut link: the connection stays
 * up, every command hangs) is stood in for by a simulated host whose pool read never returns. Its
 * pools, recorded when its session opened, still list at once, and neither listStoragePools nor
 * findStoragePoolsForMigration asks the host; the periodic refresh (refreshOpenPools) gives it
 * host.check.timeout and then goes on, keeping its records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { refreshOpenPools } from '../../main/engine/storage/pool-sync.js';
import type { PrimaryStorageFacet } from '../../drivers/types.js';

let t: TestEngine;
let stalledId: string;
/** Pool reads the stalled host was asked for. */
let asked = 0;

/** The call's answer, or 'no answer' if none came within MS (a hang, not a timing: the call answers in milliseconds or never). */
const within = <T>(ms: number, promise: Promise<T>) => Promise.race([promise, new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), ms))]);

beforeAll(async () => {
  t = await testEngine();
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod, z.uuid AS zone FROM clusters c JOIN pods p ON p.id=c.pod_id JOIN zones z ON z.id=c.zone_id WHERE c.hypervisor='Simulator' ORDER BY c.id LIMIT 1`).get() as { uuid: string; pod: string; zone: string };
  const added = (await t.ok('addHost', { zoneid: cluster.zone, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: 'simulator://stalled-host?localpools=stalled-ssd&memory=65536', username: 'root', password: 'x' }))['host'] as { id: string }[] | { id: string };
  stalledId = (Array.isArray(added) ? added[0]! : added).id;
});
afterAll(() => t.close());

describe('a host whose session is open but which does not answer', () => {
  it("has its pools listed at once, as its session's opening recorded them, and is not asked", async () => {
    const hostId = t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(stalledId) as number;
    const session = t.engine.hosts.openSession(hostId)!;
    expect(session.primaryStorage, 'the simulated host publishes its pools').toBeDefined();
    // A VM with its disk on the host, for findStoragePoolsForMigration below (made before the host stops answering).
    const vm = await deployDemo(t, { hostid: stalledId, name: 'on-stalled' });
    (session.primaryStorage as { pools: PrimaryStorageFacet['pools'] }).pools = () => {
      asked++;
      return new Promise(() => undefined);
    };

    const listed = await within(10_000, t.call('listStoragePools', { hostid: stalledId }));
    expect(listed, 'listStoragePools answered').not.toBe('no answer');
    const pools = ((listed as { body: Record<string, unknown> }).body['storagepool'] as { name: string; hostname?: string; state: string }[]).map((p) => [p.name, p.hostname ?? '', p.state]);
    expect(pools.sort()).toEqual([['sim-primary', '', 'Up'], ['stalled-ssd', 'stalled-host', 'Up']]);
    const all = await within(10_000, t.call('listStoragePools'));
    expect(all, 'listStoragePools without a filter answered').not.toBe('no answer');

    const root = t.engine.db.prepare(`SELECT v.uuid FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).pluck().get(vm['id']) as string;
    const found = await within(10_000, t.call('findStoragePoolsForMigration', { id: root }));
    expect(found, 'findStoragePoolsForMigration answered').not.toBe('no answer');
    expect(((found as { body: Record<string, unknown> }).body['storagepool'] as { name: string }[]).map((p) => p.name)).toContain('stalled-ssd');
    expect(asked, 'pool reads a list asked of the host').toBe(0);
  });

  it('the periodic refresh gives it host.check.timeout, then finishes and keeps its records', async () => {
    await t.ok('updateConfiguration', { name: 'host.check.timeout', value: '1' });
    const refreshed = await within(10_000, refreshOpenPools(t.engine));
    expect(refreshed, 'refreshOpenPools finished').not.toBe('no answer');
    expect(asked).toBe(1);
    const pools = ((await t.ok('listStoragePools', { hostid: stalledId }))['storagepool'] as { name: string; state: string }[]).map((p) => `${p.name} ${p.state}`);
    expect(pools.sort()).toEqual(['sim-primary Up', 'stalled-ssd Up']);
  });
});

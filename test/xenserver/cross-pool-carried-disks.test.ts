/**
 * A cross-pool move carries the VM's disks (xapi's VM.migrate_send copies each VDI onto the
 * destination pool's default SR unless migrateto names one), so placement judges a made disk by
 * the pool it would land on there, tags included, not by the pool it leaves (storage/need-pool.ts,
 * the storage-tags filter). Two xapi simulator pools, each a Kiln cluster; the VM's root disk is
 * on Pool A's NFS SR, tagged gold, as its offering asks.
 *
 * - Pool B's default SR lacks gold: b-host-1's verdict names that SR and the missing tag (before:
 *   "is on pool … of cluster Pool A, which this host does not reach", the source pool's words).
 * - Once Pool B's default SR has gold, b-host-1 is suitable and migrateVirtualMachine moves the VM
 *   there, its disk on that SR (before: refused for the source pool, whatever Pool B had).
 * - A move within Pool A carries no disk: a-host-2 still reaches the disk where it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoXenPools, type TwoXenPools } from '../helpers/two-xen-pools.js';

const TEMPLATE = '/srv/xen-templates/kiln-carried';
type Rec = Record<string, unknown>;

describe('cross-pool moves judge carried disks by the destination pool (xapi simulator)', () => {
  let pools: TwoXenPools;
  let vm = '';
  let gold = '';
  const ok = (command: string, params: Record<string, string> = {}) => pools.ok(command, params);
  /** The pool record named NAME of cluster CLUSTER. */
  const poolOf = (name: string, cluster: string) => pools.t.engine.db.prepare('SELECT p.uuid FROM storage_pools p JOIN clusters c ON c.id=p.cluster_id WHERE p.name=? AND c.name=? AND p.removed IS NULL').pluck().get(name, cluster) as string;
  const verdicts = async () => ((await ok('findHostsForMigration', { id: vm }))['host'] as { name: string; suitableformigration: boolean; reason?: string }[]);
  const root = () => pools.t.engine.db.prepare(`SELECT o.name, p.name AS pool, c.name AS cluster FROM volumes o JOIN vm_instances v ON v.id=o.vm_id LEFT JOIN storage_pools p ON p.id=o.pool_id LEFT JOIN clusters c ON c.id=p.cluster_id WHERE v.uuid=? AND o.volume_type='ROOT'`).get(vm) as { name: string; pool: string; cluster: string | null };

  beforeAll(async () => {
    pools = await twoXenPools({ template: TEMPLATE, hostsA: [{ name: 'a-host-1' }, { name: 'a-host-2' }], hostsB: [{ name: 'b-host-1' }] });
    await ok('listStoragePools', { zoneid: pools.ids['zone']! });
    await ok('updateStoragePool', { id: poolOf('NFS virtual disk storage', 'Pool A'), tags: 'gold' });
    gold = ((await ok('createServiceOffering', { name: 'gold', displaytext: 'gold', cpunumber: '1', cpuspeed: '1000', memory: '1024', tags: 'gold' }))['serviceoffering'] as { id: string }).id;
    const deployed = await pools.job('deployVirtualMachine', { zoneid: pools.ids['zone']!, templateid: pools.ids['template']!, serviceofferingid: gold, networkids: pools.ids['network']!, hostid: pools.ids['a-host-1']!, name: 'carried' });
    expect(deployed['jobstatus'], JSON.stringify(deployed['jobresult'])).toBe(1);
    vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    await ok('listStoragePools', { zoneid: pools.ids['zone']! });
    expect(root()).toMatchObject({ pool: 'NFS virtual disk storage', cluster: 'Pool A' });
  }, 90_000);
  afterAll(async () => {
    await pools?.close();
  });

  it("a destination pool whose default SR lacks the disk's tag refuses the move, naming that SR and the tag", async () => {
    const found = await verdicts();
    const { name } = root();
    expect(found.find((h) => h.name === 'b-host-1')).toMatchObject({
      suitableformigration: false,
      reason: `volume ${name} would be carried onto this host's default pool NFS virtual disk storage (a move to another cluster copies its disks there), which lacks storage tag gold of service offering gold`,
    });
    // Within Pool A nothing is carried: the disk stays on the SR a-host-2 reaches.
    expect(found.find((h) => h.name === 'a-host-2')).toMatchObject({ suitableformigration: true });
    const refused = await pools.t.call('migrateVirtualMachine', { virtualmachineid: vm, hostid: pools.ids['b-host-1']! });
    expect([refused.status, refused.body['errortext']]).toEqual([533, expect.stringContaining('b-host-1: volume ')]);
    expect(String(refused.body['errortext'])).toContain('which lacks storage tag gold of service offering gold');
    expect(pools.row(vm)).toMatchObject({ state: 'Running', host: 'a-host-1', cluster: 'Pool A' });
  }, 60_000);

  it('once the destination default SR has the tag, the move is offered and carries the disk there', async () => {
    await ok('updateStoragePool', { id: poolOf('NFS virtual disk storage', 'Pool B'), tags: 'gold' });
    expect((await verdicts()).find((h) => h.name === 'b-host-1')).toMatchObject({ suitableformigration: true });
    const moved = await pools.job('migrateVirtualMachine', { virtualmachineid: vm, hostid: pools.ids['b-host-1']! });
    expect(moved['jobstatus'], JSON.stringify(moved['jobresult'])).toBe(1);
    expect(pools.row(vm)).toMatchObject({ state: 'Running', host: 'b-host-1', cluster: 'Pool B' });
    // Recorded on Pool B's record at once (before, Pool A's stayed until a later listStoragePools).
    expect(((await ok('listVolumes', { virtualmachineid: vm }))['volume'] as Rec[])[0]).toMatchObject({ storage: 'NFS virtual disk storage', storageid: poolOf('NFS virtual disk storage', 'Pool B') });
  }, 60_000);
});

import { defineCommand, ADMIN_ONLY, type CommandContext } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import type { Args } from '../../registry/params.js';
import { byUuid } from '../../lookup.js';
import type { Engine } from '../../engine.js';
import type { HostRow } from '../../hosts/host-manager.js';
import type { VmRow, VolumeRow } from '../../vm/rows.js';
import { migrateVm } from '../../vm/vm-changes.js';
import { vmJob } from '../../vm/vm-job.js';
import { snapshotsOf } from '../../vm/vm-snapshots.js';
import { planMigration } from '../../placement/migration.js';
import { migrationRefusal, POOL_FROM, POOL_SELECT, type PoolViewRow } from '../../storage/pool-records.js';
import { requiredTags } from '../../storage/pool-choice.js';
import { syncClusterPools } from '../../storage/pool-sync.js';
import { moveVolumes, type VolumeMove } from '../../storage/volume-moves.js';

/**
 * CloudStack's migrateVirtualMachineWithVolume (R21). A Running VM migrates live to another host
 * with the volumes named in migrateto moving to pools there, where the hypervisor's storage motion
 * includes running VMs (liveStorageMotion; KVM copies the disks along with virsh migrate
 * --copy-storage-all). A Stopped VM (CloudStack 4.16+) moves offline: its volumes to the named
 * pools, and its definition to hostid (by default the host of a named local pool, else its own),
 * through storage/volume-moves.ts. Each volume's record names its new pool once the move is done.
 */
export default defineCommand({
  name: 'migrateVirtualMachineWithVolume',
  description: 'Migrates a VM together with its volumes to the storage pools named in migrateto (R21): a Running VM live to another host, a Stopped VM offline (to hostid, or the host of a named local pool). Only hypervisors with storage motion can do it; others are refused with the reason.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  vmStates: ['Running', 'Stopped'],
  capabilities: ['storageMotion', 'migration'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'hostid', type: 'uuid', description: 'Destination Host ID to migrate VM to (a Stopped VM: by default the host of a named local pool, else its own)' },
    { name: 'migrateto', type: 'map', description: 'Storage to pool mapping: migrateto[i].volume=<volume uuid>&migrateto[i].pool=<pool uuid, or its name on the destination>' },
  ],
  async handler(ctx, args) {
    const { engine, caller } = ctx;
    const requested = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    if (requested.state === 'Stopped') return stoppedWithVolumes(ctx, requested, args);
    const { vm, chosen, outcome } = planMigration(engine, caller, args);
    const source = await engine.hosts.session(vm.host_id!);
    if (!source.capabilities.liveMigration || !source.capabilities.storageMotion || source.capabilities.liveStorageMotion === false) {
      const host = engine.db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(vm.host_id) as string;
      const why = !source.capabilities.storageMotion || !source.capabilities.liveMigration ? 'it has no live storage motion' : 'it moves disks only while the VM is stopped: stop the VM, then move it with its volumes (this command, or migrateVolume)';
      throw ApiError.param(`migrateto: the hypervisor of host ${host} cannot move a running VM's volumes to other pools (${why}); use migrateVirtualMachine on shared storage`);
    }
    const moves = await poolMoves(engine, vm, args, chosen);
    return vmJob(ctx, vm, async (job) => {
      engine.vms.lastPlacement.set(vm.id, outcome);
      // The destination's pools by their records' refs, as every other hand-off of a pool to the driver
      // (pool-choice.ts, volume-moves.ts): a name need not be unique (vSphere: a datastore's, per datacenter).
      // The volume's pool text is that ref too, as those paths record it (users see the pool record's name and uuid).
      const moved = await migrateVm(engine, caller, engine.vms.get(vm.id), chosen, job, Object.fromEntries(moves.map((m) => [m.volume.path ?? '', m.pool.ref])));
      const set = engine.db.prepare('UPDATE volumes SET pool=?, pool_id=? WHERE id=?');
      engine.db.transaction(() => {
        for (const m of moves) set.run(m.pool.ref, m.pool.id, m.volume.id);
      })();
      return moved;
    });
  },
});

/**
 * migrateto as volume -> pool rows, each pool one DESTINATION reaches (its cluster's, or its own
 * local one). The records are read afresh from the hosts (syncClusterPools) only when one named is
 * not among them yet and the destination reports it: a refusal writes nothing.
 */
async function poolMoves(engine: Engine, vm: VmRow, args: Args, destination: Pick<HostRow, 'id' | 'name' | 'cluster_id'>): Promise<VolumeMove[]> {
  const db = engine.db;
  const entries = args.map('migrateto') ?? [];
  const read = () => db.prepare(`SELECT ${POOL_SELECT} ${POOL_FROM} WHERE p.removed IS NULL AND p.cluster_id=? AND (p.scope='CLUSTER' OR p.host_id=?) ORDER BY p.id`).all(destination.cluster_id, destination.id) as PoolViewRow[];
  const find = (pools: PoolViewRow[], wanted: string) => pools.find((p) => p.uuid === wanted) ?? pools.find((p) => p.ref === wanted || p.name === wanted);
  let reachable = read();
  const unknown = entries.map((e) => e['pool'] ?? '').filter((wanted) => !find(reachable, wanted));
  if (unknown.length > 0) {
    const reported = (await (await engine.hosts.session(destination.id)).inventory()).storagePools.flatMap((p) => [p.name, ...(p.ref ? [p.ref] : [])]);
    if (unknown.some((wanted) => reported.includes(wanted))) {
      await syncClusterPools(engine, destination.cluster_id);
      reachable = read();
    }
  }
  return entries.map((entry, i) => {
    const volume = byUuid<VolumeRow>(db, 'volume', entry['volume'] ?? '', `migrateto[${i}].volume`);
    if (volume.vm_id !== vm.id) throw ApiError.param(`migrateto[${i}].volume: volume ${volume.uuid} is not attached to this VM`);
    const wanted = entry['pool'] ?? '';
    const pool = find(reachable, wanted);
    if (!pool) throw ApiError.param(`migrateto[${i}].pool: host ${destination.name} has no storage pool "${wanted}" (it has ${reachable.map((p) => p.name).join(', ') || 'none'})`);
    const refusal = migrationRefusal(pool, destination, requiredTags(db, volume.id));
    if (refusal) throw ApiError.param(`migrateto[${i}].pool: volume ${volume.name} cannot move to storage pool ${pool.name}: ${refusal}`);
    return { volume, pool };
  });
}

/** A Stopped VM: its named volumes to their pools, its definition to the host that reaches them. */
async function stoppedWithVolumes(ctx: CommandContext, vm: VmRow, args: Args) {
  const { engine, caller } = ctx;
  const db = engine.db;
  const from = vm.last_host_id;
  if (from === null || vm.ref === null) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has never been started; its volumes are made where it first starts`);
  const entries = args.map('migrateto') ?? [];
  if (entries.length === 0) throw ApiError.param(`migrateto: VM ${vm.display_name} is Stopped; name the pools its volumes move to (a stopped VM moves with its storage)`);
  const source = db.prepare('SELECT id, name, pod_id, cluster_id FROM hosts WHERE id=?').get(from) as HostRow;
  const given = args.uuid('hostid') ? byUuid<HostRow>(db, 'host', args.uuid('hostid')!, 'hostid') : undefined;
  // Without hostid: the host of a named local pool (the VM must go where that disk will be), else its own.
  const localHost = entries
    .map((e) => db.prepare(`SELECT host_id FROM storage_pools WHERE removed IS NULL AND cluster_id=? AND scope='HOST' AND (uuid=? OR ref=? OR name=?)`).pluck().get(source.cluster_id, e['pool'] ?? '', e['pool'] ?? '', e['pool'] ?? '') as number | undefined)
    .find((id) => id !== undefined);
  const target = given ?? (localHost !== undefined ? (db.prepare('SELECT * FROM hosts WHERE id=?').get(localHost) as HostRow) : source);
  if (target.cluster_id !== source.cluster_id) throw ApiError.param(`hostid: host ${target.name} is in another cluster than VM ${vm.display_name}; move it with migrateVirtualMachine storageid=`);
  const moves = await poolMoves(engine, vm, args, target);
  const session = await engine.hosts.session(from);
  if (!session.capabilities.storageMotion || !session.migration) throw ApiError.param(`migrateto: the hypervisor of host ${source.name} cannot move disks between storage pools`);
  if (target.id !== from) {
    if (!session.capabilities.storageMotionAcrossHosts) throw ApiError.param(`hostid: the hypervisor of host ${source.name} cannot move a stopped VM's disks to another host`);
    // A disk on this host's own storage would stay behind, out of reach of the new host.
    const named = new Set(moves.map((m) => m.volume.id));
    const left = db.prepare(`SELECT v.id, v.name FROM volumes v JOIN storage_pools p ON p.id=v.pool_id WHERE v.vm_id=? AND v.removed IS NULL AND p.scope='HOST' AND p.host_id<>?`).all(vm.id, target.id) as { id: number; name: string }[];
    const behind = left.filter((v) => !named.has(v.id));
    if (behind.length) throw ApiError.param(`migrateto: volume ${behind.map((v) => v.name).join(', ')} of VM ${vm.display_name} is local storage of host ${source.name}, which host ${target.name} cannot reach; name a pool for it too`);
  }
  if (snapshotsOf(engine, vm.id).length > 0) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has VM snapshots; they live in its disks and would not survive the move, so delete them first`);
  return vmJob(ctx, vm, (job) => moveVolumes(engine, caller, vm, target, moves, job));
}

/**
 * KVM's live storage motion on one host: a running domain's disks copied into other libvirt pools
 * of the same host with libvirt's block copy, while the guest keeps running.
 *
 * For each disk Kiln makes the destination volume itself (a qcow2 v3 of the source's capacity and
 * name, as createVolume makes them: no name or path from a user), then `virsh blockcopy
 * --reuse-external --wait` mirrors the guest's whole disk (its backing chain flattened into the
 * copy) until source and copy are in step, and keeps mirroring every write. Only when every disk
 * is in step does `blockjob --pivot` switch the guest to its copies; libvirt then rewrites the
 * persistent definition too (checked, and done here if it did not). The sources go last.
 *
 * Settled state on every failure before the pivots: each started job is aborted (the guest stays
 * on its old disks, which never stopped being written), and every copy is deleted, so nothing is
 * left in the destination pools. `--transient-job`: a guest that stops during the copy ends the
 * job rather than leaving one for libvirt to recover.
 */
import { DriverError } from '../types.js';
import { createVolume, deleteVolume, type HostStorage } from './storage.js';
import { planMoves, pointDiskAt, refuseInternalState, fileDisks, type MovedDisk, type PlannedMove } from './volume-move.js';
import { virshError } from './virsh.js';
import { attr, child } from './xml.js';

/** Seconds a disk's copy may take to get in step: ten minutes, plus one per 20 MB of virtual size. */
function copySeconds(capacityBytes: number): number {
  return 600 + Math.ceil(capacityBytes / 20_000_000);
}

/** Moves the named disks of the running domain VM to the pools in VOLUMEPOOLS (DiskSpec.name -> pool), live. */
export async function moveRunningDisks(storage: HostStorage, vm: string, volumePools: Record<string, string>): Promise<MovedDisk[]> {
  const { virsh } = storage;
  await refuseInternalState(virsh, vm);
  const planned = await planMoves(storage, storage, vm, volumePools, await virsh.run(['dumpxml', '--domain', vm]));
  const mirroring: PlannedMove[] = [];
  let pivoted = 0;
  try {
    for (const move of planned) move.copy = await createVolume(storage, move.pool, { name: move.source.name, sizeBytes: move.source.capacityBytes, device: 'disk' });
    for (const move of planned) {
      const seconds = copySeconds(move.source.capacityBytes);
      mirroring.push(move);
      await virsh.run(
        ['blockcopy', '--domain', vm, '--path', move.target, '--dest', move.copy!.path, '--format', 'qcow2', '--reuse-external', '--transient-job', '--wait', '--timeout', String(seconds)],
        { timeoutMs: (seconds + 60) * 1000 },
      );
    }
    for (const move of planned) {
      await virsh.run(['blockjob', '--domain', vm, '--path', move.target, '--pivot']);
      pivoted++;
    }
  } catch (error) {
    if (pivoted > 0) {
      // The guest already writes to the copies of the disks before this one: they stay moved.
      const moved = planned.slice(0, pivoted).map((m) => `${m.name} (now in pool ${m.pool})`).join(', ');
      throw new DriverError(`the live copy of ${vm}'s disks failed after disks ${moved} were switched over: ${error instanceof Error ? error.message : String(error)}`, 'failed');
    }
    await abandon(storage, vm, mirroring, planned);
    throw error instanceof DriverError ? new DriverError(`cannot copy the disks of running domain ${vm}: ${error.message}; it keeps running on its old disks`, error.category) : error;
  }
  // libvirt points the persistent definition at a pivoted copy; a definition it left alone is done here.
  const persistent = fileDisks(await virsh.run(['dumpxml', '--domain', vm, '--inactive']));
  for (const move of planned) {
    const disk = persistent.find((d) => attr(child(d, 'target'), 'dev') === move.target);
    if (disk && attr(child(disk, 'source'), 'file') === move.source.path) await pointDiskAt(storage, vm, disk, move.copy!);
  }
  for (const move of planned) {
    const removed = await virsh.tryRun(['vol-delete', '--vol', move.source.path]);
    if (removed.code !== 0 && !/not found|failed to get vol/i.test(removed.stderr)) {
      throw virshError(removed.stderr, `disk ${move.name} of ${vm} moved live to pool ${move.pool}, but its old copy ${move.source.path} could not be deleted`);
    }
  }
  return planned.map((m) => ({ name: m.name, ref: m.copy!.path, pool: m.pool }));
}

/** Ends the mirrors (the guest stays on its sources) and deletes every copy. */
async function abandon(storage: HostStorage, vm: string, mirroring: PlannedMove[], planned: PlannedMove[]): Promise<void> {
  // A job that already ended by itself (it failed) leaves nothing to abort: that answer is fine too.
  for (const move of mirroring) await storage.virsh.tryRun(['blockjob', '--domain', vm, '--path', move.target, '--abort']).catch(() => undefined);
  for (const move of planned) {
    if (move.copy) await deleteVolume(storage, move.pool, move.copy.name).catch(() => undefined);
  }
}

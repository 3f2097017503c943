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
 *
 * A failure among the pivots leaves some disks switched over: the guest's live definition (the
 * host's truth, not virsh's answers: a pivot reported failed may have happened) says which. Those
 * stay moved and are finished as after a success (definition, old copy deleted); the others'
 * mirrors are aborted and their copies deleted. The DriverError then carries the moved disks
 * (details.moved), so Kiln records their new pools.
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
  let pivoting = false;
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
    pivoting = true;
    for (const move of planned) await virsh.run(['blockjob', '--domain', vm, '--path', move.target, '--pivot']);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (pivoting) throw await partialMove(storage, vm, planned, reason);
    await abandon(storage, vm, mirroring, planned);
    throw error instanceof DriverError ? new DriverError(`cannot copy the disks of running domain ${vm}: ${error.message}; it keeps running on its old disks`, error.category) : error;
  }
  await finishMoved(storage, vm, planned);
  return planned.map((m) => ({ name: m.name, ref: m.copy!.path, pool: m.pool }));
}

/**
 * After a failure among the pivots: the disks the guest now runs on in their new pools stay moved
 * (finished as after a success), the others go back to only their old disks. The error says which
 * is which and carries the moved ones.
 */
async function partialMove(storage: HostStorage, vm: string, planned: PlannedMove[], reason: string): Promise<DriverError> {
  const live = await storage.virsh.run(['dumpxml', '--domain', vm]).catch(() => undefined);
  if (live === undefined) {
    // Which disks switched over cannot be learnt: nothing is aborted or deleted, the admin looks.
    return new DriverError(`the live copy of ${vm}'s disks failed while switching over (${reason}), and its definition cannot be read to learn which disks moved; copies may remain in pools ${[...new Set(planned.map((m) => m.pool))].join(', ')}`, 'failed');
  }
  const disks = fileDisks(live);
  const onCopy = (m: PlannedMove) => disks.some((d) => attr(child(d, 'target'), 'dev') === m.target && attr(child(d, 'source'), 'file') === m.copy!.path);
  const moved = planned.filter(onCopy);
  const stayed = planned.filter((m) => !onCopy(m));
  await abandon(storage, vm, stayed, stayed);
  const unfinished = await finishMoved(storage, vm, moved).then(() => '', (e: unknown) => `; ${e instanceof Error ? e.message : String(e)}`);
  const disksWord = (moves: PlannedMove[]) => `disk${moves.length === 1 ? '' : 's'} ${moves.map((m) => m.name).join(', ')}`;
  const outcome = moved.length
    ? `${disksWord(moved)} switched over to pool ${[...new Set(moved.map((m) => m.pool))].join(', ')} and stay${moved.length === 1 ? 's' : ''} moved; ${stayed.length ? `${disksWord(stayed)} did not move` : 'none stays behind'}`
    : 'no disk was switched over; it keeps running on its old disks';
  return new DriverError(`the live copy of ${vm}'s disks failed while switching over: ${reason}; ${outcome}${unfinished}`, 'failed', { moved: moved.map((m) => ({ name: m.name, pool: m.pool })) });
}

/**
 * The moved disks' last steps: libvirt points the persistent definition at a pivoted copy (one it
 * left alone is done here), then the old volumes are deleted.
 */
async function finishMoved(storage: HostStorage, vm: string, moves: PlannedMove[]): Promise<void> {
  const { virsh } = storage;
  if (moves.length === 0) return;
  const persistent = fileDisks(await virsh.run(['dumpxml', '--domain', vm, '--inactive']));
  for (const move of moves) {
    const disk = persistent.find((d) => attr(child(d, 'target'), 'dev') === move.target);
    if (disk && attr(child(disk, 'source'), 'file') === move.source.path) await pointDiskAt(storage, vm, disk, move.copy!);
  }
  for (const move of moves) {
    const removed = await virsh.tryRun(['vol-delete', '--vol', move.source.path]);
    if (removed.code !== 0 && !/not found|failed to get vol/i.test(removed.stderr)) {
      throw virshError(removed.stderr, `disk ${move.name} of ${vm} moved live to pool ${move.pool}, but its old copy ${move.source.path} could not be deleted`);
    }
  }
}

/** Ends the mirrors (the guest stays on its sources) and deletes every copy. */
async function abandon(storage: HostStorage, vm: string, mirroring: PlannedMove[], planned: PlannedMove[]): Promise<void> {
  // A job that already ended by itself (it failed) leaves nothing to abort: that answer is fine too.
  for (const move of mirroring) await storage.virsh.tryRun(['blockjob', '--domain', vm, '--path', move.target, '--abort']).catch(() => undefined);
  for (const move of planned) {
    if (move.copy) await deleteVolume(storage, move.pool, move.copy.name).catch(() => undefined);
  }
}

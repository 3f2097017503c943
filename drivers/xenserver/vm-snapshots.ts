/**
 * Snapshots (R32–R36) as xapi keeps them: VM.snapshot (disks) or VM.checkpoint (disks and
 * memory: the snapshot is Suspended), each a VM record with is_a_snapshot and snapshot_of. The
 * tree is xapi's parent chain: a new snapshot's parent is the VM's parent, and the VM's parent is
 * then the new snapshot, so the VM's parent is the current one. Revert is VM.revert (a memory
 * snapshot leaves the VM Suspended, so it is resumed: the contract's "running again"); remove is
 * VM.destroy of the snapshot and its disks (xapi moves its children up to its parent).
 */
import { DriverError, type OperationOptions, type SnapshotInfo, type SnapshotRequest } from '../types.js';
import { mapped } from './errors.js';
import { checkXapiText } from './names.js';
import { refuseWithVgpu } from './gpu.js';
import type { XenPool } from './pool.js';
import { destroyVdis, disksOf } from './vm-disks.js';
import { label, runTask } from './vm-lifecycle.js';
import { isNullRef, isoOfXapiDate, type XRef } from './xapi/records.js';

export function snapshotsOf(pool: XenPool, vm: XRef): SnapshotInfo[] {
  const current = pool.vm(vm)?.parent;
  const mine = pool.inventory.all('VM').filter(([, s]) => s.is_a_snapshot && s.snapshot_of === vm);
  const refs = new Set(mine.map(([r]) => r));
  return mine
    .map(([ref, s]) => ({
      ref, name: s.name_label, description: s.name_description || undefined,
      parent: !isNullRef(s.parent) && refs.has(s.parent) ? s.parent : undefined,
      current: ref === current, withMemory: s.power_state === 'Suspended', createdAt: isoOfXapiDate(s.snapshot_time),
    }))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

function snapshotOf(pool: XenPool, vm: XRef, snapshot: XRef): XRef {
  const s = pool.vm(snapshot);
  if (!s?.is_a_snapshot || s.snapshot_of !== vm) throw new DriverError(`${label(pool, vm)} has no snapshot ${snapshot}`, 'not-found');
  return snapshot;
}

export async function createSnapshot(pool: XenPool, vm: XRef, req: SnapshotRequest, opts: OperationOptions = {}): Promise<XRef> {
  const name = label(pool, vm);
  pool.assertReachable(`snapshotting ${name}`);
  if (req.quiesce) throw new DriverError('quiesced snapshots are not offered on XenServer (VSS quiesce was removed in XenServer 7.x)', 'unsupported');
  const snapName = checkXapiText(req.name, 'snapshot name');
  const description = checkXapiText(req.description ?? '', 'snapshot description');
  const memory = req.withMemory && pool.vm(vm)?.power_state === 'Running';
  if (memory) refuseWithVgpu(pool, vm, 'a snapshot with memory', 'take one without memory');
  return pool.initiated.run(vm, () => mapped(`snapshotting ${name}`, async () => {
    const ref = String(memory ? await runTask(pool, 'VM.checkpoint', [vm, snapName], opts) : await runTask(pool, 'VM.snapshot', [vm, snapName, []], opts));
    if (description) await pool.client.call('VM.set_name_description', ref, description);
    await pool.settle('VM', vm);
    return ref;
  }));
}

export async function revertSnapshot(pool: XenPool, vm: XRef, snapshot: XRef, opts: OperationOptions = {}): Promise<void> {
  const name = label(pool, vm);
  pool.assertReachable(`reverting ${name}`);
  const snap = snapshotOf(pool, vm, snapshot);
  await pool.initiated.run(vm, () => mapped(`reverting ${name} to ${pool.vm(snap)?.name_label ?? snap}`, async () => {
    await runTask(pool, 'VM.revert', [snap], opts);
    await pool.settle('VM', vm);
    if (pool.vm(vm)?.power_state === 'Suspended') {
      await runTask(pool, 'VM.resume', [vm, false, false], opts);
      await pool.settle('VM', vm);
    }
  }));
}

export async function removeSnapshot(pool: XenPool, vm: XRef, snapshot: XRef, opts: OperationOptions = {}): Promise<void> {
  pool.assertReachable(`removing a snapshot of ${label(pool, vm)}`);
  const snap = snapshotOf(pool, vm, snapshot);
  const vdis = (await disksOf(pool, snap)).map((d) => d.vdi);
  await pool.initiated.run(vm, () => mapped(`removing snapshot ${pool.vm(snap)?.name_label ?? snap}`, async () => {
    await runTask(pool, 'VM.destroy', [snap], opts);
    await destroyVdis(pool, vdis);
    await pool.settle('VM', vm);
  }));
}

/**
 * Snapshots (R32–R36): CreateSnapshot_Task with memory and quiesce, the tree read from the VM's
 * `snapshot` property (refs, parents, the current one), RevertToSnapshot_Task and
 * RemoveSnapshot_Task (children kept: they move to the parent, as the contract says).
 */
import { DriverError } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { MoRef, asArray, asMoRef, asObject, asString, vm as vim } from './soap/index.js';
import { runTask, type TaskOptions } from './vm-lifecycle.js';

export interface VsphereSnapshot {
  ref: MoRef;
  name: string;
  description: string;
  parent?: MoRef;
  current: boolean;
  withMemory: boolean;
  quiesced: boolean;
  createdAt: string;
}

export async function snapshotTree(ep: VsphereEndpoint, vm: MoRef): Promise<VsphereSnapshot[]> {
  const info = asObject((await ep.read(vm, ['snapshot']))['snapshot']);
  const current = asMoRef(info['currentSnapshot']);
  const out: VsphereSnapshot[] = [];
  const walk = (nodes: unknown, parent?: MoRef) => {
    for (const n of asArray(nodes as never)) {
      const t = asObject(n);
      const ref = asMoRef(t['snapshot']);
      if (!ref) continue;
      out.push({
        ref, parent, current: ref.equals(current),
        name: asString(t['name']) ?? '', description: asString(t['description']) ?? '',
        withMemory: t['state'] === 'poweredOn', quiesced: t['quiesced'] === true,
        createdAt: asString(t['createTime']) ?? '',
      });
      walk(t['childSnapshotList'], ref);
    }
  };
  walk(info['rootSnapshotList']);
  return out;
}

/** A snapshot by ref value (snapshot-12) or by name; a name several snapshots share is refused. */
export async function findSnapshot(ep: VsphereEndpoint, vm: MoRef, id: string): Promise<VsphereSnapshot> {
  const tree = await snapshotTree(ep, vm);
  const byRef = tree.find((s) => s.ref.value === id);
  if (byRef) return byRef;
  const named = tree.filter((s) => s.name === id);
  if (named.length === 0) throw new DriverError(`${vm.value} has no snapshot ${JSON.stringify(id)}`, 'not-found');
  if (named.length > 1) throw new DriverError(`${named.length} snapshots of ${vm.value} are named ${JSON.stringify(id)}; address it by its reference`, 'invalid');
  return named[0]!;
}

export async function createSnapshot(ep: VsphereEndpoint, vm: MoRef, a: { name: string; description?: string; memory: boolean; quiesce: boolean } & TaskOptions): Promise<MoRef> {
  ep.assertReachable(`snapshotting ${vm.value}`);
  const o = ep.cache.get(vm);
  if (a.quiesce && o?.props['guest.toolsRunningStatus'] !== 'guestToolsRunning') {
    throw new DriverError(`a quiesced snapshot of ${asString(o?.props['name']) ?? vm.value} needs VMware Tools running in it`, 'unsupported');
  }
  const ref = asMoRef(await mapped(`snapshotting ${vm.value}`, () => runTask(() => vim.createSnapshot(ep.client, vm, a), a)));
  if (!ref) throw new DriverError('CreateSnapshot_Task returned no snapshot', 'failed');
  await ep.refresh(vm, ['snapshot.currentSnapshot']);
  return ref;
}

export async function revertSnapshot(ep: VsphereEndpoint, snapshot: MoRef, opts: TaskOptions = {}): Promise<void> {
  ep.assertReachable(`reverting to ${snapshot.value}`);
  await mapped(`reverting to ${snapshot.value}`, () => runTask(() => vim.revertToSnapshot(ep.client, snapshot), opts));
  // A revert changes the VM's power state and size to the snapshot's: read them back.
  const vm = asMoRef((await ep.read(snapshot, ['vm']))['vm']);
  if (vm) await ep.refresh(vm, ['runtime.powerState', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'snapshot.currentSnapshot']);
}

export async function removeSnapshot(ep: VsphereEndpoint, snapshot: MoRef, opts: TaskOptions = {}): Promise<void> {
  ep.assertReachable(`removing ${snapshot.value}`);
  await mapped(`removing ${snapshot.value}`, () => runTask(() => vim.removeSnapshot(ep.client, snapshot, false), opts));
}

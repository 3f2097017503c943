/**
 * Whether a VM's set of volumes may change now: no attach or detach while it has VM snapshots
 * (R35: a snapshot would no longer match the disks it was taken of), no adding or removing while it
 * has backups (R57: a restore would bring back disks it no longer has, or miss one it gained).
 *
 * One rule for both sides: the volume commands refuse with it (attach, detach, createVolume onto a
 * VM: 431 naming their parameter) and the VM response publishes it as `volumechangeblocked` (when a
 * list asks for `details=volume`), so the Volumes tab disables its controls with the same words
 * before anyone tries.
 */
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import { snapshotRefusal } from '../vm/vm-snapshots.js';
import type { VmRow } from '../vm/rows.js';
import { backupRefusal } from './backup-guard.js';

/** Why VM's volumes cannot be attached, detached, added or removed now, or undefined when they can. */
export function volumeChangeRefusal(engine: Engine, vm: Pick<VmRow, 'id' | 'display_name'>): string | undefined {
  return snapshotRefusal(engine, vm) ?? backupRefusal(engine.db, vm);
}

/** 431 naming PARAM when the VM's volumes cannot change now. */
export function requireVolumeChangeAllowed(engine: Engine, vm: Pick<VmRow, 'id' | 'display_name'>, param: string): void {
  const why = volumeChangeRefusal(engine, vm);
  if (why) throw ApiError.param(`${param}: ${why}`);
}

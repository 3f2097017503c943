/**
 * What an SR's storage-manager driver can do. xapi allows a VDI operation only where the SM
 * record of the SR's type lists its feature (xen-api ocaml/xapi/xapi_vdi.ml, feature_of_op and
 * check_sm_feature_error; else SR_OPERATION_NOT_SUPPORTED), so Kiln reads the same record (the SM
 * class is in the event feed) to say beforehand what it would refuse.
 *
 * VDI_RESIZE_ONLINE: VDI.resize_online of a disk plugged into a running VM. None of the stock
 * SMAPIv1 drivers (NFS, LVHD, EXT, ISO; xapi-project/sm) advertises it; some others do (Ceph RBD,
 * SMAPIv3 volume plugins). VDI.resize, the offline one, refuses a disk in use (VDI_IN_USE).
 */
import type { XenPool } from './pool.js';
import type { XRef } from './xapi/records.js';

export type SmFeature = 'VDI_RESIZE' | 'VDI_RESIZE_ONLINE' | 'VDI_CREATE';

export function srHasFeature(pool: XenPool, sr: XRef, feature: SmFeature): boolean {
  const type = pool.inventory.get('SR', sr)?.type;
  if (type === undefined) return false;
  return pool.inventory.all('SM').some(([, sm]) => sm.type === type && Object.prototype.hasOwnProperty.call(sm.features ?? {}, feature));
}

/** An SR in words for a message: its name and SM type. */
export function srText(pool: XenPool, sr: XRef): string {
  const r = pool.inventory.get('SR', sr);
  return r ? `${JSON.stringify(r.name_label)} (type ${r.type})` : sr;
}

/**
 * Whether the disks Kiln makes without a pool of their own (on the pool's default SR) resize while
 * their VM runs: the host capability liveVolumeResize, by which the engine and the UI gate a
 * running VM's resize. A disk on another SR is checked by itself at the resize.
 */
export function defaultSrResizesOnline(pool: XenPool): boolean {
  const sr = pool.poolRecord()?.default_SR;
  return sr !== undefined && srHasFeature(pool, sr, 'VDI_RESIZE_ONLINE');
}

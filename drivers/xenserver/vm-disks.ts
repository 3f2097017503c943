/**
 * A VM's disks as xapi holds them: VBDs of type Disk (in userdevice order) and the VDIs behind
 * them. Read for one VM when an operation needs them (define, destroy, migrate, snapshot removal),
 * not kept in the inventory: a pool's VBDs and VDIs outnumber its VMs, and the event feed carries
 * what placement and the engine read (VMs, hosts, storage, GPUs) at the cost of one VM read.
 */
import type { XenPool } from './pool.js';
import { isXapiError } from './xapi/errors.js';
import { isNullRef, type VbdRecord, type VdiRecord, type XRef } from './xapi/records.js';

export interface VmDisk {
  vbd: XRef;
  vdi: XRef;
  record: VdiRecord;
}

/** One record, or undefined when it is gone meanwhile. */
async function maybe<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (e) {
    if (isXapiError(e, 'HANDLE_INVALID')) return undefined;
    throw e;
  }
}

export async function disksOf(pool: XenPool, vm: XRef): Promise<VmDisk[]> {
  const v = pool.vm(vm);
  if (!v) return [];
  const vbds = (await Promise.all((v.VBDs ?? []).map(async (vbd) => ({ vbd, r: await maybe<VbdRecord>(pool.client.getRecord('VBD', vbd)) }))))
    .filter((x) => x.r?.type === 'Disk' && !isNullRef(x.r.VDI))
    .sort((a, b) => Number(a.r!.userdevice) - Number(b.r!.userdevice));
  const out: VmDisk[] = [];
  for (const x of vbds) {
    const record = await maybe<VdiRecord>(pool.client.getRecord('VDI', x.r!.VDI));
    if (record) out.push({ vbd: x.vbd, vdi: x.r!.VDI, record });
  }
  return out;
}

/** VDIs named NAME (Kiln's volume name) that no VBD uses any more. */
export async function unusedVdisNamed(pool: XenPool, name: string): Promise<XRef[]> {
  const refs = (await pool.client.raw('VDI.get_by_name_label', [name])) as XRef[];
  const out: XRef[] = [];
  for (const ref of refs) {
    const r = await maybe<VdiRecord>(pool.client.getRecord('VDI', ref));
    if (r && (r.VBDs ?? []).length === 0) out.push(ref);
  }
  return out;
}

/** Destroys VDIs, best effort each (one that is gone already is fine). */
export async function destroyVdis(pool: XenPool, vdis: XRef[]): Promise<void> {
  for (const vdi of vdis) await pool.client.call('VDI.destroy', vdi).catch(() => undefined);
}

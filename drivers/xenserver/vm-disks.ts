/** A VM's disks as xapi holds them: VBDs of type Disk (in userdevice order) and the VDIs behind them. */
import type { XenPool } from './pool.js';
import { isNullRef, type VdiRecord, type XRef } from './xapi/records.js';

export interface VmDisk {
  vbd: XRef;
  vdi: XRef;
  record: VdiRecord;
}

export function disksOf(pool: XenPool, vm: XRef): VmDisk[] {
  const v = pool.vm(vm);
  if (!v) return [];
  return (v.VBDs ?? [])
    .map((vbd) => ({ vbd, r: pool.inventory.get('VBD', vbd) }))
    .filter((x) => x.r?.type === 'Disk' && !isNullRef(x.r.VDI))
    .sort((a, b) => Number(a.r!.userdevice) - Number(b.r!.userdevice))
    .flatMap((x) => {
      const record = pool.inventory.get('VDI', x.r!.VDI);
      return record ? [{ vbd: x.vbd, vdi: x.r!.VDI, record }] : [];
    });
}

/** VDIs no VBD of any VM (or snapshot) uses. */
export function unusedVdis(pool: XenPool): Set<XRef> {
  const used = new Set(pool.inventory.all('VBD').map(([, b]) => b.VDI));
  return new Set(pool.inventory.all('VDI').filter(([ref]) => !used.has(ref)).map(([ref]) => ref));
}

/** Destroys VDIs, best effort each (one that is gone already is fine). */
export async function destroyVdis(pool: XenPool, vdis: XRef[]): Promise<void> {
  for (const vdi of vdis) await pool.client.call('VDI.destroy', vdi).catch(() => undefined);
}

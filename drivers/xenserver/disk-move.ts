/**
 * A halted VM's disks moved to other SRs of its pool (migrateVolume of a stopped VM; CloudStack's
 * XenServer resource copies the VDI for it too): each disk is VDI.copy'd onto its SR (a task),
 * the copy takes the old VBD's place (same userdevice, bootable flag and mode), and only then is
 * the old VDI destroyed. A copy or plug that fails destroys the copy and leaves the VM on its old
 * disk. The copy is a new VDI, so its ref is reported for Kiln to record.
 */
import { DriverError, type OperationOptions } from '../types.js';
import { mapped } from './errors.js';
import type { XenPool } from './pool.js';
import { hostReachesSr } from './sr-scope.js';
import { disksOf } from './vm-disks.js';
import { label, runTask } from './vm-lifecycle.js';
import type { VbdRecord, XRef } from './xapi/records.js';

/** An SR of the pool by ref or name_label. */
function srNamed(pool: XenPool, sr: string): XRef | undefined {
  return pool.inventory.get('SR', sr) ? sr : pool.inventory.all('SR').find(([, s]) => s.name_label === sr)?.[0];
}

export interface HaltedMove {
  /** Kiln disk name -> destination SR ref. */
  srs: Record<string, XRef>;
}

/** Checks before anything moves: the VM is halted, every disk and SR exists, and the VM's home host reaches each SR. */
export async function prepareHaltedMove(pool: XenPool, vm: XRef, home: XRef, diskPools: Record<string, string>, diskRefs: Record<string, string | undefined>): Promise<HaltedMove> {
  const v = pool.vm(vm);
  if (!v) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  if (v.power_state !== 'Halted') throw new DriverError(`${v.name_label} is ${v.power_state.toLowerCase()}; its disks move to another SR only while it is halted`, 'invalid');
  const disks = await mapped(`reading the disks of ${v.name_label}`, () => disksOf(pool, vm));
  const srs: Record<string, XRef> = {};
  for (const [name, sr] of Object.entries(diskPools)) {
    const ref = srNamed(pool, sr);
    if (!ref) throw new DriverError(`no storage repository ${JSON.stringify(sr)} in the pool`, 'not-found');
    if (!disks.some((d) => d.vdi === diskRefs[name] || d.record.name_label === name)) throw new DriverError(`${v.name_label} has no disk ${JSON.stringify(name)}`, 'not-found');
    if (!hostReachesSr(pool, ref, home)) throw new DriverError(`storage repository ${pool.inventory.get('SR', ref)!.name_label} is another host's local storage; host ${pool.host(home)?.name_label ?? home} does not reach it`, 'invalid');
    srs[name] = ref;
  }
  return { srs };
}

export async function performHaltedMove(pool: XenPool, vm: XRef, plan: HaltedMove, diskRefs: Record<string, string | undefined>, opts: OperationOptions = {}): Promise<{ name: string; ref: XRef; pool: XRef }[]> {
  const name = label(pool, vm);
  pool.assertReachable(`moving the disks of ${name}`);
  const moved: { name: string; ref: XRef; pool: XRef }[] = [];
  await pool.initiated.run(vm, () => mapped(`moving the disks of ${name}`, async () => {
    const disks = await disksOf(pool, vm);
    for (const [diskName, sr] of Object.entries(plan.srs)) {
      const disk = disks.find((d) => d.vdi === diskRefs[diskName] || d.record.name_label === diskName);
      if (!disk) throw new DriverError(`${name} has no disk ${JSON.stringify(diskName)}`, 'not-found');
      if (disk.record.SR === sr) continue;
      const vbd = (await pool.client.getRecord('VBD', disk.vbd)) as VbdRecord;
      const copy = String(await runTask(pool, 'VDI.copy', [disk.vdi, sr, 'OpaqueRef:NULL', 'OpaqueRef:NULL'], opts));
      try {
        await pool.client.call('VDI.set_name_label', copy, disk.record.name_label);
        await pool.client.call('VBD.destroy', disk.vbd);
        try {
          await pool.client.call('VBD.create', {
            VM: vm, VDI: copy, userdevice: vbd.userdevice, bootable: vbd.bootable ?? vbd.userdevice === '0', mode: vbd.mode ?? 'RW', type: 'Disk',
            unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
          });
        } catch (e) {
          // Back onto the old disk: the VM is as it was.
          await pool.client.call('VBD.create', {
            VM: vm, VDI: disk.vdi, userdevice: vbd.userdevice, bootable: vbd.bootable ?? vbd.userdevice === '0', mode: vbd.mode ?? 'RW', type: 'Disk',
            unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
          }).catch(() => undefined);
          throw e;
        }
      } catch (e) {
        await pool.client.call('VDI.destroy', copy).catch(() => undefined);
        throw e;
      }
      await pool.client.call('VDI.destroy', disk.vdi);
      moved.push({ name: diskName, ref: copy, pool: sr });
    }
    await pool.settle('VM', vm);
  }));
  return moved;
}

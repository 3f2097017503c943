/**
 * Moving a running VM inside the pool (R20): VM.pool_migrate to another host (live), or, with
 * disks to move, VM.migrate_send with a VDI→SR map (storage motion, xapi's "Storage XenMotion")
 * to the destination's host.migrate_receive. Two phases as the contract has them: prepare checks
 * the destination against the inventory (nothing sent), perform runs the task. The VM's affinity
 * moves with it, so once it halts it still lives on the host it last ran on.
 */
import { DriverError, type OperationOptions } from '../types.js';
import { mapped } from './errors.js';
import type { XenPool } from './pool.js';
import { disksOf } from './vm-disks.js';
import { label, runTask } from './vm-lifecycle.js';
import type { XRef } from './xapi/records.js';

export interface MigrationPlan {
  host: XRef;
  /** VDI ref → SR ref (storage motion); empty: the disks stay. */
  vdis: Record<XRef, XRef>;
}

export async function prepareMigration(pool: XenPool, vm: XRef, host: XRef, diskPools: Record<string, string>, diskRefs: Record<string, string | undefined>): Promise<MigrationPlan> {
  const v = pool.vm(vm);
  if (!v) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  const name = v.name_label;
  pool.assertReachable(`migrating ${name}`);
  const dest = pool.host(host);
  if (!dest) throw new DriverError(`host ${host} is not in the pool`, 'not-found');
  if (!pool.hostLive(host)) throw new DriverError(`host ${dest.name_label} is not live`, 'unreachable');
  if (!dest.enabled) throw new DriverError(`host ${dest.name_label} is disabled (maintenance)`, 'invalid');
  if (v.power_state !== 'Running') throw new DriverError(`${name} is ${v.power_state.toLowerCase()}; only a running VM migrates live`, 'invalid');
  const vdis: Record<XRef, XRef> = {};
  const disks = Object.keys(diskPools).length > 0 ? await disksOf(pool, vm) : [];
  for (const [diskName, sr] of Object.entries(diskPools)) {
    const srRef = pool.inventory.get('SR', sr) ? sr : pool.inventory.all('SR').find(([, s]) => s.name_label === sr)?.[0];
    if (!srRef) throw new DriverError(`no storage repository ${JSON.stringify(sr)} in the pool`, 'not-found');
    const disk = disks.find((d) => d.vdi === diskRefs[diskName] || d.record.name_label === diskName);
    if (!disk) throw new DriverError(`${name} has no disk ${JSON.stringify(diskName)}`, 'not-found');
    if (disk.record.SR !== srRef) vdis[disk.vdi] = srRef;
  }
  if (v.resident_on === host && Object.keys(vdis).length === 0) throw new DriverError(`${name} is already on host ${dest.name_label}`, 'invalid');
  return { host, vdis };
}

export async function performMigration(pool: XenPool, vm: XRef, plan: MigrationPlan, opts: OperationOptions = {}): Promise<void> {
  const name = label(pool, vm);
  pool.assertReachable(`migrating ${name}`);
  await pool.initiated.run(vm, () => mapped(`migrating ${name}`, async () => {
    const from = pool.vm(vm)?.resident_on;
    await pool.client.call('VM.set_affinity', vm, plan.host);
    try {
      if (Object.keys(plan.vdis).length === 0) {
        await runTask(pool, 'VM.pool_migrate', [vm, plan.host, { live: 'true' }], opts);
      } else {
        const network = pool.inventory.all('network')[0]?.[0];
        if (!network) throw new DriverError('the pool has no network for the migration stream', 'failed');
        const dest = await pool.client.call('host.migrate_receive', plan.host, network, {});
        await runTask(pool, 'VM.migrate_send', [vm, dest, true, plan.vdis, {}, {}, {}], opts);
      }
    } catch (e) {
      // Still where it was: its home stays there too.
      await pool.settle('VM', vm).catch(() => undefined);
      const at = pool.vm(vm)?.resident_on;
      if (at && at !== plan.host && from) await pool.client.call('VM.set_affinity', vm, at).catch(() => undefined);
      throw e;
    }
    await pool.settle('VM', vm);
  }));
}

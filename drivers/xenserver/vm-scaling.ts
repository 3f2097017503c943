/**
 * Scaling (R16–R18). A running VM: set_VCPUs_number_live and set_memory_dynamic_range, only with
 * the Xen tools running in it (xapi balloons memory and hot-plugs vCPUs through them) and never
 * past the static maximum it booted with (VCPUs_max, memory_static_max, from the offering's
 * maximum at define); both refused before anything is sent, so the VM is untouched. A halted VM
 * is simply resized. Whether a VM may be scaled at all (system VMs, R18's 3 GB rule) is the
 * engine's check.
 */
import { DriverError, type OperationOptions } from '../types.js';
import { mapped } from './errors.js';
import { MiB, type XenPool } from './pool.js';
import { refuseWithVgpu } from './gpu.js';
import { label, sizeHalted } from './vm-lifecycle.js';
import { isNullRef, type XRef } from './xapi/records.js';

/** The guest's tools have reported in: xapi has its guest metrics, with PV drivers (read for this VM only, when asked). */
export async function toolsRunning(pool: XenPool, ref: XRef): Promise<boolean> {
  const v = pool.vm(ref);
  if (!v || isNullRef(v.guest_metrics)) return false;
  const gm = await pool.client.getRecord('VM_guest_metrics', v.guest_metrics).catch(() => undefined);
  if (!gm) return false;
  // Hosts before 7.x have no PV_drivers_detected; there the version map says it.
  return gm.PV_drivers_detected === true || (gm.PV_drivers_detected === undefined && Object.keys(gm.PV_drivers_version ?? {}).length > 0);
}

export async function scaleVm(pool: XenPool, ref: XRef, want: { cpuNumber?: number; memoryMiB?: number }, live: boolean, _opts: OperationOptions = {}): Promise<void> {
  const v = pool.vm(ref);
  const name = label(pool, ref);
  pool.assertReachable(`scaling ${name}`);
  if (!v) throw new DriverError(`VM ${ref} does not exist in the pool`, 'not-found');
  if (want.cpuNumber === undefined && want.memoryMiB === undefined) return;
  if (v.power_state === 'Halted') {
    await pool.initiated.run(ref, () => mapped(`resizing ${name}`, async () => {
      const cpuNumber = want.cpuNumber ?? v.VCPUs_at_startup;
      const memoryMiB = want.memoryMiB ?? Math.round(v.memory_dynamic_max / MiB);
      await sizeHalted(pool, ref, v, { cpuNumber, memoryMiB, maxCpuNumber: Math.max(v.VCPUs_max, cpuNumber), maxMemoryMiB: Math.max(Math.round(v.memory_static_max / MiB), memoryMiB) });
      await pool.settle('VM', ref);
    }));
    return;
  }
  if (v.power_state !== 'Running') throw new DriverError(`${name} is ${v.power_state.toLowerCase()}; only a running or halted VM is scaled`, 'invalid');
  if (!live) throw new DriverError(`${name} is running; stop it to change its size offline, or scale it live`, 'invalid');
  refuseWithVgpu(pool, ref, 'scaling while running', 'stop it and change its offering');
  if (!(await toolsRunning(pool, ref))) throw new DriverError(`${name} cannot be scaled while running: the Xen tools are not running in it (XenServer scales a running VM only through them)`, 'unsupported');
  if (want.cpuNumber !== undefined && want.cpuNumber > v.VCPUs_max) throw new DriverError(`${name} may have at most ${v.VCPUs_max} vCPUs while running (asked ${want.cpuNumber})`, 'invalid');
  const maxMiB = Math.floor(v.memory_static_max / MiB);
  if (want.memoryMiB !== undefined && want.memoryMiB > maxMiB) throw new DriverError(`${name} may have at most ${maxMiB} MiB while running (asked ${want.memoryMiB})`, 'invalid');
  await pool.initiated.run(ref, () => mapped(`scaling ${name}`, async () => {
    if (want.cpuNumber !== undefined && want.cpuNumber !== v.VCPUs_at_startup) await pool.client.call('VM.set_VCPUs_number_live', ref, want.cpuNumber);
    if (want.memoryMiB !== undefined && want.memoryMiB * MiB !== v.memory_dynamic_max) await pool.client.call('VM.set_memory_dynamic_range', ref, want.memoryMiB * MiB, want.memoryMiB * MiB);
    await pool.settle('VM', ref);
  }));
}

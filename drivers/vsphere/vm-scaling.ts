/**
 * Scaling (R16–R18): ReconfigVM_Task with numCPUs/memoryMB. A running VM is scaled live only
 * with CPU/memory hot-add enabled and VMware Tools running (Kiln's "dynamically scalable" on
 * VMware); without them the scale is refused before anything is sent, so the VM is untouched.
 * A stopped VM is simply reconfigured.
 */
import { DriverError } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { asArray, asNumber, asObject, asString, vm as vim, type MoRef, type SoapObject } from './soap/index.js';
import { MAX_CPU_KEY, MAX_MEMORY_KEY, runTask, type TaskOptions } from './vm-lifecycle.js';

export interface ScaleArgs extends TaskOptions {
  cpuNumber?: number;
  memoryMiB?: number;
}

export async function scaleVm(ep: VsphereEndpoint, vm: MoRef, a: ScaleArgs): Promise<void> {
  const o = ep.cache.get(vm);
  const label = asString(o?.props['name']) ?? vm.value;
  ep.assertReachable(`scaling ${label}`);
  if (!o) throw new DriverError(`VM ${vm.value} does not exist in vCenter`, 'not-found');
  if (a.cpuNumber === undefined && a.memoryMiB === undefined) return;
  const running = o.props['runtime.powerState'] === 'poweredOn';
  const limits = new Map(asArray((await ep.read(vm, ['config.extraConfig']))['config.extraConfig']).map((kv) => [asString(asObject(kv)['key']), asNumber(asObject(kv)['value'])]));
  const maxCpu = limits.get(MAX_CPU_KEY);
  const maxMem = limits.get(MAX_MEMORY_KEY);
  if (running && maxCpu !== undefined && a.cpuNumber !== undefined && a.cpuNumber > maxCpu) throw new DriverError(`${label} may have at most ${maxCpu} vCPUs while running (asked ${a.cpuNumber})`, 'invalid');
  if (running && maxMem !== undefined && a.memoryMiB !== undefined && a.memoryMiB > maxMem) throw new DriverError(`${label} may have at most ${maxMem} MiB while running (asked ${a.memoryMiB})`, 'invalid');
  if (running) {
    if (o.props['guest.toolsRunningStatus'] !== 'guestToolsRunning') {
      throw new DriverError(`${label} cannot be scaled while running: VMware Tools are not running in it (a running VMware VM is dynamically scalable only with Tools)`, 'unsupported');
    }
    const hw = await ep.read(vm, ['config.cpuHotAddEnabled', 'config.memoryHotAddEnabled']);
    const cpus = asNumber(o.props['config.hardware.numCPU']) ?? 0;
    const mem = asNumber(o.props['config.hardware.memoryMB']) ?? 0;
    if (a.cpuNumber !== undefined && a.cpuNumber !== cpus) {
      if (hw['config.cpuHotAddEnabled'] !== true) throw new DriverError(`${label} cannot get CPUs while running: CPU hot-add is off for it`, 'unsupported');
      if (a.cpuNumber < cpus) throw new DriverError(`${label}: vSphere cannot remove CPUs from a running VM (${cpus} → ${a.cpuNumber}); stop it first`, 'unsupported');
    }
    if (a.memoryMiB !== undefined && a.memoryMiB !== mem) {
      if (hw['config.memoryHotAddEnabled'] !== true) throw new DriverError(`${label} cannot get memory while running: memory hot-add is off for it`, 'unsupported');
      if (a.memoryMiB < mem) throw new DriverError(`${label}: vSphere cannot remove memory from a running VM (${mem} → ${a.memoryMiB} MiB); stop it first`, 'unsupported');
    }
  }
  const spec: SoapObject = { numCPUs: a.cpuNumber, memoryMB: a.memoryMiB };
  await mapped(`scaling ${label}`, () => runTask(() => vim.reconfigure(ep.client, vm, spec), a));
  await ep.refresh(vm, ['config.hardware.numCPU', 'config.hardware.memoryMB']);
}

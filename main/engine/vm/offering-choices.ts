/**
 * Which service offerings a VM can change to (listServiceOfferings virtualmachineid, as CloudStack
 * has it): never the one it has; a stopped VM any other (R15); a running VM only those the live
 * scale would accept (R16–R18). The live rule is checkScalable itself, asked per offering, so the
 * list and scaleVirtualMachine cannot disagree.
 */
import type { Engine } from '../engine.js';
import type { OfferingRow, VmRow } from './rows.js';
import { checkScalable } from './vm-changes.js';

export function offeringsVmCanTake(engine: Engine, vm: VmRow, offerings: OfferingRow[]): OfferingRow[] {
  const others = offerings.filter((o) => o.id !== vm.service_offering_id);
  if (vm.state !== 'Running') return others;
  return others.filter((o) => {
    const target = smallestGrowth(vm, o);
    if (!target) return false;
    try {
      checkScalable(engine, vm, target);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The resources a live scale to this offering would give: a fixed offering's own; for a custom
 * one the smallest step up from the VM's current size that its bounds allow (one more vCPU, else
 * one more MB), or undefined when its bounds leave no room to grow.
 */
function smallestGrowth(vm: VmRow, o: OfferingRow): { cpuNumber: number; memory: number } | undefined {
  if (o.cpu_number !== null && o.memory !== null) return { cpuNumber: o.cpu_number, memory: o.memory };
  const cpuNumber = Math.max(vm.cpu_number, o.cpu_number ?? o.min_cpu_number ?? 1);
  const memory = Math.max(vm.memory, o.memory ?? o.min_memory ?? 1);
  const maxCpu = o.cpu_number ?? o.max_cpu_number ?? Infinity;
  const maxMemory = o.memory ?? o.max_memory ?? Infinity;
  if (cpuNumber > maxCpu || memory > maxMemory) return undefined;
  if (cpuNumber > vm.cpu_number || memory > vm.memory) return { cpuNumber, memory };
  if (cpuNumber + 1 <= maxCpu) return { cpuNumber: cpuNumber + 1, memory };
  if (memory + 1 <= maxMemory) return { cpuNumber, memory: memory + 1 };
  return undefined;
}

/**
 * CPU and memory capacity, with the host's cluster's overprovisioning factors
 * (cpu.overprovisioning.factor, mem.overprovisioning.factor) applied to its physical totals.
 */
import type { Filter } from '../types.js';

export const CPU_FACTOR = 'cpu.overprovisioning.factor';
export const MEM_FACTOR = 'mem.overprovisioning.factor';

/** A cluster's factors from a setting reader; placement, listHosts and listClusters all read them here. */
export function overprovisioning(setting: (name: string) => string): { cpu: number; memory: number } {
  return { cpu: Number(setting(CPU_FACTOR)) || 1, memory: Number(setting(MEM_FACTOR)) || 1 };
}

export const capacity: Filter = {
  name: 'capacity',
  check({ host, usage }, request, state) {
    const { cpu: cpuRatio, memory: memRatio } = overprovisioning((name) => state.setting(name, host.cluster_id));
    if (request.cpuNumber > host.cpu_number * cpuRatio) return `cpu: needs ${request.cpuNumber} cores, host has ${host.cpu_number}`;
    const cpuFree = Math.floor(host.cpu_number * host.cpu_speed * cpuRatio) - usage.cpuMhz;
    const cpuNeed = request.cpuNumber * request.cpuSpeed;
    if (cpuNeed > cpuFree) return `cpu: needs ${cpuNeed} MHz, ${cpuFree} MHz free`;
    const memFree = Math.floor(host.memory_total * memRatio) - usage.memory;
    if (request.memory > memFree) return `memory: needs ${request.memory} MB, ${memFree} MB free`;
    return undefined;
  },
};

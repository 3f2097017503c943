/**
 * CPU and memory capacity, with the host's cluster's overprovisioning factors
 * (cpu.overprovisioning.factor, mem.overprovisioning.factor) applied to its physical totals.
 */
import type { Filter } from '../types.js';

export const capacity: Filter = {
  name: 'capacity',
  check({ host, usage }, request, state) {
    const cpuRatio = Number(state.setting('cpu.overprovisioning.factor', host.cluster_id)) || 1;
    const memRatio = Number(state.setting('mem.overprovisioning.factor', host.cluster_id)) || 1;
    if (request.cpuNumber > host.cpu_number * cpuRatio) return `cpu: needs ${request.cpuNumber} cores, host has ${host.cpu_number}`;
    const cpuFree = Math.floor(host.cpu_number * host.cpu_speed * cpuRatio) - usage.cpuMhz;
    const cpuNeed = request.cpuNumber * request.cpuSpeed;
    if (cpuNeed > cpuFree) return `cpu: needs ${cpuNeed} MHz, ${cpuFree} MHz free`;
    const memFree = Math.floor(host.memory_total * memRatio) - usage.memory;
    if (request.memory > memFree) return `memory: needs ${request.memory} MB, ${memFree} MB free`;
    return undefined;
  },
};

/** R67: a GPU offering needs a host with the group and free capacity for the vGPU type. */
import type { Filter } from '../types.js';

export const gpu: Filter = {
  name: 'gpu',
  check({ host }, request, state) {
    if (!request.gpu) return undefined;
    const free = state.gpuFree(host.id, request.gpu.group, request.gpu.vgpuType);
    return free > 0 ? undefined : `gpu: no free ${request.gpu.vgpuType} in group ${request.gpu.group}`;
  },
};

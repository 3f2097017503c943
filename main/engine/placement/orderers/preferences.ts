/**
 * Stable partitions applied last: hosts that prefer the guest's OS category first (R23), hosts
 * with GPUs last for VMs that need none (R68), and for non-strict affinity groups the hosts
 * that honour the group first.
 */
import type { Candidate, Orderer } from '../types.js';
import { groupsFor } from '../filters/affinity.js';

function partition(candidates: Candidate[], first: (c: Candidate) => boolean): Candidate[] {
  return [...candidates.filter(first), ...candidates.filter((c) => !first(c))];
}

export const osPreference: Orderer = {
  name: 'os-preference',
  order: (candidates, request) => (request.osCategoryId === undefined ? candidates : partition(candidates, (c) => c.host.os_category_id === request.osCategoryId)),
};

export const gpuLast: Orderer = {
  name: 'gpu-hosts-last',
  order: (candidates, request, state) => (request.gpu ? candidates : partition(candidates, (c) => !state.hasGpu(c.host.id))),
};

export const nonStrictAffinity: Orderer = {
  name: 'non-strict-affinity',
  order(candidates, request, state) {
    let out = candidates;
    for (const group of groupsFor(request, state)) {
      const hosts = new Set(state.groupMembers(group.id, request.vmId).map((m) => m.hostId));
      if (group.type === 'non-strict host anti-affinity') out = partition(out, (c) => !hosts.has(c.host.id));
      if (group.type === 'non-strict host affinity' && hosts.size) out = partition(out, (c) => hosts.has(c.host.id));
    }
    return out;
  },
};

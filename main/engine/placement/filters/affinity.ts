/**
 * R27: strict affinity groups. Host anti-affinity refuses a host where another member runs;
 * host affinity refuses any host but the one the running members share. Non-strict variants
 * are preferences, handled by the affinity orderer.
 */
import type { Filter, PlacementRequest, PlacementState } from '../types.js';

export function groupsFor(request: PlacementRequest, state: PlacementState) {
  if (request.affinityGroupIds) return request.affinityGroupIds.map((id) => state.group(id));
  return request.vmId !== undefined ? state.groupsOf(request.vmId) : [];
}

export const affinity: Filter = {
  name: 'affinity',
  check({ host }, request, state) {
    for (const group of groupsFor(request, state)) {
      const members = state.groupMembers(group.id, request.vmId);
      if (group.type === 'host anti-affinity') {
        const here = members.find((m) => m.hostId === host.id);
        if (here) return `anti-affinity (${group.name}): VM ${here.vmName} already on this host`;
      } else if (group.type === 'host affinity') {
        const elsewhere = members.find((m) => m.hostId !== host.id);
        if (elsewhere) return `affinity (${group.name}): members run on another host (VM ${elsewhere.vmName})`;
      }
    }
    return undefined;
  },
};

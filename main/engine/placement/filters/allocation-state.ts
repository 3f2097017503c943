/**
 * A zone, pod or cluster an admin disabled (updateZone/updatePod/updateCluster allocationstate
 * Disabled), or a cluster set Unmanaged, takes no new VM: CloudStack's avoidDisabledResources puts
 * them in the planner's avoid list. Each host in one says which, so explainPlacement and a 533 name it.
 */
import type { Filter } from '../types.js';

export const allocationState: Filter = {
  name: 'allocation-state',
  check({ host }, request, state) {
    return state.notAllocatable('zone', request.zoneId) ?? state.notAllocatable('pod', host.pod_id) ?? state.notAllocatable('cluster', host.cluster_id);
  },
};

/**
 * R14: a host takes no more VMs than its cluster's per-host limit (the hypervisor capability
 * maxguestslimit, or the cluster's cluster.max.guests.per.host). The VM being placed is not
 * counted on its own host (the state leaves it out), so a restart or scale in place passes.
 */
import type { Filter } from '../types.js';

export const guestLimit: Filter = {
  name: 'guest-limit',
  check({ host, usage }, _request, state) {
    const limit = state.maxGuests(host.cluster_id);
    return usage.vms >= limit ? `VM limit: runs ${usage.vms} of at most ${limit} VMs per host (maxguestslimit)` : undefined;
  },
};

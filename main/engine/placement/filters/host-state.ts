/** Only Up, enabled hosts of the right hypervisor take VMs. */
import type { Filter } from '../types.js';

export const hostState: Filter = {
  name: 'host-state',
  check({ host }, request) {
    if (host.state !== 'Up') return `host is ${host.state}`;
    if (host.resource_state !== 'Enabled') return `host is ${host.resource_state}`;
    if (request.hypervisor && host.hypervisor.toLowerCase() !== request.hypervisor.toLowerCase()) return `hypervisor is ${host.hypervisor}, not ${request.hypervisor}`;
    return undefined;
  },
};

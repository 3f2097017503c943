/**
 * A VM with a NIC on a private-VLAN network (isolatedpvlan) runs only on a host that isolates its
 * ports: one whose driver publishes the privateVlans capability (hosts.capabilities), never judged
 * by hypervisor name. A host without it gets its verdict here, so placement goes to one that can
 * and explainPlacement says why the others were passed over, instead of the start failing on the
 * host (requirePrivateVlans, vm/private-vlan-nics.ts, still refuses there as the last word).
 */
import type { Filter } from '../types.js';

export const privateVlans: Filter = {
  name: 'private-vlans',
  check({ host }, request, state) {
    const nic = request.privateVlan;
    if (!nic || state.isolatesPrivateVlans(host.id)) return undefined;
    return `host ${host.name} cannot isolate private VLANs (network ${nic.network} is a private VLAN: ${nic.pvlan})`;
  },
};

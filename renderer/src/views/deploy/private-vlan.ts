/**
 * A private-VLAN network in the deploy wizard: what listNetworks says of it (isolatedpvlan,
 * isolatedpvlantype, and Kiln's isolatedpvlansupported: whether a host of the zone can isolate a
 * VM on it), and the words the network step shows beside it.
 */
export interface PrivateVlanNetwork {
  vlan?: string;
  isolatedpvlan?: string;
  isolatedpvlantype?: string;
  isolatedpvlansupported?: boolean;
}

/** "private VLAN isolated 301 of VLAN 300", and why it cannot be chosen where no host can isolate it; nothing for other networks. */
export function privateVlanNote(n: PrivateVlanNetwork): string | undefined {
  if (n.isolatedpvlan === undefined) return undefined;
  const role = `private VLAN ${n.isolatedpvlantype ?? 'isolated'} ${n.isolatedpvlan} of VLAN ${n.vlan ?? '?'}`;
  return n.isolatedpvlansupported === false ? `${role}: not supported here (no host of this zone can isolate private VLANs)` : role;
}

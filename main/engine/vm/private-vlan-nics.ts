/**
 * A NIC on a private VLAN (createNetwork isolatedpvlan / isolatedpvlantype) as the driver contract
 * carries it (NicSpec.privateVlan), and the rule that such a NIC starts only on a host whose driver
 * says it sets private VLANs up (capability privateVlans): the engine never asks which hypervisor.
 */
import type { HostSession, NicSpec, VmSpec } from '../../../drivers/types.js';
import { PVLAN_TYPES, type PvlanType } from '../network-rules.js';
import { ApiError } from '../registry/errors.js';

/** The network columns of a NIC's row that the VmSpec needs. */
export interface NicNetwork {
  network_name: string;
  vlan: number | null;
  isolated_pvlan?: number | null;
  isolated_pvlan_type?: string | null;
}

export function nicPrivateVlan(n: NicNetwork): Pick<NicSpec, 'privateVlan'> {
  if (n.isolated_pvlan === null || n.isolated_pvlan === undefined || n.vlan === null) return {};
  const type = (n.isolated_pvlan_type ?? 'isolated') as PvlanType;
  return PVLAN_TYPES.includes(type) ? { privateVlan: { type, secondaryVlan: n.isolated_pvlan } } : {};
}

/**
 * 431 before anything is defined when the VM has a private-VLAN NIC and HOST cannot set it up. An
 * imported VM keeps its hypervisor's own definition (its port is what the hypervisor already had).
 */
export function requirePrivateVlans(spec: VmSpec, session: HostSession, hostName: string): void {
  if (spec.keepDefinition || session.capabilities.privateVlans) return;
  const nic = spec.nics.find((n) => n.privateVlan);
  if (!nic) return;
  throw ApiError.param(`networkids: network ${nic.network} is a private VLAN (${nic.privateVlan!.type} ${nic.privateVlan!.secondaryVlan} of VLAN ${nic.vlan}), and host ${hostName} cannot set up private VLANs`);
}

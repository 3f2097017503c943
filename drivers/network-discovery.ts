/**
 * Network discovery in the driver contract (R52, D5): what an endpoint's networks are, read from
 * the endpoint itself before it is added to Kiln (no hosts rows, nothing stored), so an admin can
 * create the missing Kiln networks first. A driver that can publishes a NetworkDiscoveryFacet
 * (HypervisorDriver.networkDiscovery); `kiln discover-networks` and the engine's
 * discoverEndpointNetworks both run it, so the CLI and the UI list the same networks. The engine
 * decides by the facet's presence, never by the hypervisor's name.
 */
import type { TrustAnchor } from './types.js';

/** How the network's switch is built on the hypervisor (vSphere: vSwitch or distributed switch). */
export type SwitchType = 'standard' | 'distributed' | 'other';

export interface DiscoveredNic {
  nic: string;
  macAddress: string;
  adapterType?: string;
  pciSlot?: string;
  ipAddresses: string[];
}

export interface DiscoveredVm {
  name: string;
  ref: string;
  powerState: string;
  nics: DiscoveredNic[];
}

/** One network (a vSphere portgroup) as one host sees it. */
export interface DiscoveredNetwork {
  cluster: string;
  host: string;
  portgroup: string;
  switchType: SwitchType;
  switchName: string;
  /** Untagged (VLAN 0, or no single VLAN) is null. */
  vlanId: number | null;
  /** The secondary VLAN of a private-VLAN portgroup (vlanId is its primary). */
  isolatedPvlanId?: number;
  virtualMachines: DiscoveredVm[];
}

export interface NetworkDiscoveryInput {
  /** The endpoint as the driver's connection form takes it (its datacenter/cluster path narrows the listing). */
  url: string;
  username: string;
  /** Used for this one read and dropped; never stored or logged. */
  password: string;
  /** The anchor the admin confirmed (probeTrust): a different one presented is refused ('host-key-changed'). */
  trust: TrustAnchor;
  /** Only this cluster (a compute resource's name); otherwise the URL's cluster, else all. */
  cluster?: string;
}

export interface NetworkDiscoveryFacet {
  /** Every network with at least one VM, sorted by cluster, host and network name. */
  discover(input: NetworkDiscoveryInput): Promise<DiscoveredNetwork[]>;
}

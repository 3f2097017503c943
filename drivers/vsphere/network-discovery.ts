/**
 * Offline network discovery (R52, D5): every network of a vCenter or ESXi that has at least one
 * VM, with its cluster, host, portgroup, switch (standard or distributed), VLAN and the VMs' NICs.
 * No engine and no database: it reads one endpoint through the same inventory cache and the same
 * bulk device/portgroup reads the import facet lists unmanaged VMs with (hostInstances), so a
 * NIC's network and VLAN here are exactly what listUnmanagedInstances would show for it.
 */
import { DriverError, type InstanceInfo } from '../types.js';
import type { DiscoveredNetwork, NetworkDiscoveryFacet, SwitchType } from '../network-discovery.js';
import { VsphereEndpoint } from './endpoint.js';
import { parseVsphereUrl } from './names.js';
import { cachedInstance } from './index.js';
import { mapped } from './errors.js';
import { hostInstances, type PortgroupVlans } from './vm-import.js';
import { MoRef, asString, normalizeThumbprint, retrieveProperties } from './soap/index.js';

export type { DiscoveredNetwork, DiscoveredNic, DiscoveredVm, SwitchType } from '../network-discovery.js';

export interface DiscoveryOptions {
  /** Only this datacenter's hosts (a URL's DATACENTER). */
  datacenter?: string;
  cluster?: string;
  debug?: (line: string) => void;
}

async function switchNames(ep: VsphereEndpoint, nets: PortgroupVlans[]): Promise<Map<string, string>> {
  const refs = new Map<string, MoRef>();
  for (const n of nets) for (const pg of n.distributed.values()) if (pg.switchRef) refs.set(pg.switchRef.value, pg.switchRef);
  if (refs.size === 0) return new Map();
  const rows = await mapped('reading the distributed switches', () =>
    retrieveProperties(ep.client, { objects: [...refs.values()], propSet: [...new Set([...refs.values()].map((r) => r.type))].map((type) => ({ type, pathSet: ['name'] })) }));
  return new Map(rows.map((r) => [r.obj.value, asString(r.props['name']) ?? r.obj.value]));
}

function switchOf(nets: PortgroupVlans, portgroup: string, dvsNames: Map<string, string>): { switchType: SwitchType; switchName: string } {
  for (const pg of nets.distributed.values()) {
    if (pg.name === portgroup) return { switchType: 'distributed', switchName: (pg.switchRef && dvsNames.get(pg.switchRef.value)) ?? '' };
  }
  const vswitch = nets.standardSwitch.get(portgroup);
  return vswitch !== undefined ? { switchType: 'standard', switchName: vswitch } : { switchType: 'other', switchName: '' };
}

/** Reads the endpoint EP is connected to; sorted by cluster, host, portgroup, and VMs by name. */
export async function discoverNetworks(ep: VsphereEndpoint, opts: DiscoveryOptions = {}): Promise<DiscoveredNetwork[]> {
  const hosts = ep.hosts({ datacenter: opts.datacenter, cluster: opts.cluster });
  if ((opts.cluster !== undefined || opts.datacenter !== undefined) && hosts.length === 0) {
    const known = [...new Set(ep.hosts({ datacenter: opts.datacenter }).map((h) => h.computeResourceName))].sort();
    if (opts.cluster === undefined) throw new DriverError(`url: no datacenter named ${JSON.stringify(opts.datacenter)} with hosts`, 'invalid', { param: 'url' });
    throw new DriverError(`cluster: no cluster named ${JSON.stringify(opts.cluster)}; the endpoint has ${known.map((k) => JSON.stringify(k)).join(', ') || 'none'}`, 'invalid', { param: 'cluster' });
  }
  const perHost: { host: (typeof hosts)[number]; instances: InstanceInfo[]; nets: PortgroupVlans }[] = [];
  for (const host of hosts) {
    const t0 = performance.now();
    const { instances, nets } = await hostInstances(ep, host.ref, ep.vmsOn(host.ref).map(cachedInstance));
    opts.debug?.(`${host.computeResourceName}/${host.name}: ${instances.length} VMs, ${nets.standard.size} standard and ${nets.distributed.size} distributed portgroups, ${Math.round(performance.now() - t0)} ms`);
    perHost.push({ host, instances, nets });
  }
  const dvsNames = await switchNames(ep, perHost.map((h) => h.nets));
  const out = new Map<string, DiscoveredNetwork>();
  for (const { host, instances, nets } of perHost) {
    for (const vm of instances) {
      for (const nic of vm.nics) {
        const portgroup = nic.networkName ?? '';
        const k = JSON.stringify([host.computeResourceName, host.name, portgroup]);
        let net = out.get(k);
        if (!net) {
          net = { cluster: host.computeResourceName, host: host.name, portgroup, ...switchOf(nets, portgroup, dvsNames), vlanId: nic.vlanId ?? null, ...(nic.pvlanId !== undefined ? { isolatedPvlanId: nic.pvlanId } : {}), virtualMachines: [] };
          out.set(k, net);
        }
        let entry = net.virtualMachines.find((v) => v.ref === vm.ref);
        if (!entry) {
          entry = { name: vm.name, ref: vm.ref, powerState: vm.powerState, nics: [] };
          net.virtualMachines.push(entry);
        }
        entry.nics.push({ nic: nic.id, macAddress: nic.macAddress, adapterType: nic.adapterType, pciSlot: nic.pciSlot, ipAddresses: nic.ipAddresses ?? [] });
      }
    }
  }
  const nets = [...out.values()].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.host.localeCompare(b.host) || a.portgroup.localeCompare(b.portgroup));
  for (const n of nets) n.virtualMachines.sort((a, b) => a.name.localeCompare(b.name));
  return nets;
}

export interface EndpointDiscovery extends DiscoveryOptions {
  sdkUrl: string;
  username: string;
  password: string;
  /** The confirmed certificate thumbprint: the session is pinned to it, a different one is refused. */
  thumbprint: string;
  /** Told once the session and its inventory are read (the CLI's -d lines). */
  onConnected?: (ep: VsphereEndpoint) => void;
}

/**
 * Opens a session pinned to THUMBPRINT, lists the networks and closes it: the one path both
 * `kiln discover-networks` and the driver's networkDiscovery facet (the engine's
 * discoverEndpointNetworks) take. The password lives only in this call.
 */
export async function discoverAt(opts: EndpointDiscovery): Promise<DiscoveredNetwork[]> {
  const ep = await VsphereEndpoint.open({ sdkUrl: opts.sdkUrl, username: opts.username, password: opts.password, thumbprint: opts.thumbprint, maxWaitSeconds: 1 });
  try {
    opts.onConnected?.(ep);
    return await discoverNetworks(ep, { datacenter: opts.datacenter, cluster: opts.cluster, debug: opts.debug });
  } finally {
    await ep.close();
  }
}

/** The driver's facet: the URL is the connection form's (https://VCENTER[/DC[/CLUSTER]]); a cluster narrows it. */
export const VSPHERE_NETWORK_DISCOVERY: NetworkDiscoveryFacet = {
  async discover(input) {
    let loc;
    try {
      loc = parseVsphereUrl(input.url);
    } catch (e) {
      throw new DriverError(`url: ${(e as Error).message}`, 'invalid', { param: 'url' });
    }
    if (input.trust.kind !== 'tls-certificate') throw new DriverError(`trustfingerprint: a vCenter is trusted by its TLS certificate, not by ${input.trust.kind}`, 'invalid', { param: 'trustfingerprint' });
    return discoverAt({ sdkUrl: loc.sdkUrl, username: input.username, password: input.password, thumbprint: normalizeThumbprint(input.trust.fingerprint), datacenter: loc.datacenter, cluster: input.cluster ?? loc.cluster });
  },
};

/** One row per network to create: a portgroup (one switch, one VLAN) across every host that has it. */
export interface NetworkCsvRow {
  name: string;
  displaytext: string;
  vlan: string;
  /** createNetwork's isolatedpvlan: the secondary VLAN of a private-VLAN portgroup, else empty. */
  isolatedpvlan?: string;
  switchtype: SwitchType;
  switch: string;
  clusters: string;
  hosts: string;
  vms: string;
}

/** The CSV's columns, in order (the engine's createNetworksFromCsv reads name, displaytext, vlan and isolatedpvlan). */
export const NETWORK_CSV_COLUMNS = ['name', 'displaytext', 'vlan', 'isolatedpvlan', 'switchtype', 'switch', 'clusters', 'hosts', 'vms'] as const;

/** The rows of the CSV that feeds createNetwork in bulk (name, displaytext and vlan are createNetwork's parameters). */
export function networkCsvRows(nets: DiscoveredNetwork[]): NetworkCsvRow[] {
  const rows = new Map<string, { net: DiscoveredNetwork; clusters: Set<string>; hosts: Set<string>; vms: Set<string> }>();
  for (const n of nets) {
    const k = JSON.stringify([n.portgroup, n.switchType, n.switchName, n.vlanId, n.isolatedPvlanId]);
    const row = rows.get(k) ?? { net: n, clusters: new Set(), hosts: new Set(), vms: new Set() };
    row.clusters.add(n.cluster);
    row.hosts.add(n.host);
    for (const vm of n.virtualMachines) row.vms.add(vm.name);
    rows.set(k, row);
  }
  const sorted = (s: Set<string>) => [...s].sort().join(';');
  return [...rows.values()].map(({ net, clusters, hosts, vms }) => ({
    name: net.portgroup, displaytext: net.portgroup, vlan: net.vlanId === null ? '' : String(net.vlanId), ...(net.isolatedPvlanId !== undefined ? { isolatedpvlan: String(net.isolatedPvlanId) } : {}), switchtype: net.switchType, switch: net.switchName,
    clusters: sorted(clusters), hosts: sorted(hosts), vms: sorted(vms),
  })).sort((a, b) => a.name.localeCompare(b.name) || a.switch.localeCompare(b.switch));
}

/**
 * A NIC on a private VLAN (createNetwork isolatedpvlan / isolatedpvlantype) as the driver contract
 * carries it (NicSpec.privateVlan), and the rule that such a NIC starts only on a host whose driver
 * says it sets private VLANs up (capability privateVlans): the engine never asks which hypervisor.
 */
import type { HostSession, NicSpec, VmSpec } from '../../../drivers/types.js';
import { PVLAN_TYPES, type PvlanType } from '../network-rules.js';
import { ApiError } from '../registry/errors.js';
import type { Db } from '../db/database.js';
import type { NetworkRow } from './rows.js';

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

/**
 * An import that would put a VM on a private-VLAN network must leave it isolated there: a 431
 * (before anything is written) when HOST's driver cannot set private VLANs up, and, for a VM that
 * keeps its hypervisor's own definition (adopted, not copied), when the hypervisor does not report
 * the NIC on that very private VLAN (a vSphere PVLAN portgroup does): Kiln does not rewrite a kept
 * definition, so nothing would isolate it. A copied VM is defined from Kiln's rows at its first
 * start, with its ports set up like a deployed VM's.
 */
export function requireImportablePrivateVlans(
  db: Db,
  host: { id: number; name: string },
  nics: readonly { nicId: string; network: NetworkRow; pvlanId?: number }[],
  keepsDefinition: boolean,
): void {
  const capable = hostCapabilities(db, host.id)['privateVlans'] === true;
  for (const { nicId, network, pvlanId } of nics) {
    if (network.isolated_pvlan === null || network.isolated_pvlan === undefined) continue;
    const pvlan = `${network.isolated_pvlan_type ?? 'isolated'} ${network.isolated_pvlan} of VLAN ${network.vlan}`;
    if (!capable) throw ApiError.param(`nicnetworklist: network ${network.name} is a private VLAN (${pvlan}), and host ${host.name} cannot set up private VLANs; NIC ${nicId} would not be isolated there`);
    if (keepsDefinition && pvlanId !== network.isolated_pvlan) {
      throw ApiError.param(`nicnetworklist: network ${network.name} is a private VLAN (${pvlan}), but NIC ${nicId} is not on that private VLAN on host ${host.name}, and an imported VM keeps its own definition, so Kiln would not isolate it; map the NIC to a network without a private VLAN`);
    }
  }
}

/** Of ZONEIDS, the zones with a host whose driver sets private VLANs up (what listNetworks says as isolatedpvlansupported). */
export function zonesIsolatingPrivateVlans(db: Db, zoneIds: readonly number[]): Set<number> {
  const zones = new Set<number>();
  for (const zoneId of new Set(zoneIds)) {
    const hosts = db.prepare('SELECT id FROM hosts WHERE zone_id=? AND removed IS NULL').pluck().all(zoneId) as number[];
    if (hosts.some((id) => hostCapabilities(db, id)['privateVlans'] === true)) zones.add(zoneId);
  }
  return zones;
}

/** The capabilities a host published at its last refresh (hosts.capabilities, capabilityMap). */
function hostCapabilities(db: Db, hostId: number): Record<string, unknown> {
  const text = db.prepare('SELECT capabilities FROM hosts WHERE id=?').pluck().get(hostId) as string | null | undefined;
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

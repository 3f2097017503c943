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
 * 431 before anything is defined when the VM has a private-VLAN NIC and HOST cannot set it up; an
 * imported VM too (its kept NIC is on the driver's port, or the hypervisor's own PVLAN port).
 */
export function requirePrivateVlans(spec: VmSpec, session: HostSession, hostName: string): void {
  if (session.capabilities.privateVlans) return;
  const nic = spec.nics.find((n) => n.privateVlan);
  if (!nic) return;
  throw ApiError.param(`networkids: network ${nic.network} is a private VLAN (${nic.privateVlan!.type} ${nic.privateVlan!.secondaryVlan} of VLAN ${nic.vlan}), and host ${hostName} cannot set up private VLANs`);
}

/**
 * An import that would put a VM on a private-VLAN network must leave it isolated there: a 431
 * (before anything is written) when HOST's driver cannot set private VLANs up. A VM that keeps
 * its hypervisor's own definition (adopted, not copied) is isolated when the hypervisor reports
 * the NIC on that very private VLAN (a vSphere PVLAN portgroup does), or when the driver moves a
 * kept NIC onto its own private-VLAN port (capability privateVlanImport; KVM's ebtables ports),
 * a running VM too (it keeps running, isolated at once; drivers/kvm/private-vlan.ts); else a 431. A copied VM is defined from Kiln's rows
 * at its first start, with its ports set up like a deployed VM's.
 *
 * Returns the NIC ids the driver is to move onto its ports (ImportFacet.adopt's privateVlanNics).
 */
export function requireImportablePrivateVlans(
  db: Db,
  vm: { name: string; running: boolean; host: { id: number; name: string } },
  nics: readonly { nicId: string; network: NetworkRow; pvlanId?: number }[],
  keepsDefinition: boolean,
): string[] {
  const { host } = vm;
  const capabilities = hostCapabilities(db, host.id);
  const moved: string[] = [];
  for (const { nicId, network, pvlanId } of nics) {
    if (network.isolated_pvlan === null || network.isolated_pvlan === undefined) continue;
    const pvlan = `${network.isolated_pvlan_type ?? 'isolated'} ${network.isolated_pvlan} of VLAN ${network.vlan}`;
    if (capabilities['privateVlans'] !== true) throw ApiError.param(`nicnetworklist: network ${network.name} is a private VLAN (${pvlan}), and host ${host.name} cannot set up private VLANs; NIC ${nicId} would not be isolated there`);
    if (!keepsDefinition || pvlanId === network.isolated_pvlan) continue;
    if (capabilities['privateVlanImport'] !== true) {
      throw ApiError.param(`nicnetworklist: network ${network.name} is a private VLAN (${pvlan}), but NIC ${nicId} is not on that private VLAN on host ${host.name}, and an imported VM keeps its own definition, so Kiln would not isolate it; map the NIC to a network without a private VLAN`);
    }
    moved.push(nicId);
  }
  return moved;
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

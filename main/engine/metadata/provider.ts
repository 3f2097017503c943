/**
 * Which path delivers a VM's metadata, chosen per network or zone as CloudStack chooses a
 * network's UserData service provider: `ConfigDrive` (an ISO labelled config-2 attached at start)
 * or `VirtualRouter` (the metadata HTTP service, which CloudStack's virtual router runs).
 *
 * The network's own choice (networks.userdata_provider, migration 17, createNetwork
 * userdataprovider=) wins; else the zone's setting kiln.userdata.provider; else L2 networks (no
 * addressing Kiln knows, so nothing to identify a guest by) get the config drive and Shared or
 * Isolated ones the HTTP service, as CloudStack's default offerings do.
 */
import type { Db } from '../db/database.js';
import type { Settings } from '../settings.js';

export const USER_DATA_PROVIDERS = ['ConfigDrive', 'VirtualRouter'] as const;
export type UserDataProvider = (typeof USER_DATA_PROVIDERS)[number];

export function isUserDataProvider(value: string): value is UserDataProvider {
  return (USER_DATA_PROVIDERS as readonly string[]).includes(value);
}

interface NetworkChoiceRow {
  id: number;
  zone_id: number;
  guest_type: string;
  userdata_provider: string | null;
}

/** The provider of one network. */
export function networkUserDataProvider(settings: Settings, network: NetworkChoiceRow): UserDataProvider {
  if (network.userdata_provider && isUserDataProvider(network.userdata_provider)) return network.userdata_provider;
  const zone = settings.string('kiln.userdata.provider', network.zone_id);
  if (isUserDataProvider(zone)) return zone;
  return network.guest_type === 'L2' ? 'ConfigDrive' : 'VirtualRouter';
}

/** The provider of a VM: its default NIC's network's (a VM without NICs gets the config drive). */
export function vmUserDataProvider(db: Db, settings: Settings, vmId: number): UserDataProvider {
  const network = db
    .prepare(
      `SELECT w.id, w.zone_id, w.guest_type, w.userdata_provider FROM nics n JOIN networks w ON w.id=n.network_id
       WHERE n.vm_id=? AND n.removed IS NULL ORDER BY n.is_default DESC, n.device_id LIMIT 1`,
    )
    .get(vmId) as NetworkChoiceRow | undefined;
  return network ? networkUserDataProvider(settings, network) : 'ConfigDrive';
}

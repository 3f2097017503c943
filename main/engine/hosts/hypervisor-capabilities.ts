/**
 * CloudStack's hypervisor capabilities (listHypervisorCapabilities / updateHypervisorCapabilities):
 * one row per driver, holding the per-host VM limit `maxguestslimit` (R14). The driver declares
 * its default in its capabilities; the admin may override it for the hypervisor, and per cluster
 * with the cluster-scoped setting `cluster.max.guests.per.host`. Placement (the guest-limit filter)
 * and the N−1 headroom check read the limit from `maxGuestsPerHost` only, so the engine never
 * asks which hypervisor it is.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { SettingsReader } from '../settings.js';
import { PAGE_IDS } from '../registry/list-page.js';
import type { HypervisorDriver } from '../../../drivers/types.js';

export const CLUSTER_GUEST_LIMIT = 'cluster.max.guests.per.host';
const DEFAULT_VERSION = 'default';

export interface CapabilityRow {
  id: number;
  uuid: string;
  hypervisor: string;
  hypervisor_version: string;
  default_max_guests_limit: number;
  max_guests_limit: number | null;
}

/** Records each driver's declared default (a row per driver; the admin's override is kept). */
export function syncHypervisorCapabilities(db: Db, drivers: Iterable<HypervisorDriver>): void {
  const upsert = db.prepare(
    `INSERT INTO hypervisor_capabilities (uuid, hypervisor, hypervisor_version, default_max_guests_limit) VALUES (?,?,?,?)
     ON CONFLICT(hypervisor, hypervisor_version) DO UPDATE SET default_max_guests_limit=excluded.default_max_guests_limit`,
  );
  db.transaction(() => {
    for (const driver of drivers) upsert.run(randomUUID(), driver.hypervisor, DEFAULT_VERSION, driver.capabilities.maxGuestsLimit);
  })();
}

/** The limit and where it comes from, for a cluster; undefined when its hypervisor has no driver here. */
export interface GuestLimit {
  limit: number;
  source: 'cluster' | 'hypervisor';
}

const LIMIT_SQL = `SELECT c.id, COALESCE(hc.max_guests_limit, hc.default_max_guests_limit) AS lim
  FROM clusters c JOIN hypervisor_capabilities hc ON hc.hypervisor=c.hypervisor AND hc.hypervisor_version='${DEFAULT_VERSION}' WHERE c.id ${PAGE_IDS}`;

export function maxGuestsPerHost(db: Db, settings: SettingsReader, clusterId: number): GuestLimit | undefined {
  return guestLimits(db, settings, [clusterId]).get(clusterId);
}

/** maxGuestsPerHost for several clusters in one statement (the N−1 headroom of a page of clusters). */
export function guestLimits(db: Db, settings: SettingsReader, clusterIds: readonly number[]): Map<number, GuestLimit | undefined> {
  const hypervisor = new Map((db.prepare(LIMIT_SQL).all(JSON.stringify(clusterIds)) as { id: number; lim: number }[]).map((r) => [r.id, r.lim]));
  return new Map(
    clusterIds.map((clusterId): [number, GuestLimit | undefined] => {
      const own = Number.parseInt(settings.raw(CLUSTER_GUEST_LIMIT, { clusterId }), 10);
      if (own > 0) return [clusterId, { limit: own, source: 'cluster' }];
      const lim = hypervisor.get(clusterId);
      return [clusterId, lim !== undefined ? { limit: lim, source: 'hypervisor' } : undefined];
    }),
  );
}

/**
 * CloudStack's HypervisorCapabilitiesResponse, from the row and the driver; Kiln adds the driver's
 * capabilities as a map and how its endpoints are added (the add dialogs build from these, not
 * from the hypervisor's name).
 */
export function capabilityResponse(row: CapabilityRow, driver: Pick<HypervisorDriver, 'capabilities' | 'connectionForm' | 'defaults' | 'networkDiscovery' | 'externalImport'>): Record<string, unknown> {
  const capabilities = driver.capabilities;
  return {
    id: row.uuid,
    hypervisor: row.hypervisor,
    hypervisorversion: row.hypervisor_version,
    maxguestslimit: row.max_guests_limit ?? row.default_max_guests_limit,
    securitygroupenabled: false,
    storagemotionenabled: capabilities.storageMotion,
    vmsnapshotenabled: true,
    capabilities: { ...capabilities },
    diskformat: driver.defaults.diskFormat,
    // The template formats registerTemplate takes for this hypervisor (DriverDefaults.templateFormats); absent: any.
    ...(driver.defaults.templateFormats ? { templateformats: driver.defaults.templateFormats.join(',') } : {}),
    connectionurlexample: driver.connectionForm.urlExample,
    connectionurlrule: driver.connectionForm.urlRule,
    connectionadds: driver.connectionForm.adds,
    connectioncredentials: driver.connectionForm.credentials.map((group) => group.join('+')).join(' or ') || 'none',
    trustkind: driver.connectionForm.trust,
    // Whether discoverEndpointNetworks can read this driver's endpoints before they are added (the facet, R52).
    networkdiscovery: driver.networkDiscovery !== undefined,
    // Whether listVmsForImport/importVm importsource=external can reach this driver's hosts that Kiln does not manage.
    externalimport: driver.externalImport !== undefined,
  };
}

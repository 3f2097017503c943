/**
 * Network discovery for an endpoint not added yet (R52, the UI's side of `kiln discover-networks`)
 * and the bulk creation of the Kiln networks it found missing. The driver is chosen by the
 * hypervisor the admin names and must publish the networkDiscovery facet: the engine asks the
 * facet, never the hypervisor's name. A network "exists" for a VLAN when the zone has an L2 or
 * shared network on it: the rule importUnmanagedInstance maps a NIC by, so a row created here is
 * what the import then picks.
 */
import type { Engine } from '../engine.js';
import type { DiscoveredNetwork, NetworkDiscoveryFacet } from '../../../drivers/network-discovery.js';
import type { HypervisorDriver } from '../../../drivers/types.js';
import { ApiError, toApiError } from '../registry/errors.js';
import { parseParams } from '../registry/params.js';
import type { ApiObject, Caller, SyncCommand } from '../registry/types.js';
import { parse } from 'csv-parse/sync';
import { parseImportCsv } from '../import/bulk-csv.js';
import { parsePvlan, parseVlan } from '../network-rules.js';

/** The driver of HYPERVISOR and its networkDiscovery facet; a 431 naming the parameter when there is none. */
export function discoveryDriver(engine: Engine, hypervisor: string): { driver: HypervisorDriver; facet: NetworkDiscoveryFacet } {
  const drivers = engine.hosts.drivers();
  const driver = drivers.find((d) => d.hypervisor.toLowerCase() === hypervisor.toLowerCase());
  if (!driver) throw ApiError.param(`hypervisor: no driver for ${hypervisor} in this Kiln (${drivers.map((d) => d.hypervisor).join(', ')})`);
  const facet = driver.networkDiscovery;
  if (!facet) {
    const able = drivers.filter((d) => d.networkDiscovery).map((d) => d.hypervisor);
    throw ApiError.param(`hypervisor: the ${driver.hypervisor} driver cannot discover an endpoint's networks (${able.length ? `these can: ${able.join(', ')}` : 'none here can'})`);
  }
  return { driver, facet };
}

/** One discovered network in the API's lower-case words. */
export function discoveredNetworkView(n: DiscoveredNetwork): ApiObject {
  return {
    clustername: n.cluster,
    hostname: n.host,
    portgroup: n.portgroup,
    switchtype: n.switchType,
    switchname: n.switchName,
    ...(n.vlanId !== null ? { vlan: n.vlanId } : {}),
    ...(n.isolatedPvlanId !== undefined ? { isolatedpvlan: n.isolatedPvlanId } : {}),
    virtualmachine: n.virtualMachines.map((vm) => ({
      name: vm.name,
      powerstate: vm.powerState,
      nic: vm.nics.map((nic) => ({
        id: nic.nic, macaddress: nic.macAddress, ...(nic.adapterType ? { adaptertype: nic.adapterType } : {}), ...(nic.pciSlot ? { pcislot: nic.pciSlot } : {}),
        ...(nic.ipAddresses.length ? { ipaddress: nic.ipAddresses } : {}),
      })),
    })),
  };
}

/** The lower-cased header cells, or undefined when the file cannot be read (parseImportCsv then says why). */
function parseImportCsvHeader(csv: string): string[] | undefined {
  try {
    const [first] = parse(csv, { bom: true, to_line: 1, relax_column_count: true }) as string[][];
    return first?.map((h) => h.trim().toLowerCase());
  } catch {
    return undefined;
  }
}

export interface NetworkRowResult {
  line: number;
  name: string;
  vlan?: number;
  isolatedpvlan?: number;
  status: 'created' | 'skipped';
  networkid: string;
  reason?: string;
}

/** The zone's network a row is already served by: on its VLAN (L2 or shared), or untagged of the same name. */
function existing(engine: Engine, zoneId: number, name: string, vlan: number | null, pvlan: number | null): { uuid: string; name: string } | undefined {
  if (vlan !== null) {
    // The network an import would map a NIC on this VLAN (and private VLAN) to.
    return engine.db.prepare(`SELECT uuid, name FROM networks WHERE zone_id=? AND removed IS NULL AND guest_type IN ('L2','Shared') AND vlan=? AND isolated_pvlan IS ? ORDER BY id LIMIT 1`).get(zoneId, vlan, pvlan) as { uuid: string; name: string } | undefined;
  }
  return engine.db.prepare(`SELECT uuid, name FROM networks WHERE zone_id=? AND removed IS NULL AND vlan IS NULL AND name=? ORDER BY id LIMIT 1`).get(zoneId, name) as { uuid: string; name: string } | undefined;
}

/**
 * Creates the L2 networks a discovery CSV (`kiln discover-networks --format csv`: name,
 * displaytext, vlan, …) lists and the zone lacks. Every row is checked first, by createNetwork's
 * own schema and VLAN rule, and one bad row refuses the file (431 naming its line and column)
 * with nothing created; then all are created in one transaction through createNetwork itself.
 */
export function createNetworksFromCsv(engine: Engine, caller: Caller, zone: { id: number; uuid: string }, csv: string, createNetwork: SyncCommand): { total: number; created: number; skipped: number; row: NetworkRowResult[] } {
  // The header first, so a file that is not a discovery CSV is refused in its own words.
  const header = parseImportCsvHeader(csv);
  for (const column of ['name', 'vlan']) {
    if (header && !header.includes(column)) throw ApiError.param(`csv: the CSV has no ${column} column (kiln discover-networks --format csv writes name, displaytext, vlan, …)`);
  }
  const rows = parseImportCsv(csv, 'csv');
  const planned = rows.map(({ line, cells }) => {
    const at = (column: string, message: string) => `csv: line ${line}, ${column}: ${message}`;
    const name = (cells['name'] ?? '').trim();
    if (!name) throw ApiError.param(at('name', 'empty; every network needs a name (the portgroup)'));
    const vlanCell = (cells['vlan'] ?? '').trim();
    let vlan: number | null;
    try {
      vlan = parseVlan(vlanCell === '' ? undefined : vlanCell, 'vlan');
    } catch (e) {
      throw ApiError.param(at('vlan', toApiError(e).message.replace(/^vlan: /, '')));
    }
    const pvlanCell = (cells['isolatedpvlan'] ?? '').trim();
    let pvlan: number | null;
    try {
      pvlan = parsePvlan(pvlanCell === '' ? undefined : pvlanCell, undefined, vlan, 'L2')?.id ?? null;
    } catch (e) {
      throw ApiError.param(at('isolatedpvlan', toApiError(e).message.replace(/^isolatedpvlan: /, '')));
    }
    const raw: Record<string, string> = {
      zoneid: zone.uuid, name, displaytext: (cells['displaytext'] ?? '').trim() || name, guestiptype: 'L2', ...(vlan !== null ? { vlan: String(vlan) } : {}), ...(pvlan !== null ? { isolatedpvlan: String(pvlan) } : {}),
    };
    try {
      return { line, name, vlan, pvlan, args: parseParams(createNetwork.name, createNetwork.params, raw, caller) };
    } catch (e) {
      // createNetwork's schema names its parameter (name, displaytext), which is the CSV's column.
      throw ApiError.param(`csv: line ${line}: ${toApiError(e).message}`);
    }
  });
  const results: NetworkRowResult[] = engine.db.transaction(() =>
    planned.map(({ line, name, vlan, pvlan, args }): NetworkRowResult => {
      const base = { line, name, ...(vlan !== null ? { vlan } : {}), ...(pvlan !== null ? { isolatedpvlan: pvlan } : {}) };
      const have = existing(engine, zone.id, name, vlan, pvlan);
      if (have) return { ...base, status: 'skipped', networkid: have.uuid, reason: vlan !== null ? `network ${have.name} is already on VLAN ${vlan}${pvlan !== null ? ` (private VLAN ${pvlan})` : ''}` : `untagged network ${have.name} exists` };
      const network = createNetwork.handler({ engine, caller }, args) as ApiObject;
      return { ...base, status: 'created', networkid: String(network['id']) };
    }),
  )();
  return { total: results.length, created: results.filter((r) => r.status === 'created').length, skipped: results.filter((r) => r.status === 'skipped').length, row: results };
}

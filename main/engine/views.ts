/**
 * Response objects for infrastructure and catalogue rows (zone, pod, cluster, host, offerings,
 * templates, networks), shaped as CloudStack's response classes name their fields.
 */
import type { Db } from './db/database.js';
import { tagsForPage } from './tags/tag-query.js';
import { PAGE_IDS, rowsFor } from './registry/list-page.js';
import { csDate, GiB } from './format.js';
import type { HostRow } from './hosts/host-manager.js';
import type { ApiObject } from './registry/types.js';
import type { DiskOfferingRow, NetworkRow, OfferingRow, TemplateRow } from './vm/rows.js';
import type { Planner } from './placement/planner.js';
import type { Engine } from './engine.js';
import { overprovisioning } from './placement/filters/capacity.js';
import { toUsage, USAGE_SQL, type UsageRow } from './placement/db-state.js';
import { deployAsIsView } from './images/appliances.js';
import { isBuiltInImage } from './images/image-delete.js';
import { zonesIsolatingPrivateVlans } from './vm/private-vlan-nics.js';

/** The zones of a page of rows, by id, in one statement (templates, networks, backup offerings and repositories name theirs). */
export function zonesById(db: Db, zoneIds: readonly number[]): Map<number, { uuid: string; name: string }> {
  const rows = rowsFor<{ id: number; uuid: string; name: string }>(db, `SELECT id, uuid, name FROM zones WHERE id ${PAGE_IDS}`, [...new Set(zoneIds)], 'id');
  return new Map([...rows].map(([id, [zone]]) => [id, zone!]));
}

export interface ZoneViewRow {
  uuid: string; name: string; network_type: string; allocation_state: string; dns1: string | null;
  internal_dns1?: string | null; dns2?: string | null; internal_dns2?: string | null; domain?: string | null;
  ip6_dns1?: string | null; ip6_dns2?: string | null; guest_cidr?: string | null; details?: string; sort_key?: number;
}

export function zoneView(row: ZoneViewRow): ApiObject {
  return {
    id: row.uuid, name: row.name, networktype: row.network_type, allocationstate: row.allocation_state, dns1: row.dns1 ?? undefined, dns2: row.dns2 ?? undefined,
    internaldns1: row.internal_dns1 ?? undefined, internaldns2: row.internal_dns2 ?? undefined, domain: row.domain ?? undefined, securitygroupsenabled: false, localstorageenabled: false,
    ip6dns1: row.ip6_dns1 ?? undefined, ip6dns2: row.ip6_dns2 ?? undefined, guestcidraddress: row.guest_cidr ?? undefined,
    // updateZone's sortkey (listZones' order). CloudStack's ZoneResponse does not carry it; Kiln does, so a form can show it.
    sortkey: row.sort_key ?? 0,
    ...(row.details && row.details !== '{}' ? { resourcedetails: JSON.parse(row.details) as Record<string, string> } : {}),
  };
}

export function hostView(db: Db, planner: Planner, row: HostRow, isAdmin: boolean): ApiObject {
  return hostViews(db, [row], isAdmin, (clusterId) => planner.overprovisioning(clusterId))[0]!;
}

/** A list's host responses: every setting read at once for the overprovisioning factors (Settings.readAll). */
export function hostListViews(engine: Pick<Engine, 'db' | 'settings'>, rows: readonly HostRow[]): ApiObject[] {
  const settings = engine.settings.readAll();
  return hostViews(engine.db, rows, true, (clusterId) => overprovisioning((name) => settings.raw(name, { clusterId })));
}

interface GpuRow {
  host_id: number; group_name: string; vgpu_type: string; max_capacity: number; remaining_capacity: number; max_vgpu_per_pgpu: number | null;
  video_ram: number | null; max_heads: number | null; max_resolution_x: number | null; max_resolution_y: number | null; pgpus: string | null;
}

/**
 * The responses of a page of hosts: their zone, pod and cluster names, allocated usage, OS
 * categories and GPUs in one statement each; FACTORS gives a cluster's overprovisioning factors
 * (a list passes a reader of every setting read at once, Settings.readAll).
 */
export function hostViews(db: Db, rows: readonly HostRow[], isAdmin: boolean, factors: (clusterId: number) => { cpu: number; memory: number }): ApiObject[] {
  const ids = rows.map((r) => r.id);
  const names = rowsFor<{ id: number } & Record<string, string>>(
    db,
    `SELECT h.id, z.name AS zonename, p.name AS podname, c.name AS clustername, z.uuid AS zoneid, p.uuid AS podid, c.uuid AS clusterid
     FROM hosts h JOIN zones z ON z.id=h.zone_id JOIN pods p ON p.id=h.pod_id JOIN clusters c ON c.id=h.cluster_id WHERE h.id ${PAGE_IDS}`,
    ids,
    'id',
  );
  const usage = rowsFor<UsageRow>(db, `${USAGE_SQL} WHERE host_id ${PAGE_IDS}`, ids, 'host_id');
  const categories = rowsFor<{ id: number; uuid: string; name: string }>(
    db, `SELECT id, uuid, name FROM guest_os_categories WHERE id ${PAGE_IDS}`, [...new Set(rows.flatMap((r) => (r.os_category_id ? [r.os_category_id] : [])))], 'id',
  );
  const gpus = rowsFor<GpuRow>(db, `SELECT * FROM host_gpus WHERE host_id ${PAGE_IDS} ORDER BY host_id, group_name, vgpu_type`, ids, 'host_id');
  return rows.map((row) => {
    const { id: _id, ...hostNames } = names.get(row.id)![0]!;
    const used = toUsage(usage.get(row.id)?.[0]);
    const factor = factors(row.cluster_id);
    const cpuCapacity = row.cpu_number * row.cpu_speed * factor.cpu;
    const category = row.os_category_id ? categories.get(row.os_category_id)?.[0] : undefined;
    const out: ApiObject = {
      id: row.uuid,
      name: row.name,
      type: 'Routing',
      state: row.state,
      resourcestate: row.resource_state,
      hypervisor: row.hypervisor,
      hypervisorversion: row.hypervisor_version ?? undefined,
      ...hostNames,
      cpusockets: row.cpu_sockets,
      cpunumber: row.cpu_number,
      cpuspeed: row.cpu_speed,
      // As CloudStack reports them: allocation against the capacity after the cluster's overprovisioning factors.
      cpuallocated: cpuCapacity > 0 ? `${((used.cpuMhz / cpuCapacity) * 100).toFixed(2)}%` : '0%',
      cpuwithoverprovisioning: String(cpuCapacity),
      memorytotal: row.memory_total * 1024 * 1024,
      memorywithoverprovisioning: String(Math.floor(row.memory_total * factor.memory) * 1024 * 1024),
      memoryallocated: used.memory * 1024 * 1024,
      memoryused: (row.memory_total - row.memory_free) * 1024 * 1024,
      hosttags: row.host_tags || undefined,
      oscategoryid: category?.uuid,
      oscategoryname: category?.name,
      created: csDate(row.created),
      lastpinged: csDate(row.last_pinged),
      // Kiln: what the host can do (capabilityMap), for clients to gate actions by capability, never by hypervisor name.
      capabilities: row.capabilities ? (JSON.parse(row.capabilities) as Record<string, unknown>) : undefined,
      gpugroup: gpuGroupsOf(gpus.get(row.id) ?? []),
    };
    if (isAdmin) {
      out['ipaddress'] = safeHostOf(row.url);
      // One trust model: the pinned SSH host key or TLS certificate thumbprint, and which it is.
      if (row.trust_fingerprint) {
        out['hostkeyfingerprint'] = row.trust_fingerprint;
        out['trustkind'] = row.trust_kind;
      }
      if (row.last_error) out['details'] = { lasterror: row.last_error };
    }
    return out;
  });
}

/** CloudStack's host gpugroup[] (R65): each GPU group with its vGPU types and their capacity, from host_gpus; absent without GPUs. */
function gpuGroupsOf(rows: readonly GpuRow[]): ApiObject[] | undefined {
  if (rows.length === 0) return undefined;
  const groups = new Map<string, ApiObject[]>();
  for (const r of rows) {
    const vgpus = groups.get(r.group_name) ?? [];
    vgpus.push({
      vgputype: r.vgpu_type,
      // Bytes, as CloudStack reports the type's frame buffer.
      videoram: r.video_ram !== null ? r.video_ram * 1024 * 1024 : undefined,
      maxheads: r.max_heads ?? undefined, maxresolutionx: r.max_resolution_x ?? undefined, maxresolutiony: r.max_resolution_y ?? undefined,
      maxvgpuperpgpu: r.max_vgpu_per_pgpu ?? undefined, remainingcapacity: r.remaining_capacity, maxcapacity: r.max_capacity,
      // Kiln's addition: the type on each physical GPU (the GPU view's pGPU nodes).
      pgpu: r.pgpus ? (JSON.parse(r.pgpus) as { address: string; remainingCapacity: number; maxCapacity: number; vmUuids: string[] }[]).map((p) => ({ pciaddress: p.address, remainingcapacity: p.remainingCapacity, maxcapacity: p.maxCapacity, virtualmachineids: p.vmUuids })) : undefined,
    });
    groups.set(r.group_name, vgpus);
  }
  return [...groups].map(([gpugroupname, vgpu]) => ({ gpugroupname, vgpu }));
}

function safeHostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

export function offeringView(row: OfferingRow): ApiObject {
  const custom = row.cpu_number === null || row.memory === null;
  const details = JSON.parse(row.details) as Record<string, string>;
  return {
    id: row.uuid,
    name: row.name,
    displaytext: row.display_text,
    cpunumber: row.cpu_number ?? undefined,
    cpuspeed: row.cpu_speed ?? undefined,
    memory: row.memory ?? undefined,
    iscustomized: custom,
    storagetype: row.storage_type,
    offerha: row.offer_ha === 1,
    limitcpuuse: row.limit_cpu_use === 1,
    hosttags: row.host_tags || undefined,
    storagetags: row.storage_tags || undefined,
    dynamicscalingenabled: row.dynamic_scaling_enabled === 1,
    isvolatile: row.volatile_vm === 1,
    rootdisksize: row.root_disk_size ?? undefined,
    issystem: row.is_system === 1,
    defaultuse: false,
    serviceofferingdetails: {
      ...details,
      ...(row.min_cpu_number !== null ? { mincpunumber: String(row.min_cpu_number) } : {}),
      ...(row.max_cpu_number !== null ? { maxcpunumber: String(row.max_cpu_number) } : {}),
      ...(row.min_memory !== null ? { minmemory: String(row.min_memory) } : {}),
      ...(row.max_memory !== null ? { maxmemory: String(row.max_memory) } : {}),
    },
    created: csDate(row.created),
  };
}

export function diskOfferingView(row: DiskOfferingRow): ApiObject {
  return { id: row.uuid, name: row.name, displaytext: row.display_text, disksize: Math.round(row.disk_size / GiB), iscustomized: row.is_customized === 1, storagetype: row.storage_type, tags: row.tags || undefined, created: csDate(row.created) };
}

/** downloaddetails' downloadState as CloudStack words it. */
const DOWNLOAD_STATE_TEXT: Record<string, string> = { NOT_DOWNLOADED: 'Not Downloaded', DOWNLOAD_IN_PROGRESS: 'Downloading', DOWNLOADED: 'Downloaded', DOWNLOAD_ERROR: 'Download Error' };

export function templateView(db: Db, row: TemplateRow): ApiObject {
  return templateViews(db, [row])[0]!;
}

/** The responses of a page of templates or ISOs: OS types, zones, owners and tags read in one statement each. */
export function templateViews(db: Db, rows: readonly TemplateRow[]): ApiObject[] {
  const distinct = (f: (r: TemplateRow) => number | null) => [...new Set(rows.map(f).filter((v): v is number => v !== null))];
  const oses = rowsFor<{ id: number; uuid: string; display_name: string }>(db, `SELECT g.id, g.uuid, g.display_name FROM guest_os g WHERE g.id ${PAGE_IDS}`, distinct((r) => r.os_type_id), 'id');
  const zones = zonesById(db, distinct((r) => r.zone_id));
  const accounts = rowsFor<{ id: number; name: string; domainid: string; domain: string }>(
    db, `SELECT a.id, a.name, d.uuid AS domainid, d.name AS domain FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id ${PAGE_IDS}`, distinct((r) => r.account_id), 'id',
  );
  const ids = (iso: boolean) => rows.filter((r) => (r.is_iso === 1) === iso).map((r) => r.id);
  const tags = { ISO: tagsForPage(db, 'ISO', ids(true)), Template: tagsForPage(db, 'Template', ids(false)) };
  return rows.map((row) => {
    const os = oses.get(row.os_type_id)![0]!;
    const zone = row.zone_id ? zones.get(row.zone_id)! : undefined;
    const account = accounts.get(row.account_id)![0]!;
    return {
      id: row.uuid,
      name: row.name,
      displaytext: row.display_text,
      format: row.format,
      hypervisor: row.hypervisor,
      ostypeid: os.uuid,
      ostypename: os.display_name,
      ispublic: row.is_public === 1,
      isfeatured: row.is_featured === 1,
      // CloudStack's template_store_ref: ready once the download into the zone's image store is complete.
      isready: row.state === 'Active' && row.download_state === 'DOWNLOADED',
      status: row.status ?? (row.download_state === 'DOWNLOADED' ? 'Download Complete' : row.download_state),
      ...(row.checksum ? { checksum: row.checksum } : {}),
      ...(row.physical_size !== null ? { physicalsize: row.physical_size } : {}),
      downloaddetails: [{ datastore: zone ? `image store of ${zone.name}` : 'host storage', downloadPercent: String(row.download_percent), downloadState: DOWNLOAD_STATE_TEXT[row.download_state] ?? row.download_state }],
      bootable: row.bootable === 1,
      isdynamicallyscalable: row.is_dynamically_scalable === 1,
      passwordenabled: row.password_enabled === 1,
      size: row.size,
      zoneid: zone?.uuid,
      zonename: zone?.name,
      account: account.name,
      domainid: account.domainid,
      domain: account.domain,
      templatetype: isBuiltInImage(row) ? 'BUILTIN' : 'USER',
      crossZones: row.zone_id === null,
      details: JSON.parse(row.details) as unknown,
      ...deployAsIsView(row),
      created: csDate(row.created),
      tags: tags[row.is_iso ? 'ISO' : 'Template'].get(row.id) ?? [],
    };
  });
}

export function networkView(db: Db, row: NetworkRow): ApiObject {
  return networkViews(db, [row])[0]!;
}

/** The responses of a page of networks: their zones and domains read in one statement each. */
export function networkViews(db: Db, rows: readonly NetworkRow[]): ApiObject[] {
  const zones = zonesById(db, rows.map((r) => r.zone_id));
  const domains = rowsFor<{ id: number; uuid: string }>(db, `SELECT id, uuid FROM domains WHERE id ${PAGE_IDS}`, [...new Set(rows.flatMap((r) => (r.domain_id === null || r.domain_id === undefined ? [] : [r.domain_id])))], 'id');
  const isolating = zonesIsolatingPrivateVlans(db, rows.flatMap((r) => (r.isolated_pvlan != null ? [r.zone_id] : [])));
  return rows.map((row) => {
    const zone = zones.get(row.zone_id)!;
    return {
      id: row.uuid,
      name: row.name,
      displaytext: row.display_text,
      zoneid: zone.uuid,
      zonename: zone.name,
      type: row.guest_type,
      guestiptype: row.guest_type,
      traffictype: 'Guest',
      vlan: row.vlan !== null ? String(row.vlan) : undefined,
      broadcasturi: row.vlan === null ? undefined : row.isolated_pvlan != null ? `pvlan://${row.vlan}-i${row.isolated_pvlan}` : `vlan://${row.vlan}`,
      isolatedpvlan: row.isolated_pvlan != null ? String(row.isolated_pvlan) : undefined,
      isolatedpvlantype: row.isolated_pvlan_type ?? undefined,
      // Kiln's own: whether a host of the zone can isolate a VM on this private VLAN (vm/private-vlan-nics.ts).
      isolatedpvlansupported: row.isolated_pvlan != null ? isolating.has(row.zone_id) : undefined,
      cidr: row.cidr ?? undefined,
      gateway: row.gateway ?? undefined,
      netmask: row.netmask ?? undefined,
      acltype: row.acl_type,
      state: row.state,
      domainid: row.domain_id === null || row.domain_id === undefined ? undefined : domains.get(row.domain_id)?.[0]?.uuid,
      created: csDate(row.created),
    };
  });
}

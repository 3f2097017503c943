/**
 * Discovery of the VMs on a cluster's hosts that Kiln does not manage (listUnmanagedInstances,
 * R41), and the rules that decide whether one can be imported (R43, R49, R50). One function,
 * `importBlockers`, serves both the list's importable / why-not column and the refusals of
 * importUnmanagedInstance, so the list never promises what the import then refuses.
 */
import type { HostSession, InstanceInfo } from '../../../drivers/types.js';
import { requireFacet } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { HostRow } from '../hosts/host-manager.js';
import { vmRef } from '../vm/rows.js';
import { mapGuestOs } from './guest-os.js';

/** An unmanaged VM as one host reports it. */
export interface UnmanagedVm {
  host: Pick<HostRow, 'id' | 'uuid' | 'name' | 'cluster_id' | 'pod_id' | 'zone_id' | 'host_tags'>;
  info: InstanceInfo;
  /** The host's storage pools (names and refs), for "a disk on storage Kiln cannot see". */
  pools: Set<string>;
}

/** Why a VM cannot be imported as asked; `param` is the parameter that would change the answer. */
export interface ImportBlocker {
  param: string;
  message: string;
}

export interface ClusterRow {
  id: number;
  uuid: string;
  name: string;
  zone_id: number;
  pod_id: number;
  hypervisor: string;
}

/** The cluster's hosts Kiln can ask now (Up and enabled). */
function clusterHosts(db: Db, clusterId: number): UnmanagedVm['host'][] {
  return db
    .prepare(`SELECT id, uuid, name, cluster_id, pod_id, zone_id, host_tags FROM hosts WHERE cluster_id=? AND removed IS NULL AND state='Up' ORDER BY id`)
    .all(clusterId) as UnmanagedVm['host'][];
}

/** Refs of the VMs Kiln manages (every row that still exists), to leave them out of the list. */
function managedRefs(db: Db, zoneId: number): Set<string> {
  const rows = db.prepare(`SELECT ref, internal_name FROM vm_instances WHERE zone_id=? AND state<>'Expunged' AND removed IS NULL`).all(zoneId) as { ref: string | null; internal_name: string }[];
  return new Set(rows.map((r) => vmRef(r)));
}

/**
 * Every VM on the cluster's hosts that Kiln does not manage, templates excluded, in the hosts'
 * order. A host whose driver cannot import is a 431 naming the cluster (the capability, not the
 * hypervisor's name, decides); a host that does not answer fails the call with its own error.
 */
export async function listUnmanaged(engine: Engine, cluster: ClusterRow, name?: string): Promise<UnmanagedVm[]> {
  const managed = managedRefs(engine.db, cluster.zone_id);
  const hosts = clusterHosts(engine.db, cluster.id);
  const perHost = await Promise.all(
    hosts.map(async (host) => {
      const session = await engine.hosts.session(host.id);
      const facet = importFacet(session, cluster);
      const [instances, inventory] = await Promise.all([facet.list(), session.inventory()]);
      const pools = new Set(inventory.storagePools.flatMap((p) => [p.name, ...(p.ref ? [p.ref] : [])]));
      return instances
        .filter((info) => !info.isTemplate && !managed.has(info.ref) && (name === undefined || info.name === name))
        .map((info) => ({ host, info, pools }));
    }),
  );
  // A VM a shared-storage cluster lists on two hosts (vSphere lists each on its own host) appears once.
  const seen = new Set<string>();
  return perHost.flat().filter((vm) => (seen.has(vm.info.ref) ? false : (seen.add(vm.info.ref), true)));
}

export function importFacet(session: HostSession, cluster: Pick<ClusterRow, 'name'>) {
  try {
    return requireFacet(session, 'import', 'importing VMs');
  } catch {
    throw ApiError.param(`clusterid: the hypervisor of cluster ${cluster.name} cannot list or import VMs it did not create`);
  }
}

/**
 * Known MACs (lower case) with the VM that holds each, for R43: every NIC's (a listing's rows), or
 * (ONLY) those of these MACs, looked up by the nics table's MAC index: one import's VM, so a bulk
 * run's rows do not each read every NIC (bench csv-bulk). Kiln stores MACs in lower case (every
 * insert lowercases them); the MACs as given are looked up too.
 */
export function knownMacs(db: Db, only?: readonly string[]): Map<string, { vmName: string | null; vmLive: boolean; nicId: number }> {
  const select = `SELECT n.id, lower(n.mac_address) AS mac, v.display_name, (v.id IS NOT NULL AND v.removed IS NULL AND v.state<>'Expunged') AS live FROM nics n LEFT JOIN vm_instances v ON v.id=n.vm_id WHERE n.removed IS NULL`;
  const rows = (only === undefined
    ? db.prepare(select).all()
    : db.prepare(`${select} AND n.mac_address IN (SELECT value FROM json_each(?))`).all(JSON.stringify([...new Set(only.flatMap((m) => [m, m.toLowerCase()]))]))) as { id: number; mac: string; display_name: string | null; live: number }[];
  return new Map(rows.map((r) => [r.mac, { vmName: r.display_name, vmLive: r.live === 1, nicId: r.id }]));
}

/** The data disks (all but the root, which is the first by position). */
export function dataDisks(info: InstanceInfo): InstanceInfo['disks'] {
  return [...info.disks].sort((a, b) => (a.position ?? 0) - (b.position ?? 0)).slice(1);
}

/**
 * A VM copied in from a host Kiln does not manage (importsource=external): where from (for
 * messages), and what its driver can define the copy with. Kiln defines the copy from its own
 * records, so its controllers and NIC adapter are kept as the VM details the driver honours
 * (detailOptions: rootDiskController, dataDiskController, nicAdapter); a driver without such a
 * detail gives every copy its default bus (diskBus).
 */
export interface CopySource {
  from: string;
  bus: string;
  detailOptions?: Record<string, string[]>;
}

/** The root disk's controller, the data disks' (one kind: mixed ones are refused) and the NICs' adapter, by the detail that keeps each. */
function keptDevices(info: InstanceInfo): Record<string, string | undefined> {
  const [root, ...data] = [...info.disks].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  return { rootDiskController: root?.controller, dataDiskController: data[0]?.controller, nicAdapter: info.nics[0]?.adapterType };
}

/**
 * The details that keep a copied VM's controllers and NIC adapter, from the VM as its host
 * reports it: each key COPY's driver honours, and nicAdapter always (every driver defines NICs of a given model).
 */
export function copyDetails(info: InstanceInfo, copy: CopySource): Record<string, string> {
  return Object.fromEntries(Object.entries(keptDevices(info)).filter((e): e is [string, string] => e[1] !== undefined && (e[0] === 'nicAdapter' || e[0] in (copy.detailOptions ?? {}))));
}

/** Why COPY's driver cannot define a copy of INFO with its controllers and adapter kept. */
function copyBlockers(info: InstanceInfo, copy: CopySource): ImportBlocker[] {
  const out: ImportBlocker[] = [];
  const options = copy.detailOptions ?? {};
  const kept = keptDevices(info);
  const what: Record<string, string> = { rootDiskController: 'its root disk is on', dataDiskController: 'its data disks are on', nicAdapter: 'its NICs are' };
  for (const key of ['rootDiskController', 'dataDiskController', 'nicAdapter']) {
    const value = kept[key];
    if (value === undefined) continue;
    const allowed = options[key] ?? (key === 'nicAdapter' ? undefined : [copy.bus]);
    if (allowed && !allowed.includes(value)) {
      out.push({ param: 'name', message: `VM ${info.name}: ${what[key]} ${value}; a VM copied in from ${copy.from} is defined by Kiln, which keeps ${key === 'nicAdapter' ? 'NIC adapters' : 'disk controllers'} ${allowed.join(', ')} only` });
    }
  }
  return out;
}

/**
 * The disk's bus and the NIC model are the details the host's driver honours
 * (details[0].rootDiskController=sata, details[0].nicAdapter=e1000): a value it does not know is
 * a 431 before anything is written, not a define that fails at the first start.
 */
export function checkHonouredDetails(options: Record<string, string[]> | undefined, details: Record<string, string>): void {
  for (const [key, value] of Object.entries(details)) {
    const allowed = options?.[key];
    if (allowed && allowed.length > 0 && !allowed.includes(value)) throw ApiError.param(`details: ${key}=${value} is not one of ${allowed.join(', ')}`);
  }
}

export interface BlockerOptions {
  forced?: boolean;
  templateGiven?: boolean;
  macs?: ReturnType<typeof knownMacs>;
  /** The VM is copied in from a host Kiln does not manage (importsource=external). */
  copy?: CopySource;
}

/**
 * Everything that stops VM from being imported as asked: with `forced` a known MAC is reused
 * (R43), with `templateid` the OS needs no mapping (R49). The first entry is the refusal the
 * import answers; the list shows all of them.
 */
export function importBlockers(db: Db, vm: UnmanagedVm, options: BlockerOptions = {}): ImportBlocker[] {
  const { info } = vm;
  const out: ImportBlocker[] = [];
  const copyFrom = options.copy?.from;
  if (copyFrom) {
    // Its disks are copied, so they must hold still; where they are does not matter (they are read there).
    if (info.powerState !== 'Stopped') out.push({ param: 'name', message: `VM ${info.name} is ${info.powerState === 'Running' ? 'running' : info.powerState} on ${copyFrom}; shut it down there first, its disks are copied while it is off` });
  } else if (info.powerState !== 'Running' && info.powerState !== 'Stopped') {
    out.push({ param: 'name', message: `VM ${info.name} is ${info.powerState}; only a running or stopped VM can be imported` });
  }
  if (info.disks.length === 0) out.push({ param: 'name', message: `VM ${info.name} has no disk to become its root volume` });
  const controllers = new Set(dataDisks(info).map((d) => d.controller ?? 'unknown'));
  if (controllers.size > 1) out.push({ param: 'name', message: `VM ${info.name} has data disks on mixed controller types (${[...controllers].join(', ')}); Kiln keeps one data-disk controller per VM` });
  const adapters = new Set(info.nics.map((n) => n.adapterType ?? 'unknown'));
  if (adapters.size > 1) out.push({ param: 'name', message: `VM ${info.name} has NICs of mixed adapter types (${[...adapters].join(', ')}); Kiln keeps one NIC adapter type per VM` });
  // The copy is an ordinary Kiln VM defined from its records: controllers and adapters are kept
  // (a guest installed on one controller might not find its disks on another), or refused, never changed.
  if (options.copy && controllers.size <= 1 && adapters.size <= 1) out.push(...copyBlockers(info, options.copy));
  for (const disk of copyFrom ? [] : info.disks) {
    if (disk.datastore === undefined || !vm.pools.has(disk.datastore)) {
      out.push({ param: 'name', message: `disk ${disk.id} of VM ${info.name} is on ${disk.datastore ? `storage ${disk.datastore}` : `${disk.imagePath ?? 'storage'}`}, which host ${vm.host.name} does not offer Kiln as a storage pool` });
    }
  }
  const macs = options.macs ?? knownMacs(db);
  for (const nic of info.nics) {
    const known = macs.get(nic.macAddress.toLowerCase());
    if (!known) continue;
    const holder = known.vmName ? `${known.vmLive ? 'VM' : 'the removed VM'} ${known.vmName}` : 'a reserved NIC';
    if (known.vmLive) out.push({ param: 'forced', message: `NIC ${nic.id} of VM ${info.name}: MAC ${nic.macAddress} belongs to ${holder}; two NICs Kiln manages cannot share a MAC, even with forced=true` });
    else if (!options.forced) out.push({ param: 'forced', message: `NIC ${nic.id} of VM ${info.name}: MAC ${nic.macAddress} is already known to Kiln (${holder}); pass forced=true to reuse it` });
  }
  if (!options.templateGiven && mapGuestOs(db, info.osDisplayName) === undefined) {
    out.push({ param: 'templateid', message: `VM ${info.name}: no guest OS in Kiln's list matches "${info.osDisplayName ?? 'unknown'}"; give templateid to import it` });
  }
  return out;
}

/** CloudStack's power state names in an unmanaged-instance response. */
const POWER: Record<string, string> = { Running: 'PowerOn', Stopped: 'PowerOff' };

/** One row of listUnmanagedInstances: R41's fields, and whether (and why not) it can be imported. */
export function unmanagedView(db: Db, cluster: ClusterRow | undefined, vm: UnmanagedVm, macs: ReturnType<typeof knownMacs>, copy?: CopySource): Record<string, unknown> {
  const { info } = vm;
  const blockers = importBlockers(db, vm, { macs, copy });
  const copyFrom = copy?.from;
  return {
    ...(cluster ? { clusterid: cluster.uuid, hostid: vm.host.uuid } : { hostname: copyFrom }),
    name: info.name,
    osdisplayname: info.osDisplayName,
    memory: info.memoryMiB,
    powerstate: POWER[info.powerState] ?? 'PowerUnknown',
    cpucorepersocket: info.cpuCoresPerSocket,
    cpunumber: info.cpuNumber,
    cpuspeed: info.cpuReservationMhz ?? info.cpuSpeedMhz,
    disk: [...info.disks]
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
      .map((d) => ({ id: d.id, capacity: d.capacityBytes, controller: d.controller, controllerunit: d.controllerUnit, imagepath: d.imagePath, position: d.position })),
    nic: info.nics.map((n) => ({
      id: n.id, macaddress: n.macAddress, networkname: n.networkName, vlanid: n.vlanId, ...(n.pvlanId !== undefined ? { isolatedpvlan: n.pvlanId, isolatedpvlantype: n.pvlanType } : {}), pcislot: n.pciSlot, adaptertype: n.adapterType,
      ...(n.ipAddresses?.length ? { ipaddress: n.ipAddresses } : {}),
    })),
    importable: blockers.length === 0,
    // Beside each reason, the parameter of the import that answers it (templateid: the OS maps onto no guest OS, a template gives one), for a UI to offer that choice.
    ...(blockers.length ? { notimportablereason: blockers.map((b) => b.message), notimportableparams: blockers.map((b) => b.param) } : {}),
  };
}

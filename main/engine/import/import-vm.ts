/**
 * importUnmanagedInstance (R42–R50): every rule is checked before the job starts, so a refusal is
 * a 431 naming its parameter with nothing written; the job then takes the VM over through the
 * driver's import facet (which changes nothing on the hypervisor) and writes the VM, its volumes
 * and NICs in one transaction. From then on it is an ordinary Kiln VM whose starts keep its
 * hypervisor definition (vm_instances.adopted, VmSpec.keepDefinition).
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Args } from '../registry/params.js';
import type { AsyncWork, Caller } from '../registry/types.js';
import { byUuid } from '../lookup.js';
import { followsRule, HOSTNAME_RULE, ruleMessage } from '../registry/param-rules.js';
import { requireAccountAccess } from '../vm/access.js';
import { resolveOwner } from '../vm/deploy-input.js';
import type { DiskOfferingRow, NetworkRow, OfferingRow, TemplateRow } from '../vm/rows.js';
import type { NicSpec } from '../../../drivers/types.js';
import { vmJobResult } from '../vm/vm-job.js';
import { migrateVm } from '../vm/vm-changes.js';
import { migrationOutcome } from '../placement/migration.js';
import { offeringTags } from '../placement/request.js';
import { copyDetails, dataDisks, importBlockers, importFacet, knownMacs, listUnmanaged, type ClusterRow, type CopySource, type UnmanagedVm } from './unmanaged.js';
import { mapGuestOs } from './guest-os.js';
import { nicPrivateVlan, requireImportablePrivateVlans } from '../vm/private-vlan-nics.js';
import { onPrivateVlan, republishPrivateVlanPeers } from '../vm/private-vlan-peers.js';
import { importTemplate } from './import-template.js';
import { MIGRATE_ALLOWED_DETAIL, vouchFor } from './adopted-moves.js';
import { moveToTaggedStorage, planStorageMoves, type StorageMove } from '../storage/import-tags.js';
import { mapVolumes } from '../storage/pool-sync.js';
import { recordAdoptedUuid } from './adopted-identity.js';

/** "VLAN 100", or "VLAN 100 (private VLAN 501)" for a NIC or network on a private VLAN. */
function vlanText(vlan: number, pvlan: number | undefined): string {
  return pvlan === undefined ? `VLAN ${vlan}` : `VLAN ${vlan} (private VLAN ${pvlan})`;
}

/** What R50 tells the caller about the console of a VM that was running when it was imported. */
export const CONSOLE_NOTE = 'the VM was running when it was imported: its console may not work until it is stopped and started through Kiln';

/** Details that size the VM (cpuNumber, cpuSpeed, memory) are its columns, not vm_details rows. */
export function withoutResourceDetails(details: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(details).filter(([k]) => !['cpuNumber', 'cpuSpeed', 'memory'].includes(k)));
}

interface NicPlan {
  nicId: string;
  mac: string;
  network: NetworkRow;
  ip: string | null;
  /** A NIC row of a removed VM whose MAC forced=true reuses (R43); released in the same transaction. */
  releaseNicId?: number;
}

interface DiskPlan {
  id: string;
  type: 'ROOT' | 'DATADISK';
  size: number;
  diskOfferingId: number | null;
}

export interface ImportPlan {
  cluster: ClusterRow;
  vm: UnmanagedVm;
  owner: { accountId: number; userId: number; domainId: number };
  displayName: string;
  hostname: string;
  /** The template given; absent: the dummy import template, made (once) by the job, not by a refused call. */
  template?: TemplateRow;
  osTypeId: number;
  offering: OfferingRow;
  resources: { cpuNumber: number; cpuSpeed: number; memory: number };
  nics: NicPlan[];
  disks: DiskPlan[];
  details: Record<string, string>;
  /** The VM's host lacks the offering's host tags and migrateallowed moves it (R48). */
  moveAfterImport: boolean;
  /** migrateallowed=true: the admin says its disks are reachable from the other hosts (adopted-moves.ts). */
  migrateAllowed: boolean;
  /** Disks on pools without their offerings' storage tags, which migrateallowed moves (R48). */
  storageMoves?: StorageMove[];
  /** NIC ids the driver moves onto its private-VLAN ports in the kept definition (vm/private-vlan-nics.ts). */
  privateVlanNics?: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/**
 * Every check of R42–R50, in the order CloudStack makes them; throws the first refusal as a 431.
 * LISTING: the cluster's unmanaged VMs as a bulk run read them once (listUnmanaged), instead of
 * asking every host again for each row; whatever was imported since is still refused below, by
 * the database (an instance name Kiln has).
 */
export async function planImport(engine: Engine, caller: Caller, args: Args, listing?: UnmanagedVm[]): Promise<ImportPlan> {
  const db = engine.db;
  const cluster = byUuid<ClusterRow>(db, 'cluster', args.uuid('clusterid')!, 'clusterid');
  if (args.uuid('projectid')) throw ApiError.param('projectid: Kiln has no projects; import the VM into an account (account and domainid)');
  const name = args.str('name')!;
  const found = listing ? listing.filter((vm) => vm.host.cluster_id === cluster.id && vm.info.name === name) : await listUnmanaged(engine, cluster, name);
  if (found.length === 0) {
    const managed = db.prepare(`SELECT 1 FROM vm_instances WHERE (internal_name=? OR instance_name=?) AND state<>'Expunged' AND removed IS NULL AND cluster_id=?`).get(name, name, cluster.id);
    throw ApiError.param(managed ? `name: VM ${name} in cluster ${cluster.name} is already managed by Kiln` : `name: no unmanaged VM named ${name} on the hosts of cluster ${cluster.name}`);
  }
  if (found.length > 1) throw ApiError.param(`name: ${found.length} unmanaged VMs are named ${name} in cluster ${cluster.name} (on ${found.map((f) => f.host.name).join(', ')}); rename one on the hypervisor first`);
  const plan = planFor(engine, caller, args, cluster, found[0]!);
  // R48's storage half: the disks' pools must have their offerings' storage tags (storage/import-tags.ts).
  plan.storageMoves = await planStorageMoves(engine, plan, plan.migrateAllowed);
  return plan;
}

/**
 * The rules for one VM found on VM.host, or (COPY) on a host Kiln does not manage, whose disks
 * are then copied onto VM.host (importVm importsource=external): the same rules, except that its
 * disks may be anywhere there, it must be shut off, and Kiln places it at its first start.
 */
export function planFor(engine: Engine, caller: Caller, args: Args, cluster: ClusterRow, vm: UnmanagedVm, copy?: CopySource): ImportPlan {
  const db = engine.db;
  const { info } = vm;
  const forced = args.bool('forced') ?? false;
  const templateUuid = args.uuid('templateid');
  // The VM's own MACs, by index (not every NIC Kiln has: a bulk run plans a row at a time).
  const macs = knownMacs(db, info.nics.map((n) => n.macAddress));
  const blocker = importBlockers(db, vm, { forced, templateGiven: templateUuid !== undefined, macs, copy })[0];
  if (blocker) throw ApiError.param(`${blocker.param}: ${blocker.message}`);

  const owner = resolveOwner(engine, caller, args);
  const displayName = args.str('displayname') ?? info.name;
  const hostname = args.str('hostname') ?? info.name;
  if (!followsRule(HOSTNAME_RULE, hostname)) throw ApiError.param(`${ruleMessage('hostname', hostname, HOSTNAME_RULE)}${args.str('hostname') ? '' : " (the VM's name); give hostname"}`);
  const clash = db.prepare(`SELECT 1 FROM vm_instances WHERE hostname=? AND account_id=? AND zone_id=? AND state NOT IN ('Destroyed','Expunged') AND removed IS NULL`).get(hostname, owner.accountId, cluster.zone_id);
  if (clash) throw ApiError.param(`hostname: a VM named ${hostname} already exists in this account and zone`);
  const nameTaken = db.prepare('SELECT 1 FROM vm_instances WHERE internal_name=? OR instance_name=?').get(info.name, info.name);
  if (nameTaken) throw ApiError.param(`name: Kiln already has a VM whose instance name is ${info.name}; rename the VM on the hypervisor first`);

  // R44 and R49: a template gives the OS; without one the dummy template, and the OS is mapped.
  let template: TemplateRow | undefined;
  let osTypeId: number;
  if (templateUuid) {
    template = byUuid<TemplateRow>(db, 'template', templateUuid, 'templateid');
    if (template.is_iso) throw ApiError.param(`templateid: ${template.name} is an ISO, not a template`);
    if (!template.is_public) requireAccountAccess(db, caller, template.account_id, `template ${template.name}`);
    osTypeId = template.os_type_id;
  } else {
    osTypeId = mapGuestOs(db, info.osDisplayName)!;
  }

  const offering = byUuid<OfferingRow>(db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
  const details = args.details('details') ?? {};
  const resources = offeringResources(offering, info, details);

  const nics = planNics(engine, args, vm, cluster, owner.accountId, macs, forced);
  // A private-VLAN network only where the VM is isolated on it (vm/private-vlan-nics.ts).
  const privateVlanNics = requireImportablePrivateVlans(db, { name: info.name, running: info.powerState !== 'Stopped', host: vm.host }, nics.map((n) => ({ ...n, pvlanId: info.nics.find((i) => i.id === n.nicId)?.pvlanId })), copy === undefined);
  const disks = planDisks(engine, args, vm);

  // A copy is placed by Kiln at its first start, by the offering's tags like any stopped VM.
  const migrateAllowed = args.bool('migrateallowed') ?? false;
  // Its controllers and NIC adapter are kept as details (those the call gives win).
  if (copy) return { cluster, vm, owner, displayName, hostname, template, osTypeId, offering, resources, nics, disks, details: withoutResourceDetails({ ...copyDetails(info, copy), ...details }), moveAfterImport: false, migrateAllowed };
  // R48: the offering's host tags must be on the VM's host, or migrateallowed moves the VM.
  const hostTags = new Set(vm.host.host_tags.split(',').map((t) => t.trim()).filter(Boolean));
  const missing = offeringTags(offering).filter((t) => !hostTags.has(t));
  if (missing.length && !migrateAllowed) {
    throw ApiError.param(`serviceofferingid: offering ${offering.name} needs host tag ${missing.join(', ')}, which host ${vm.host.name} of VM ${info.name} lacks; pass migrateallowed=true to move the VM to a host that has it`);
  }
  // A stopped VM is not moved now: migrateallowed makes it portable (adopted-moves.ts), so its
  // first start places it on a host with the tags and carries its definition there.
  return { cluster, vm, owner, displayName, hostname, template, osTypeId, offering, resources, nics, disks, details: withoutResourceDetails(details), moveAfterImport: missing.length > 0 && info.powerState === 'Running', migrateAllowed, ...(privateVlanNics.length ? { privateVlanNics } : {}) };
}

/** R46: the VM's CPU and memory under the chosen offering. */
function offeringResources(offering: OfferingRow, info: UnmanagedVm['info'], details: Record<string, string>): ImportPlan['resources'] {
  const fixed = offering.cpu_number !== null && offering.memory !== null;
  if (fixed) {
    const differs = offering.cpu_number !== info.cpuNumber || offering.memory !== info.memoryMiB;
    if (differs && info.powerState === 'Running') {
      throw ApiError.param(`serviceofferingid: offering ${offering.name} has ${offering.cpu_number} vCPUs and ${offering.memory} MB, VM ${info.name} runs with ${info.cpuNumber} vCPUs and ${info.memoryMiB} MB; choose a matching or custom offering, or stop the VM (it is then given the offering's size at its next start)`);
    }
    return { cpuNumber: offering.cpu_number!, cpuSpeed: offering.cpu_speed ?? info.cpuSpeedMhz ?? 1000, memory: offering.memory! };
  }
  const within = (what: string, v: number, min: number | null, max: number | null) => {
    if ((min !== null && v < min) || (max !== null && v > max)) {
      throw ApiError.param(`serviceofferingid: VM ${info.name} has ${v} ${what}, outside ${min ?? '-'}..${max ?? '-'} allowed by offering ${offering.name}`);
    }
  };
  within('vCPUs', info.cpuNumber, offering.min_cpu_number, offering.max_cpu_number);
  within('MB of memory', info.memoryMiB, offering.min_memory, offering.max_memory);
  let cpuSpeed = offering.cpu_speed ?? undefined;
  if (cpuSpeed === undefined) {
    const given = details['cpuSpeed'];
    if (given !== undefined) {
      if (!/^\d+$/.test(given) || Number(given) < 1) throw ApiError.param('details[0].cpuSpeed: must be a positive integer (MHz)');
      cpuSpeed = Number(given);
    } else if (info.cpuReservationMhz && info.cpuReservationMhz > 0) {
      cpuSpeed = info.cpuReservationMhz;
    } else {
      throw ApiError.param(`details[0].cpuSpeed: offering ${offering.name} is custom unconstrained and VM ${info.name} has no CPU reservation; give cpuSpeed (MHz)`);
    }
  }
  return { cpuNumber: info.cpuNumber, cpuSpeed, memory: info.memoryMiB };
}

/** R45: each NIC to a network (explicit map, else the zone's L2/shared network of its VLAN) and its IP. */
function planNics(engine: Engine, args: Args, vm: UnmanagedVm, cluster: ClusterRow, accountId: number, macs: ReturnType<typeof knownMacs>, forced: boolean): NicPlan[] {
  const db = engine.db;
  const { info } = vm;
  const ids = new Set(info.nics.map((n) => n.id));
  const explicit = new Map<string, string>();
  for (const entry of args.map('nicnetworklist') ?? []) {
    const nic = entry['nic'];
    const network = entry['network'];
    if (!nic || !network) throw ApiError.param('nicnetworklist: each entry needs nic and network (nicnetworklist[0].nic=NIC&nicnetworklist[0].network=NETWORKID)');
    if (!ids.has(nic)) throw ApiError.param(`nicnetworklist: VM ${info.name} has no NIC ${nic} (it has ${[...ids].join(', ') || 'none'})`);
    explicit.set(nic, network);
  }
  const ips = new Map<string, string>();
  for (const entry of args.map('nicipaddresslist') ?? []) {
    const nic = entry['nic'];
    const ip = entry['ip4Address'] ?? entry['ip4address'];
    if (!nic || !ip) throw ApiError.param('nicipaddresslist: each entry needs nic and ip4Address (an IPv4 address or auto)');
    if (!ids.has(nic)) throw ApiError.param(`nicipaddresslist: VM ${info.name} has no NIC ${nic} (it has ${[...ids].join(', ') || 'none'})`);
    ips.set(nic, ip);
  }
  const usable = (n: NetworkRow) => n.zone_id === cluster.zone_id && (n.account_id === null || n.account_id === accountId);
  const taken = new Set<string>();
  return info.nics.map((nic, index) => {
    let network: NetworkRow;
    const networkUuid = explicit.get(nic.id);
    if (networkUuid) {
      network = byUuid<NetworkRow>(db, 'network', networkUuid, 'nicnetworklist');
      if (!usable(network)) throw ApiError.param(`nicnetworklist: network ${network.name} is not in the zone of cluster ${cluster.name} or not available to the account`);
      if (network.guest_type !== 'Isolated' && network.vlan !== null && nic.vlanId !== undefined && (network.vlan !== nic.vlanId || (network.isolated_pvlan ?? undefined) !== nic.pvlanId)) {
        throw ApiError.param(`nicnetworklist: NIC ${nic.id} is on ${vlanText(nic.vlanId, nic.pvlanId)}, network ${network.name} on ${vlanText(network.vlan, network.isolated_pvlan ?? undefined)}`);
      }
    } else {
      // A NIC on a private VLAN maps only to the network with the same primary and secondary VLAN,
      // and a NIC on a plain VLAN only to a network without a secondary one (R45, "PVLAN included").
      const candidates = nic.vlanId === undefined ? [] : (db.prepare(`SELECT * FROM networks WHERE zone_id=? AND removed IS NULL AND guest_type IN ('L2','Shared') AND vlan=? AND isolated_pvlan IS ? ORDER BY id`).all(cluster.zone_id, nic.vlanId, nic.pvlanId ?? null) as NetworkRow[]).filter(usable);
      if (!candidates[0]) {
        throw ApiError.param(`nicnetworklist: NIC ${nic.id} of VM ${info.name} (${nic.vlanId === undefined ? 'no VLAN' : vlanText(nic.vlanId, nic.pvlanId)}, on ${nic.networkName ?? 'an unknown network'}) matches no L2 or shared network of the zone by VLAN; map it with nicnetworklist[${index}].nic=${nic.id}&nicnetworklist[${index}].network=NETWORKID`);
      }
      network = candidates[0];
    }
    const wanted = ips.get(nic.id);
    let ip: string | null = null;
    if (wanted !== undefined && network.guest_type === 'L2') throw ApiError.param(`nicipaddresslist: NIC ${nic.id} is mapped to L2 network ${network.name}, which has no IP addresses`);
    if (wanted?.toLowerCase() === 'auto') {
      const reported = (nic.ipAddresses ?? []).filter((a) => IPV4.test(a));
      if (!info.toolsRunning && !nic.ipAddresses?.length) throw ApiError.param(`nicipaddresslist: ip4Address=auto for NIC ${nic.id} needs the guest's tools to report its IP, and VM ${info.name} reports none`);
      if (reported.length !== 1) throw ApiError.param(`nicipaddresslist: ip4Address=auto for NIC ${nic.id} needs exactly one IPv4 address from the guest, which reports ${reported.length ? reported.join(', ') : 'none'}; give the address (more can be added later with addIpToNic)`);
      ip = reported[0]!;
    } else if (wanted !== undefined) {
      if (!IPV4.test(wanted)) throw ApiError.param(`nicipaddresslist: ${wanted} for NIC ${nic.id} is not an IPv4 address (or auto)`);
      ip = wanted;
    } else if (network.guest_type !== 'L2') {
      ip = engine.vms.freeIp(network);
    }
    if (ip !== null) {
      const used = db.prepare('SELECT 1 FROM nics WHERE network_id=? AND ip4_address=? AND removed IS NULL').get(network.id, ip);
      if (used || taken.has(`${network.id}/${ip}`)) throw ApiError.param(`nicipaddresslist: ${ip} is already in use on network ${network.name}`);
      taken.add(`${network.id}/${ip}`);
    }
    const known = macs.get(nic.macAddress.toLowerCase());
    return { nicId: nic.id, mac: nic.macAddress.toLowerCase(), network, ip, ...(known && forced ? { releaseNicId: known.nicId } : {}) };
  });
}

/** R47: the root disk as it is; every data disk needs a disk offering, which never resizes it. */
function planDisks(engine: Engine, args: Args, vm: UnmanagedVm): DiskPlan[] {
  const { info } = vm;
  const data = dataDisks(info);
  const ids = new Set(data.map((d) => d.id));
  const offerings = new Map<string, DiskOfferingRow>();
  for (const entry of args.map('datadiskofferinglist') ?? []) {
    const disk = entry['disk'];
    const uuid = entry['diskOffering'] ?? entry['diskoffering'];
    if (!disk || !uuid) throw ApiError.param('datadiskofferinglist: each entry needs disk and diskOffering (datadiskofferinglist[0].disk=DISK&datadiskofferinglist[0].diskOffering=ID)');
    if (!ids.has(disk)) throw ApiError.param(`datadiskofferinglist: ${disk} is not a data disk of VM ${info.name} (its data disks: ${[...ids].join(', ') || 'none'})`);
    offerings.set(disk, byUuid<DiskOfferingRow>(engine.db, 'diskOffering', uuid, 'datadiskofferinglist'));
  }
  const root = [...info.disks].sort((a, b) => (a.position ?? 0) - (b.position ?? 0))[0]!;
  return [
    { id: root.id, type: 'ROOT' as const, size: root.capacityBytes, diskOfferingId: null },
    ...data.map((d) => {
      const offering = offerings.get(d.id);
      if (!offering) throw ApiError.param(`datadiskofferinglist: data disk ${d.id} of VM ${info.name} needs a disk offering (datadiskofferinglist[N].disk=${d.id}&datadiskofferinglist[N].diskOffering=ID)`);
      if (!offering.is_customized && offering.disk_size < d.capacityBytes) {
        throw ApiError.param(`datadiskofferinglist: disk offering ${offering.name} (${offering.disk_size} bytes) is smaller than data disk ${d.id} (${d.capacityBytes} bytes)`);
      }
      // A larger offering does not resize the disk (R47): the volume keeps the disk's own size.
      return { id: d.id, type: 'DATADISK' as const, size: d.capacityBytes, diskOfferingId: offering.id };
    }),
  ];
}

/** The NICs the driver moves onto its private-VLAN ports (plan.privateVlanNics) as the driver contract carries them. */
function privateVlanNicSpecs(plan: ImportPlan): NicSpec[] {
  return plan.nics
    .filter((n) => plan.privateVlanNics?.includes(n.nicId))
    .map(({ mac, network }) => ({ macAddress: mac, network: network.name, vlan: network.vlan ?? undefined, ...nicPrivateVlan({ network_name: network.name, ...network }) }));
}

/**
 * The job: adopt through the facet, write every row at once, then move the VM if R48 asked for it.
 * Nothing is written when adopt fails; a failed move leaves the imported VM where it runs.
 */
export function importWork(engine: Engine, caller: Caller, plan: ImportPlan): AsyncWork {
  const uuid = randomUUID();
  return {
    instanceType: 'VirtualMachine',
    instanceId: uuid,
    // One import of a hypervisor VM at a time: a second would find it managed already.
    queueKey: `import:${plan.cluster.id}:${plan.vm.info.ref}`,
    run: async (job) => {
      const session = await engine.hosts.session(plan.vm.host.id);
      // The VM as the plan listed it: the driver reads back only this VM, not the host's whole list.
      const adopted = await importFacet(session, plan.cluster).adopt(plan.vm.info.ref, plan.vm.info, privateVlanNicSpecs(plan), uuid);
      let vm = engine.vms.get(writeImported(engine, caller, plan, adopted, uuid, job.uuid));
      // Its private-VLAN ports join the zone's hosts' view (vm/private-vlan-peers.ts).
      if (onPrivateVlan(engine, vm.id)) await republishPrivateVlanPeers(engine, vm.zone_id);
      if (plan.storageMoves?.length) vm = await moveToTaggedStorage(engine, caller, vm, plan.storageMoves, { moveHost: plan.moveAfterImport, offering: plan.offering.name, jobUuid: job.uuid });
      else if (plan.moveAfterImport) {
        const outcome = migrationOutcome(engine, vm);
        if (!outcome.host) throw ApiError.capacity(`VM ${vm.display_name} was imported on host ${plan.vm.host.name}, but no other host of its cluster has offering ${plan.offering.name}'s host tags and room for it; it stays where it is`);
        vm = await migrateVm(engine, caller, vm, outcome.host, job.uuid);
      }
      const response = vmJobResult(engine, vm, caller);
      if (plan.vm.info.powerState === 'Running') response['consolenote'] = CONSOLE_NOTE;
      return response;
    },
  };
}

/**
 * Writes the imported VM, its volumes and NICs in one transaction. COPYFROM: the VM was copied in
 * from that host (importVm importsource=external); it is then no adopted definition but an
 * ordinary stopped Kiln VM on copied disks, defined from these rows at its first start like any
 * other, its disk controllers and NIC adapter kept in its details (planFor, copyDetails).
 */
export function writeImported(engine: Engine, caller: Caller, plan: ImportPlan, adopted: { ref: string; disks: { id: string; name: string; ref?: string; pool?: string }[] }, uuid: string, jobUuid: string, copyFrom?: string): number {
  const db = engine.db;
  const { info } = plan.vm;
  const running = !copyFrom && info.powerState === 'Running';
  const created = now();
  const { details } = plan;
  return db.transaction(() => {
    const template = plan.template ?? importTemplate(engine, plan.osTypeId);
    const vmId = Number(
      db.prepare(
        `INSERT INTO vm_instances (uuid, instance_name, display_name, hostname, internal_name, ref, adopted, state, account_id, user_id, domain_id, zone_id, pod_id, cluster_id,
           host_id, last_host_id, template_id, service_offering_id, os_type_id, cpu_number, cpu_speed, memory, ha_enabled, is_dynamically_scalable, hypervisor, created)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?)`,
      ).run(
        uuid, info.name, plan.displayName, plan.hostname, info.name, copyFrom ? null : adopted.ref, copyFrom ? 0 : 1, running ? 'Running' : 'Stopped', plan.owner.accountId, plan.owner.userId, plan.owner.domainId,
        plan.cluster.zone_id, plan.cluster.pod_id, plan.cluster.id, running ? plan.vm.host.id : null, plan.vm.host.id, template.id, plan.offering.id, plan.osTypeId,
        plan.resources.cpuNumber, plan.resources.cpuSpeed, plan.resources.memory, plan.offering.offer_ha, plan.cluster.hypervisor, created,
      ).lastInsertRowid,
    );
    for (const [name, value] of Object.entries(details)) db.prepare('INSERT INTO vm_details (vm_id, name, value) VALUES (?,?,?)').run(vmId, name, value);
    if (running) db.prepare(`INSERT INTO vm_details (vm_id, name, value, display) VALUES (?, 'kiln.startMemory', ?, 0)`).run(vmId, String(info.memoryMiB));
    // The instance keeps its own identity on the hypervisor: what tells it from a namesake when Kiln removes what it left (adopted-identity.ts).
    if (!copyFrom) recordAdoptedUuid(db, vmId, info.uuid);
    const byId = new Map(adopted.disks.map((d) => [d.id, d]));
    const volumeIds: number[] = [];
    plan.disks.forEach((disk, deviceId) => {
      const handle = byId.get(disk.id);
      if (!handle) throw ApiError.internal(`the driver did not report disk ${disk.id} of VM ${info.name} when taking it over`);
      const volumeUuid = randomUUID();
      const volumeId = Number(
        db.prepare('INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, path, ref, pool, disk_offering_id, template_id, state, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
          .run(volumeUuid, `${disk.type}-${vmId}${disk.type === 'DATADISK' ? `-${deviceId}` : ''}`, vmId, plan.owner.accountId, plan.cluster.zone_id, disk.type, deviceId, disk.size, handle.name, handle.ref ?? null, handle.pool ?? null, disk.diskOfferingId, disk.type === 'ROOT' ? template.id : null, 'Ready', created).lastInsertRowid,
      );
      volumeIds.push(volumeId);
      engine.events.usage({ type: 'VOLUME.CREATE', accountId: plan.owner.accountId, zoneId: plan.cluster.zone_id, resourceId: volumeId, resourceName: `${disk.type}-${vmId}`, size: disk.size });
    });
    // migrateallowed=true: the admin vouches for these disks where they are (adopted-moves.ts), until Kiln moves one.
    if (plan.migrateAllowed && !copyFrom) db.prepare(`INSERT INTO vm_details (vm_id, name, value, display) VALUES (?, ?, ?, 0)`).run(vmId, MIGRATE_ALLOWED_DETAIL, vouchFor(volumeIds));
    plan.nics.forEach((nic, deviceId) => {
      // forced=true (R43): the MAC a removed VM's kept NIC still reserved passes to this VM.
      if (nic.releaseNicId !== undefined) db.prepare(`UPDATE nics SET state='Deallocated', removed=? WHERE id=?`).run(created, nic.releaseNicId);
      db.prepare('INSERT INTO nics (uuid, vm_id, network_id, mac_address, ip4_address, device_id, is_default, state, created) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(randomUUID(), vmId, nic.network.id, nic.mac, nic.ip, deviceId, deviceId === 0 ? 1 : 0, 'Reserved', created);
      engine.events.usage({ type: 'NETWORK.OFFERING.ASSIGN', accountId: plan.owner.accountId, zoneId: plan.cluster.zone_id, resourceId: vmId, resourceName: nic.network.name });
    });
    engine.events.usage({ type: 'VM.IMPORT', accountId: plan.owner.accountId, zoneId: plan.cluster.zone_id, resourceId: vmId, resourceName: info.name, offeringId: plan.offering.id, templateId: template.id });
    engine.events.record({
      type: 'VM.IMPORT',
      description: copyFrom
        ? `VM ${plan.displayName} (${uuid}) copied from ${info.name} on ${copyFrom} (not managed by Kiln, left as it was) into the storage of host ${plan.vm.host.name}, stopped`
        : `VM ${plan.displayName} (${uuid}) imported from ${info.name} on host ${plan.vm.host.name}, ${running ? 'running' : 'stopped'}${running ? `; ${CONSOLE_NOTE}` : ''}`,
      userId: caller.userId, accountId: plan.owner.accountId, domainId: plan.owner.domainId, resourceType: 'VirtualMachine', resourceUuid: uuid, jobUuid,
    });
    // Each disk's pool record from the pool the driver named (a host's local pool binds the VM to that host at its next start).
    mapVolumes(db, [plan.cluster.id], volumeIds);
    engine.bus.emit('vm', { id: uuid, state: running ? 'Running' : 'Stopped', accountId: plan.owner.accountId });
    return vmId;
  })();
}

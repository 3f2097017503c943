/**
 * The import wizard's choices for one unmanaged VM, as pure functions: which network each NIC
 * goes to (pre-filled by VLAN, the way importUnmanagedInstance itself maps an unlisted NIC: the
 * zone's first L2 or shared network of that VLAN), which offering and disk offerings fit, what is
 * still wrong, and the importUnmanagedInstance parameters. The engine's 431 stays the last word.
 */
import type { ApiParams } from '../../../preload/api';
import type { DiskOffering, Named, ServiceOffering } from './model';

/** One NIC of a listUnmanagedInstances row. */
export interface UnmanagedNic {
  id: string;
  macaddress: string;
  networkname?: string;
  vlanid?: number;
  /** The secondary VLAN of a NIC on a private-VLAN port. */
  isolatedpvlan?: number;
  adaptertype?: string;
  ipaddress?: string[];
}

export interface UnmanagedDisk {
  id: string;
  capacity: number;
  controller?: string;
  imagepath?: string;
  position?: number;
}

/** One row of listUnmanagedInstances. */
export interface UnmanagedVm {
  name: string;
  clusterid: string;
  hostid?: string;
  osdisplayname?: string;
  powerstate?: string;
  cpunumber?: number;
  cpuspeed?: number;
  memory?: number;
  disk?: UnmanagedDisk[];
  nic?: UnmanagedNic[];
  importable: boolean;
  notimportablereason?: string[];
  /** Beside each reason, the import parameter that answers it (templateid: the OS maps onto no guest OS of Kiln's). */
  notimportableparams?: string[];
}

/** A network as listNetworks gives it (vlan is a string there). */
export interface ImportNetwork extends Named {
  type?: string;
  vlan?: string;
  /** The secondary VLAN of a private-VLAN network (a string there too). */
  isolatedpvlan?: string;
  zoneid?: string;
}

/** What the user chose for one VM. */
export interface VmChoices {
  /** Network id by NIC id. */
  nicNetworks: Record<string, string>;
  serviceofferingid: string;
  cpuSpeed: string;
  /** Disk offering id by data-disk id. */
  diskOfferings: Record<string, string>;
  /** The guest's hostname; the VM's hypervisor name to start with (the engine's default too). */
  hostname: string;
  /** The template (its OS) for a VM whose OS maps onto no guest OS of Kiln's; unset or '' for the others. */
  templateid?: string;
}

/** A template the wizard offers for a VM whose OS is unmapped (listTemplates). */
export interface ImportTemplate extends Named {
  format?: string;
  isready?: boolean;
  bootable?: boolean;
  ostypename?: string;
}

/**
 * Whether the VM is not importable as listed only because its OS maps onto no guest OS of Kiln's
 * (R49): a template answers that, so the wizard lets it be chosen and asks for one.
 */
export function needsTemplate(vm: UnmanagedVm): boolean {
  return !vm.importable && (vm.notimportableparams ?? []).length > 0 && (vm.notimportableparams ?? []).every((p) => p === 'templateid');
}

/** Whether the wizard can take the VM over: importable as listed, or once a template is chosen. */
export function canChoose(vm: UnmanagedVm): boolean {
  return vm.importable || needsTemplate(vm);
}

/**
 * The templates a VM can be given: ready, bootable ones. Not an XVA (an archive to import, not a
 * template) nor Kiln's import template (no image, not bootable: what a VM gets without one).
 */
export function templateOptions(templates: ImportTemplate[]): ImportTemplate[] {
  return templates.filter((t) => t.isready !== false && t.bootable !== false && t.format !== 'XVA');
}

/** What keeps a VM that needs a template from being imported, or undefined. */
export function templateProblem(vm: UnmanagedVm, templateid: string | undefined): string | undefined {
  if (!needsTemplate(vm) || templateid) return undefined;
  return `Choose a template for ${vm.name}: its OS "${vm.osdisplayname ?? 'unknown'}" maps onto no guest OS of Kiln's, and the template's OS becomes the VM's.`;
}

/** Whether a network has a NIC's private VLAN: the same secondary VLAN, or none on both sides (as the engine maps them). */
const samePvlan = (nic: UnmanagedNic, network: ImportNetwork) => (network.isolatedpvlan ?? '') === (nic.isolatedpvlan === undefined ? '' : String(nic.isolatedpvlan));

/** VLAN 100, or VLAN 100 (private VLAN 501). */
const vlanWords = (vlan: number | string, pvlan: number | string | undefined) => (pvlan === undefined ? `VLAN ${vlan}` : `VLAN ${vlan} (private VLAN ${pvlan})`);

/** The networks a NIC's VLAN matches: the zone's L2 and shared networks on that VLAN and private VLAN. */
export function vlanMatches(nic: UnmanagedNic, networks: ImportNetwork[]): ImportNetwork[] {
  if (nic.vlanid === undefined) return [];
  return networks.filter((n) => (n.type === 'L2' || n.type === 'Shared') && n.vlan === String(nic.vlanid) && samePvlan(nic, n));
}

/** Each NIC's network, pre-filled by VLAN; a NIC no network matches stays unset (and is flagged). */
export function prefillNicNetworks(vm: UnmanagedVm, networks: ImportNetwork[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const nic of vm.nic ?? []) {
    const match = vlanMatches(nic, networks)[0];
    if (match) out[nic.id] = match.id;
  }
  return out;
}

/**
 * What is wrong with a NIC's mapping, in words for the user, or undefined: no network chosen
 * (saying why none was pre-filled), or a non-isolated network on another VLAN (the engine refuses it).
 */
export function nicProblem(vmName: string, nic: UnmanagedNic, networkId: string | undefined, networks: ImportNetwork[]): string | undefined {
  const where = `NIC ${nic.id} of ${vmName} (${nic.vlanid === undefined ? 'no VLAN' : vlanWords(nic.vlanid, nic.isolatedpvlan)}${nic.networkname ? `, on ${nic.networkname}` : ''})`;
  if (!networkId) return `${where}: no L2 or shared network of the zone is on its VLAN; choose a network`;
  const network = networks.find((n) => n.id === networkId);
  if (network && network.type !== 'Isolated' && network.vlan !== undefined && nic.vlanid !== undefined && (network.vlan !== String(nic.vlanid) || !samePvlan(nic, network))) {
    const plain = network.isolatedpvlan === undefined && nic.isolatedpvlan === undefined;
    return `${where}: network ${network.name} is on ${vlanWords(network.vlan, network.isolatedpvlan)}, not ${plain ? nic.vlanid : vlanWords(nic.vlanid, nic.isolatedpvlan)}`;
  }
  return undefined;
}

/** The data disks: all but the root, which is the first by position (as the engine counts them). */
export function dataDisks(vm: UnmanagedVm): UnmanagedDisk[] {
  return [...(vm.disk ?? [])].sort((a, b) => (a.position ?? 0) - (b.position ?? 0)).slice(1);
}

const GiB = 1024 ** 3;

/** A disk offering can take a disk when it is custom-sized or at least as large (disksize is in GiB). */
export function diskOfferingFits(offering: DiskOffering, disk: UnmanagedDisk): boolean {
  return offering.iscustomized === true || (offering.disksize ?? 0) * GiB >= disk.capacity;
}

/** The smallest fixed offering that holds the disk, else a custom-sized one. */
export function prefillDiskOffering(disk: UnmanagedDisk, offerings: DiskOffering[]): string {
  const fixed = offerings.filter((o) => !o.iscustomized && diskOfferingFits(o, disk)).sort((a, b) => (a.disksize ?? 0) - (b.disksize ?? 0));
  return (fixed[0] ?? offerings.find((o) => o.iscustomized))?.id ?? '';
}

/** A custom offering takes the VM's own size; its bounds (serviceofferingdetails) must hold it. */
function customFits(o: ServiceOffering, vm: UnmanagedVm): boolean {
  const d = o.serviceofferingdetails ?? {};
  const inside = (v: number | undefined, min?: string, max?: string) => v === undefined || ((min === undefined || v >= Number(min)) && (max === undefined || v <= Number(max)));
  return inside(vm.cpunumber, d['mincpunumber'], d['maxcpunumber']) && inside(vm.memory, d['minmemory'], d['maxmemory']);
}

/** A fixed offering of exactly the VM's size, else a custom one that holds it. */
export function prefillOffering(vm: UnmanagedVm, offerings: ServiceOffering[]): string {
  const exact = offerings.find((o) => !o.iscustomized && o.cpunumber === vm.cpunumber && o.memory === vm.memory);
  return (exact ?? offerings.find((o) => o.iscustomized && customFits(o, vm)))?.id ?? '';
}

/** The first choices for a VM, from the lists. */
export function prefillChoices(vm: UnmanagedVm, networks: ImportNetwork[], offerings: ServiceOffering[], diskOfferings: DiskOffering[]): VmChoices {
  return {
    nicNetworks: prefillNicNetworks(vm, networks),
    serviceofferingid: prefillOffering(vm, offerings),
    cpuSpeed: vm.cpuspeed ? String(vm.cpuspeed) : '',
    diskOfferings: Object.fromEntries(dataDisks(vm).map((d) => [d.id, prefillDiskOffering(d, diskOfferings)])),
    hostname: vm.name,
  };
}

/** An offering's problems for this VM (the engine's rules: a running VM keeps its size). */
export function offeringProblems(vm: UnmanagedVm, offering: ServiceOffering | undefined, cpuSpeed: string): string[] {
  if (!offering) return [`Choose a service offering for ${vm.name}.`];
  if (!offering.iscustomized) {
    const differs = offering.cpunumber !== vm.cpunumber || offering.memory !== vm.memory;
    return differs && vm.powerstate === 'PowerOn' ? [`${vm.name} runs with ${vm.cpunumber} vCPU and ${vm.memory} MB; offering ${offering.name} has ${offering.cpunumber} vCPU and ${offering.memory} MB. Choose a matching or custom offering.`] : [];
  }
  if (!customFits(offering, vm)) return [`${vm.name} (${vm.cpunumber} vCPU, ${vm.memory} MB) is outside the bounds of offering ${offering.name}.`];
  if (offering.cpuspeed === undefined && !(/^\d+$/.test(cpuSpeed) && Number(cpuSpeed) > 0)) return [`Give the CPU speed (MHz) for ${vm.name}.`];
  return [];
}

/** importUnmanagedInstance's parameters for one VM. */
export function importParams(vm: UnmanagedVm, choices: VmChoices, offering: ServiceOffering | undefined): ApiParams {
  const params: ApiParams = { clusterid: vm.clusterid, name: vm.name, serviceofferingid: choices.serviceofferingid };
  (vm.nic ?? []).forEach((nic, i) => {
    params[`nicnetworklist[${i}].nic`] = nic.id;
    params[`nicnetworklist[${i}].network`] = choices.nicNetworks[nic.id];
  });
  dataDisks(vm).forEach((disk, i) => {
    params[`datadiskofferinglist[${i}].disk`] = disk.id;
    params[`datadiskofferinglist[${i}].diskOffering`] = choices.diskOfferings[disk.id];
  });
  if (offering?.iscustomized && offering.cpuspeed === undefined) params['details[0].cpuSpeed'] = choices.cpuSpeed;
  if (choices.hostname && choices.hostname !== vm.name) params['hostname'] = choices.hostname;
  if (choices.templateid) params['templateid'] = choices.templateid;
  return params;
}

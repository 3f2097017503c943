/**
 * What a simulated pool holds at start (§6.6, §6.8 fixtures): the pool, its hosts with metrics,
 * CPUs and a control domain each, a shared SR and the local ones, one network, the default
 * templates, the VMs a test asks for, and the GPU boards each host carries.
 */
import type { Sim } from './sim.js';
import { seedSms } from './sm.js';
import { refreshMemory } from './host.js';
import { XDate } from './wire.js';

export type Board = 'K1' | 'K2';

export interface HostFixture {
  name?: string;
  memoryGiB?: number;
  cpus?: number;
  /** GRID boards in this host: a K1 is 4 pGPUs, a K2 is 2 (§2.4). */
  gpus?: Board[];
  enabled?: boolean;
}

export interface VmFixture {
  name: string;
  /** Index of the host it runs on when Running (default 0). */
  host?: number;
  power_state?: 'Halted' | 'Running' | 'Paused' | 'Suspended';
  memoryMiB?: number;
  vcpus?: number;
  vcpusMax?: number;
  /** Guest tools (PV drivers) report in once it runs; default true. */
  tools?: boolean;
  template?: boolean;
  /** A vGPU of this model ("GRID K140Q", "passthrough" …), in the group that supports it. */
  vgpu?: string;
}

export interface Fixture {
  username?: string;
  password?: string;
  product?: 'XenServer' | 'XCP-ng';
  /** A number of default hosts, or each host (default 2 hosts, no GPUs). */
  hosts?: number | HostFixture[];
  vms?: VmFixture[];
  /** PCI records carry vendor_id/device_id (a newer xapi); off, they are absent as on 8.x (§2.2). */
  pciIds?: boolean;
  taskDelayMs?: number;
  eventTimeoutClampS?: number;
  /** Serve plain HTTP (for unit tests) instead of HTTPS. */
  http?: boolean;
  /** The SM type of the pool's shared default SR: `nfs` (default; resizes only disks not in use) or `rbd` (Ceph; VDI_RESIZE_ONLINE). */
  sharedSrType?: 'nfs' | 'rbd';
  /** A shared ISO library (an NFS ISO SR, type iso) in the pool, as an admin adds one with SR.create. */
  isoLibrary?: boolean;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function hostFixtures(f: Fixture): HostFixture[] {
  if (Array.isArray(f.hosts)) return f.hosts;
  return Array.from({ length: f.hosts ?? 2 }, () => ({}));
}

/** The address the simulator gives host i: each host listens on its own loopback address (same port). */
export function hostAddress(i: number): string {
  return `127.0.0.${i + 1}`;
}

/** xapi's overhead for a VM: about 1/128 of static_max plus 1 MiB per vCPU (shadow memory and the device model). */
export function vmOverhead(staticMax: number, vcpusMax: number): number {
  return Math.ceil(staticMax / 128 / MiB) * MiB + vcpusMax * MiB;
}

export interface VmSpec {
  name_label: string;
  memory: number;
  vcpus: number;
  vcpusMax?: number;
  template?: boolean;
  defaultTemplate?: boolean;
  controlDomainOf?: string;
  tools?: boolean;
  other_config?: Record<string, string>;
}

/** A new Halted VM record (or a template), with its metrics object; disks and VIFs are added by the caller. */
export function createVm(sim: Sim, spec: VmSpec): string {
  const { store } = sim;
  const vcpusMax = spec.vcpusMax ?? spec.vcpus;
  const metrics = store.create('VM_metrics', { VCPUs_number: 0, memory_actual: 0, state: [], hvm: true, current_domain_type: 'hvm' });
  const ref = store.create('VM', {
    name_label: spec.name_label,
    power_state: 'Halted',
    is_a_template: spec.template ?? false,
    is_default_template: spec.defaultTemplate ?? false,
    is_control_domain: spec.controlDomainOf !== undefined,
    memory_static_min: Math.min(spec.memory, 256 * MiB),
    memory_static_max: spec.memory,
    memory_dynamic_min: spec.memory,
    memory_dynamic_max: spec.memory,
    memory_target: 0,
    memory_overhead: vmOverhead(spec.memory, vcpusMax),
    VCPUs_max: vcpusMax,
    VCPUs_at_startup: spec.vcpus,
    HVM_boot_policy: spec.controlDomainOf ? '' : 'BIOS order',
    HVM_boot_params: spec.controlDomainOf ? {} : { order: 'cd' },
    platform: spec.controlDomainOf ? {} : { acpi: '1', apic: 'true', pae: 'true', nx: 'true', viridian: 'false', 'device-model': 'qemu-upstream-compat' },
    domain_type: spec.controlDomainOf ? 'pv' : 'hvm',
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    domid: -1,
    metrics,
    other_config: spec.other_config ?? {},
    user_version: 1,
    hardware_platform_version: 0,
  }, { tools: spec.tools ?? true });
  return ref;
}

/** A VM's system disk on `sr` (a VDI and the VBD that plugs it in as device 0). */
export function addDisk(sim: Sim, vm: string, sr: string, size: number, name: string): string {
  const { store } = sim;
  const vdi = store.create('VDI', { name_label: name, SR: sr, virtual_size: size, physical_utilisation: Math.floor(size / 10), type: 'system', managed: true, location: '', on_boot: 'persist', allow_caching: false });
  store.addToSet('SR', sr, 'VDIs', vdi);
  refreshSr(sim, sr);
  const vbd = store.create('VBD', { VM: vm, VDI: vdi, userdevice: '0', device: '', bootable: true, mode: 'RW', type: 'Disk', unpluggable: false, empty: false, allowed_operations: ['attach'] });
  store.addToSet('VDI', vdi, 'VBDs', vbd);
  store.addToSet('VM', vm, 'VBDs', vbd);
  return vbd;
}

/** An SR's virtual_allocation and physical_utilisation are the sums over its VDIs. */
export function refreshSr(sim: Sim, sr: string): void {
  const vdis = (sim.store.rec('SR', sr)['VDIs'] as string[]).map((v) => sim.store.rec('VDI', v));
  sim.store.update('SR', sr, {
    virtual_allocation: vdis.reduce((n, v) => n + (v['virtual_size'] as number), 0),
    physical_utilisation: vdis.reduce((n, v) => n + (v['physical_utilisation'] as number), 0),
  });
}

export function addVif(sim: Sim, vm: string, network: string, device = '0'): string {
  const { store } = sim;
  const mac = `02:${Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`;
  const vif = store.create('VIF', { VM: vm, network, device, MAC: mac, MTU: 1500, MAC_autogenerated: true, locking_mode: 'network_default', ipv4_configuration_mode: 'None', ipv6_configuration_mode: 'None' });
  store.addToSet('VM', vm, 'VIFs', vif);
  store.addToSet('network', network, 'VIFs', vif);
  return vif;
}

export interface Seeded {
  hosts: string[];
  sharedSr: string;
  network: string;
}

/** What seedPool made, read back from the store (for objects added at run time). */
export function seededOf(sim: Sim): Seeded {
  return { hosts: sim.store.all('host').map((h) => h.ref), sharedSr: sim.store.rec('pool', sim.pool)['default_SR'] as string, network: sim.store.all('network')[0]!.ref };
}

/** A currently attached PBD of SR on HOST (xapi: PBD.create + PBD.plug). */
export function plugSr(sim: Sim, sr: string, host: string, deviceConfig: Record<string, string>): string {
  const pbd = sim.store.create('PBD', { host, SR: sr, device_config: deviceConfig, currently_attached: true });
  sim.store.addToSet('SR', sr, 'PBDs', pbd);
  sim.store.addToSet('host', host, 'PBDs', pbd);
  return pbd;
}

/** The hosts from which SR is reachable: those with a currently attached PBD of it. */
export function hostsSeeing(sim: Sim, sr: string): string[] {
  return (sim.store.rec('SR', sr)['PBDs'] as string[]).map((p) => sim.store.rec('PBD', p)).filter((p) => p['currently_attached'] === true).map((p) => p['host'] as string);
}

/** One host with its metrics, CPUs, local SR and control domain (also added at run time by the control API). */
export function addHost(sim: Sim, hf: HostFixture, i: number, product: 'XenServer' | 'XCP-ng'): string {
  const { store } = sim;
  const cpus = hf.cpus ?? 16;
  const memory = (hf.memoryGiB ?? 64) * GiB;
  const metrics = store.create('host_metrics', { memory_total: memory, memory_free: memory, live: true, last_updated: new XDate(new Date()) });
  const name = hf.name ?? `xs-host-${i + 1}`;
  const host = store.create('host', {
    name_label: name, hostname: name, address: hostAddress(i), enabled: hf.enabled ?? true, metrics,
    memory_overhead: 256 * MiB,
    cpu_info: {
      cpu_count: String(cpus), socket_count: String(Math.max(1, cpus / 8)), threads_per_core: '2', nr_nodes: '1', vendor: 'GenuineIntel', speed: '2600.000',
      modelname: 'Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz', family: '6', model: '45', stepping: '7', flags: 'fpu de tsc msr pae mce cx8 apic sep mtrr', features_hvm: '17bee3ff-bfebfbff-00000001-2c100800',
    },
    software_version: { product_brand: product, product_version: '8.2.1', xapi: '1.20', platform_name: 'XCP', platform_version: '3.2.1', build_number: 'release/yangtze/master/58', hostname: name },
    API_version_major: 2, API_version_minor: 21, API_version_vendor: 'XenSource', edition: product === 'XCP-ng' ? 'xcp-ng' : 'free',
    capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_64'], allowed_operations: ['vm_start', 'vm_resume', 'vm_migrate', 'provision', 'evacuate', 'reboot', 'shutdown'],
    sched_policy: 'credit', display: 'enabled',
  });
  for (let n = 0; n < cpus; n++) {
    const cpu = store.create('host_cpu', { host, number: n, vendor: 'GenuineIntel', speed: 2600, modelname: 'Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz', family: 6, model: 45, stepping: '7' });
    store.addToSet('host', host, 'host_CPUs', cpu);
  }
  // Its local SR (LVHD on its own disk, as the installer makes it): shared=false and one PBD, on
  // this host; every shared SR of the pool gets a PBD here too (xapi plugs them on a pool join).
  const local = store.create('SR', { name_label: `Local storage on ${name}`, type: 'lvm', content_type: 'user', shared: false, physical_size: 500 * GiB, other_config: { i18n_key: 'local-storage' }, allowed_operations: ['vdi_create', 'vdi_destroy', 'scan'] });
  plugSr(sim, local, host, { device: '/dev/sda3' });
  for (const sr of store.all('SR').filter((s) => s.rec['shared'] === true)) plugSr(sim, sr.ref, host, {});
  // The control domain: Running on its host, 1 GiB, never to be managed by a client.
  const dom0 = createVm(sim, { name_label: `Control domain on host: ${name}`, memory: 1 * GiB, vcpus: 4, controlDomainOf: host });
  store.update('VM', dom0, { power_state: 'Running', resident_on: host, domid: 0, memory_target: 1 * GiB });
  store.update('VM_metrics', store.rec('VM', dom0)['metrics'] as string, { VCPUs_number: 4, memory_actual: 1 * GiB, start_time: new XDate(new Date()) });
  store.update('host', host, { control_domain: dom0, resident_VMs: [dom0] });
  return host;
}

export function seedPool(sim: Sim, f: Fixture): Seeded {
  const { store } = sim;
  const product = f.product ?? 'XenServer';
  const network = store.create('network', { name_label: 'Pool-wide network associated with eth0', bridge: 'xenbr0', MTU: 1500, managed: true, default_locking_mode: 'unlocked', other_config: { automatic: 'true' } });
  seedSms(sim);
  const rbd = f.sharedSrType === 'rbd';
  const sharedSr = store.create('SR', { name_label: rbd ? 'Ceph RBD virtual disk storage' : 'NFS virtual disk storage', type: rbd ? 'rbd' : 'nfs', content_type: 'user', shared: true, physical_size: 2048 * GiB, allowed_operations: ['vdi_create', 'vdi_destroy', 'scan'] });
  // An NFS ISO library: ISOSR (type iso, content_type iso); sm_config iso_type as ISOSR.create sets it.
  if (f.isoLibrary) store.create('SR', { name_label: 'ISO library', type: 'iso', content_type: 'iso', shared: true, physical_size: 256 * GiB, sm_config: { iso_type: 'nfs_iso' }, allowed_operations: ['vdi_create', 'vdi_destroy', 'scan'] });
  const hosts = hostFixtures(f).map((hf, i) => addHost(sim, hf, i, product));
  store.create('pool', { name_label: 'xapi-sim pool', master: hosts[0], default_SR: sharedSr, suspend_image_SR: sharedSr, crash_dump_SR: sharedSr, other_config: {} });
  for (const name of ['Debian Bookworm 12', 'Other install media']) {
    createVm(sim, { name_label: name, memory: 1 * GiB, vcpus: 1, template: true, defaultTemplate: true, other_config: { default_template: 'true' } });
  }
  refreshMemory(sim);
  return { hosts, sharedSr, network };
}

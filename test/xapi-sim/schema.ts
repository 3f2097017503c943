/**
 * The classes the simulator models and their public fields (xenapi.md Appendix A, widened with
 * the datamodel's other common fields so clients that destructure whole records do not break).
 * A field spec is `<kind>[ rw]`: the kind gives the datamodel default, `rw` gives it a setter
 * (and, for maps and sets, add_to_/remove_from_ or add_/remove_), as xapi's RW qualifier does.
 */
import { NULL_REF, XDate, XFloat } from './wire.js';

export type FieldKind = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'ref' | 'set' | 'map' | `enum:${string}`;
export interface FieldSpec {
  kind: FieldKind;
  rw: boolean;
}

type ClassSpec = Record<string, string>;

const VM: ClassSpec = {
  uuid: 'string', name_label: 'string rw', name_description: 'string rw', user_version: 'int rw',
  power_state: 'enum:Halted|Paused|Running|Suspended', allowed_operations: 'set', current_operations: 'map',
  is_a_template: 'bool rw', is_default_template: 'bool', is_control_domain: 'bool', is_a_snapshot: 'bool',
  snapshot_of: 'ref', snapshots: 'set', snapshot_time: 'datetime', transportable_snapshot_id: 'string', snapshot_info: 'map', snapshot_metadata: 'string',
  parent: 'ref', children: 'set', resident_on: 'ref', scheduled_to_be_resident_on: 'ref', affinity: 'ref rw',
  memory_overhead: 'int', memory_target: 'int', memory_static_max: 'int', memory_dynamic_max: 'int', memory_dynamic_min: 'int', memory_static_min: 'int',
  VCPUs_params: 'map rw', VCPUs_max: 'int', VCPUs_at_startup: 'int',
  actions_after_shutdown: 'enum:destroy|restart rw', actions_after_reboot: 'enum:restart|destroy rw', actions_after_crash: 'enum:restart|destroy|preserve|coredump_and_destroy|coredump_and_restart|rename_restart rw',
  consoles: 'set', VIFs: 'set', VBDs: 'set', VUSBs: 'set', crash_dumps: 'set', VTPMs: 'set', VGPUs: 'set', attached_PCIs: 'set',
  PV_bootloader: 'string rw', PV_kernel: 'string rw', PV_ramdisk: 'string rw', PV_args: 'string rw', PV_bootloader_args: 'string rw', PV_legacy_args: 'string rw',
  HVM_boot_policy: 'string rw', HVM_boot_params: 'map rw', HVM_shadow_multiplier: 'float',
  platform: 'map rw', PCI_bus: 'string rw', other_config: 'map rw', domid: 'int', domarch: 'string', last_boot_CPU_flags: 'map',
  metrics: 'ref', guest_metrics: 'ref', last_booted_record: 'string', recommendations: 'string rw', xenstore_data: 'map rw',
  ha_always_run: 'bool rw', ha_restart_priority: 'string rw', tags: 'set rw', blocked_operations: 'map rw',
  suspend_VDI: 'ref', suspend_SR: 'ref rw', version: 'int', generation_id: 'string', hardware_platform_version: 'int rw',
  has_vendor_device: 'bool rw', requires_reboot: 'bool', reference_label: 'string', domain_type: 'enum:hvm|pv|pv_in_pvh|pvh|unspecified rw',
  NVRAM: 'map', appliance: 'ref rw', start_delay: 'int', shutdown_delay: 'int', order: 'int', bios_strings: 'map',
  protection_policy: 'ref', is_snapshot_from_vmpp: 'bool', snapshot_schedule: 'ref', is_vmss_snapshot: 'bool', blobs: 'map',
};

export const SCHEMA: Record<string, ClassSpec> = {
  pool: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', master: 'ref', default_SR: 'ref rw', suspend_image_SR: 'ref rw', crash_dump_SR: 'ref rw',
    other_config: 'map rw', ha_enabled: 'bool', ha_configuration: 'map', ha_statefiles: 'set', ha_host_failures_to_tolerate: 'int', ha_plan_exists_for: 'int',
    ha_allow_overcommit: 'bool rw', ha_overcommitted: 'bool', blobs: 'map', tags: 'set rw', gui_config: 'map rw', health_check_config: 'map rw',
    wlb_url: 'string', wlb_username: 'string', wlb_enabled: 'bool rw', wlb_verify_cert: 'bool rw', redo_log_enabled: 'bool', redo_log_vdi: 'ref',
    vswitch_controller: 'string', restrictions: 'map', metadata_VDIs: 'set', ha_cluster_stack: 'string', allowed_operations: 'set', current_operations: 'map',
    guest_agent_config: 'map', cpu_info: 'map', policy_no_vendor_device: 'bool rw', live_patching_disabled: 'bool rw', igmp_snooping_enabled: 'bool',
    uefi_certificates: 'string', is_psr_pending: 'bool', tls_verification_enabled: 'bool', repositories: 'set', client_certificate_auth_enabled: 'bool',
    client_certificate_auth_name: 'string', repository_proxy_url: 'string', repository_proxy_username: 'string', repository_proxy_password: 'ref',
    migration_compression: 'bool rw', coordinator_bias: 'bool rw', limit_console_sessions: 'bool rw',
  },
  host: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', memory_overhead: 'int', allowed_operations: 'set', current_operations: 'map',
    API_version_major: 'int', API_version_minor: 'int', API_version_vendor: 'string', API_version_vendor_implementation: 'map', enabled: 'bool',
    software_version: 'map', other_config: 'map rw', capabilities: 'set', cpu_configuration: 'map', sched_policy: 'string', supported_bootloaders: 'set',
    resident_VMs: 'set', logging: 'map rw', PIFs: 'set', suspend_image_sr: 'ref rw', crash_dump_sr: 'ref rw', crashdumps: 'set', patches: 'set', updates: 'set',
    PBDs: 'set', host_CPUs: 'set', cpu_info: 'map', hostname: 'string', address: 'string', metrics: 'ref', license_params: 'map', ha_statefiles: 'set',
    ha_network_peers: 'set', blobs: 'map', tags: 'set rw', external_auth_type: 'string', external_auth_service_name: 'string', external_auth_configuration: 'map',
    edition: 'string', license_server: 'map rw', bios_strings: 'map', power_on_mode: 'string', power_on_config: 'map', local_cache_sr: 'ref',
    chipset_info: 'map', PCIs: 'set', PGPUs: 'set', PUSBs: 'set', ssl_legacy: 'bool', guest_VCPUs_params: 'map rw', display: 'enum:enabled|disable_on_reboot|disabled|enable_on_reboot',
    virtual_hardware_platform_versions: 'set', control_domain: 'ref', updates_requiring_reboot: 'set', features: 'set', iscsi_iqn: 'string', multipathing: 'bool',
    uefi_certificates: 'string', certificates: 'set', editions: 'set', pending_guidances: 'set', tls_verification_enabled: 'bool', last_software_update: 'datetime',
    https_only: 'bool', latest_synced_updates_applied: 'enum:yes|no|unknown',
  },
  host_metrics: { uuid: 'string', memory_total: 'int', memory_free: 'int', live: 'bool', last_updated: 'datetime', other_config: 'map rw' },
  host_cpu: { uuid: 'string', host: 'ref', number: 'int', vendor: 'string', speed: 'int', modelname: 'string', family: 'int', model: 'int', stepping: 'string', flags: 'string', features: 'string', utilisation: 'float', other_config: 'map rw' },
  VM,
  VM_metrics: {
    uuid: 'string', memory_actual: 'int', VCPUs_number: 'int', VCPUs_utilisation: 'map', VCPUs_CPU: 'map', VCPUs_params: 'map', VCPUs_flags: 'map', state: 'set',
    start_time: 'datetime', install_time: 'datetime', last_updated: 'datetime', other_config: 'map rw', hvm: 'bool', nested_virt: 'bool', nomigrate: 'bool',
    current_domain_type: 'enum:hvm|pv|pv_in_pvh|pvh|unspecified',
  },
  VM_guest_metrics: {
    uuid: 'string', os_version: 'map', PV_drivers_version: 'map', PV_drivers_up_to_date: 'bool', memory: 'map', disks: 'map', networks: 'map', other: 'map',
    last_updated: 'datetime', other_config: 'map rw', live: 'bool', can_use_hotplug_vbd: 'enum:yes|no|unspecified', can_use_hotplug_vif: 'enum:yes|no|unspecified', PV_drivers_detected: 'bool',
  },
  console: { uuid: 'string', protocol: 'enum:vt100|rfb|rdp', location: 'string', VM: 'ref', other_config: 'map rw' },
  task: {
    uuid: 'string', name_label: 'string', name_description: 'string', allowed_operations: 'set', current_operations: 'map', created: 'datetime', finished: 'datetime',
    status: 'enum:pending|success|failure|cancelling|cancelled', resident_on: 'ref', progress: 'float', type: 'string', result: 'string', error_info: 'set',
    other_config: 'map rw', subtask_of: 'ref', subtasks: 'set', backtrace: 'string',
  },
  GPU_group: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', PGPUs: 'set', VGPUs: 'set', GPU_types: 'set', other_config: 'map rw',
    allocation_algorithm: 'enum:depth_first|breadth_first rw', supported_VGPU_types: 'set', enabled_VGPU_types: 'set',
  },
  PGPU: {
    uuid: 'string', PCI: 'ref', GPU_group: 'ref', host: 'ref', other_config: 'map rw', supported_VGPU_types: 'set', enabled_VGPU_types: 'set', resident_VGPUs: 'set',
    supported_VGPU_max_capacities: 'map', dom0_access: 'enum:enabled|disable_on_reboot|disabled|enable_on_reboot', is_system_display_device: 'bool', compatibility_metadata: 'map',
  },
  VGPU: {
    uuid: 'string', VM: 'ref', GPU_group: 'ref', device: 'string', currently_attached: 'bool', other_config: 'map rw', type: 'ref', resident_on: 'ref',
    scheduled_to_be_resident_on: 'ref', compatibility_metadata: 'map', extra_args: 'string rw', PCI: 'ref',
  },
  VGPU_type: {
    uuid: 'string', vendor_name: 'string', model_name: 'string', framebuffer_size: 'int', max_heads: 'int', max_resolution_x: 'int', max_resolution_y: 'int',
    supported_on_PGPUs: 'set', enabled_on_PGPUs: 'set', VGPUs: 'set', supported_on_GPU_groups: 'set', enabled_on_GPU_groups: 'set',
    implementation: 'enum:passthrough|nvidia|nvidia_sriov|gvt_g|mxgpu', identifier: 'string', experimental: 'bool', compatible_types_in_vm: 'set',
  },
  PCI: {
    uuid: 'string', class_name: 'string', vendor_name: 'string', device_name: 'string', host: 'ref', pci_id: 'string', dependencies: 'set', other_config: 'map rw',
    subsystem_vendor_name: 'string', subsystem_device_name: 'string', driver_name: 'string',
  },
  SR: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', allowed_operations: 'set', current_operations: 'map', VDIs: 'set', PBDs: 'set',
    virtual_allocation: 'int', physical_utilisation: 'int', physical_size: 'int', type: 'string', content_type: 'string', shared: 'bool', other_config: 'map rw',
    tags: 'set rw', sm_config: 'map', blobs: 'map', local_cache_enabled: 'bool', introduced_by: 'ref', clustered: 'bool', is_tools_sr: 'bool',
  },
  // An SR's connection to one host: a shared SR has one per host of the pool, a local SR (an lvm
  // or ext SR on a host's own disk) only one, which is what makes it reachable from that host alone.
  PBD: {
    uuid: 'string', host: 'ref', SR: 'ref', device_config: 'map', currently_attached: 'bool', other_config: 'map rw',
  },
  // The storage-manager driver behind SRs of its type; its `features` (name → version) decide which
  // VDI operations xapi allows (xapi_vdi.ml check_sm_feature_error, smint.ml).
  SM: {
    uuid: 'string', name_label: 'string', name_description: 'string', type: 'string', vendor: 'string', copyright: 'string', version: 'string',
    required_api_version: 'string', configuration: 'map', capabilities: 'set', features: 'map', other_config: 'map rw', driver_filename: 'string',
    required_cluster_stack: 'set',
  },
  VDI: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', allowed_operations: 'set', current_operations: 'map', SR: 'ref', VBDs: 'set',
    crash_dumps: 'set', virtual_size: 'int', physical_utilisation: 'int', type: 'enum:system|user|ephemeral|suspend|crashdump|ha_statefile|metadata|redo_log|rrd|pvs_cache|cbt_metadata',
    sharable: 'bool', read_only: 'bool', other_config: 'map rw', storage_lock: 'bool', location: 'string', managed: 'bool', missing: 'bool', parent: 'ref',
    xenstore_data: 'map', sm_config: 'map', is_a_snapshot: 'bool', snapshot_of: 'ref', snapshots: 'set', snapshot_time: 'datetime', tags: 'set rw',
    allow_caching: 'bool', on_boot: 'enum:reset|persist', metadata_of_pool: 'ref', metadata_latest: 'bool', is_tools_iso: 'bool', cbt_enabled: 'bool',
  },
  VBD: {
    uuid: 'string', allowed_operations: 'set', current_operations: 'map', VM: 'ref', VDI: 'ref', device: 'string', userdevice: 'string rw', bootable: 'bool rw',
    mode: 'enum:RW|RO', type: 'enum:Disk|CD|Floppy', unpluggable: 'bool rw', storage_lock: 'bool', empty: 'bool', other_config: 'map rw', currently_attached: 'bool',
    status_code: 'int', status_detail: 'string', runtime_properties: 'map', qos_algorithm_type: 'string rw', qos_algorithm_params: 'map rw',
    qos_supported_algorithms: 'set', metrics: 'ref',
  },
  VIF: {
    uuid: 'string', allowed_operations: 'set', current_operations: 'map', device: 'string', network: 'ref', VM: 'ref', MAC: 'string', MTU: 'int',
    other_config: 'map rw', currently_attached: 'bool', status_code: 'int', status_detail: 'string', runtime_properties: 'map', qos_algorithm_type: 'string rw',
    qos_algorithm_params: 'map rw', qos_supported_algorithms: 'set', metrics: 'ref', MAC_autogenerated: 'bool', locking_mode: 'enum:network_default|locked|unlocked|disabled',
    ipv4_allowed: 'set', ipv6_allowed: 'set', ipv4_configuration_mode: 'enum:None|Static', ipv4_addresses: 'set', ipv4_gateway: 'string',
    ipv6_configuration_mode: 'enum:None|Static', ipv6_addresses: 'set', ipv6_gateway: 'string', reserved_pci: 'ref',
  },
  network: {
    uuid: 'string', name_label: 'string rw', name_description: 'string rw', allowed_operations: 'set', current_operations: 'map', VIFs: 'set', PIFs: 'set',
    MTU: 'int rw', other_config: 'map rw', bridge: 'string', managed: 'bool', blobs: 'map', tags: 'set rw', default_locking_mode: 'enum:unlocked|disabled',
    assigned_ips: 'map', purpose: 'set',
  },
};

const parsed = new Map<string, Map<string, FieldSpec>>();
for (const [cls, spec] of Object.entries(SCHEMA)) {
  const fields = new Map<string, FieldSpec>();
  for (const [name, text] of Object.entries(spec)) {
    const [kind, rw] = text.split(' ');
    fields.set(name, { kind: kind as FieldKind, rw: rw === 'rw' });
  }
  parsed.set(cls, fields);
}

export const CLASSES = [...parsed.keys()];

export function fieldsOf(cls: string): Map<string, FieldSpec> {
  const f = parsed.get(cls);
  if (!f) throw new Error(`no class ${cls}`);
  return f;
}

export function defaultOf(spec: FieldSpec): unknown {
  switch (spec.kind) {
    case 'string': return '';
    case 'int': return 0;
    case 'float': return new XFloat(0);
    case 'bool': return false;
    case 'datetime': return XDate.EPOCH;
    case 'ref': return NULL_REF;
    case 'set': return [];
    case 'map': return {};
    default: return spec.kind.slice('enum:'.length).split('|')[0];
  }
}

export function enumValues(spec: FieldSpec): string[] | undefined {
  return spec.kind.startsWith('enum:') ? spec.kind.slice('enum:'.length).split('|') : undefined;
}

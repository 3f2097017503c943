/**
 * The xapi records the driver reads, typed from the datamodel (xenapi.md Appendix A, generated
 * from xen-api's doc/data/xenapi.json). Only the fields Kiln uses are declared; a record on the
 * wire carries every public field. READ_FIELDS lists them per class at run time, so a unit test
 * holds each against Appendix A (test/xenserver/datamodel.test.ts): a field not there is either
 * a typo or one of the few named in that test as real xapi fields the extract leaves out.
 */

/** OpaqueRef:<uuid>; "OpaqueRef:NULL" is the null reference. */
export type XRef = string;
export const NULL_REF = 'OpaqueRef:NULL';
export const isNullRef = (ref: string | undefined | null): boolean => !ref || ref === NULL_REF;

/** xapi's datetime on the wire: YYYYMMDDTHH:MM:SSZ (no hyphens). */
export type XDateTime = string;

export type VmPowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended';

export interface PoolRecord {
  uuid: string;
  name_label: string;
  master: XRef;
  other_config: Record<string, string>;
  /** Pool HA is on (xapi restarts protected VMs of a failed host itself). Real field; not in the Appendix A extract. */
  ha_enabled?: boolean;
  /** The pool's default SR (where new disks and Kiln's images go). Real field; not in the Appendix A extract. */
  default_SR?: XRef;
}

export interface HostRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  address: string;
  hostname: string;
  enabled: boolean;
  memory_overhead: number;
  metrics: XRef;
  cpu_info: Record<string, string>;
  PGPUs: XRef[];
  PCIs: XRef[];
  resident_VMs: XRef[];
  software_version: Record<string, string>;
  API_version_major: number;
  API_version_minor: number;
  other_config: Record<string, string>;
  control_domain: XRef;
}

export interface HostMetricsRecord {
  memory_total: number;
  memory_free: number;
  live: boolean;
}

export interface VmRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  power_state: VmPowerState;
  allowed_operations: string[];
  current_operations: Record<string, string>;
  is_a_template: boolean;
  is_default_template: boolean;
  is_control_domain: boolean;
  is_a_snapshot: boolean;
  snapshot_of: XRef;
  snapshots: XRef[];
  snapshot_time: XDateTime;
  parent: XRef;
  children: XRef[];
  resident_on: XRef;
  affinity: XRef;
  memory_static_max: number;
  memory_static_min: number;
  memory_dynamic_max: number;
  memory_dynamic_min: number;
  memory_target: number;
  VCPUs_max: number;
  VCPUs_at_startup: number;
  consoles: XRef[];
  VBDs: XRef[];
  VIFs: XRef[];
  VGPUs: XRef[];
  other_config: Record<string, string>;
  metrics: XRef;
  guest_metrics: XRef;
  domid: number;
  tags: string[];
  /** "restart" | "best-effort" | "": what pool HA does when the VM's host fails. Real field; not in the Appendix A extract. */
  ha_restart_priority?: string;
}

export interface VmMetricsRecord {
  memory_actual: number;
  VCPUs_number: number;
}

export interface ConsoleRecord {
  uuid: string;
  protocol: 'vt100' | 'rfb' | 'rdp';
  location: string;
  VM: XRef;
}

export type TaskStatus = 'pending' | 'success' | 'failure' | 'cancelling' | 'cancelled';

export interface TaskRecord {
  uuid: string;
  name_label: string;
  status: TaskStatus;
  progress: number;
  /** An XML-RPC value fragment ("<value>OpaqueRef:…</value>") or "" for void calls, on every transport. */
  result: string;
  error_info: string[];
  created: XDateTime;
  finished: XDateTime;
  allowed_operations: string[];
}

export interface GpuGroupRecord {
  uuid: string;
  name_label: string;
  PGPUs: XRef[];
  VGPUs: XRef[];
  GPU_types: string[];
  allocation_algorithm: 'breadth_first' | 'depth_first';
  supported_VGPU_types: XRef[];
  enabled_VGPU_types: XRef[];
}

export interface PgpuRecord {
  uuid: string;
  PCI: XRef;
  GPU_group: XRef;
  host: XRef;
  supported_VGPU_types: XRef[];
  enabled_VGPU_types: XRef[];
  resident_VGPUs: XRef[];
  supported_VGPU_max_capacities: Record<XRef, number>;
}

export interface VgpuRecord {
  uuid: string;
  VM: XRef;
  GPU_group: XRef;
  device: string;
  currently_attached: boolean;
  type: XRef;
  resident_on: XRef;
}

export interface VgpuTypeRecord {
  uuid: string;
  vendor_name: string;
  model_name: string;
  framebuffer_size: number;
  max_heads: number;
  max_resolution_x: number;
  max_resolution_y: number;
  implementation: string;
}

export interface PciRecord {
  uuid: string;
  class_name: string;
  vendor_name: string;
  device_name: string;
  host: XRef;
  pci_id: string;
}

/** Storage, disks and networks: xapi classes outside the Appendix A extract (the simulator stubs them, §6.3). */
export interface SrRecord {
  uuid: string;
  name_label: string;
  type: string;
  physical_size: number;
  physical_utilisation: number;
  shared: boolean;
  content_type?: string;
  /** The read-only SR of the guest-tools ISOs xapi makes itself. */
  is_tools_sr?: boolean;
}

/** An SR's connection to one host: plugged (currently_attached) on every host for a shared SR, on its one host for a local SR. */
export interface PbdRecord {
  uuid: string;
  host: XRef;
  SR: XRef;
  currently_attached: boolean;
}

/** The storage-manager driver of SRs of its `type`; `features` (name → version) say which VDI operations xapi allows there (xapi_vdi.ml). */
export interface SmRecord {
  uuid: string;
  type: string;
  features: Record<string, number>;
}

export interface VbdRecord {
  uuid: string;
  VM: XRef;
  VDI: XRef;
  type: 'Disk' | 'CD' | 'Floppy';
  userdevice: string;
  /** A CD drive without a medium. */
  empty: boolean;
  currently_attached: boolean;
  bootable?: boolean;
  mode?: 'RW' | 'RO';
}

export interface VdiRecord {
  uuid: string;
  name_label: string;
  SR: XRef;
  virtual_size: number;
  VBDs: XRef[];
  other_config: Record<string, string>;
  is_a_snapshot: boolean;
}

export interface VifRecord {
  uuid: string;
  VM: XRef;
  network: XRef;
  device: string;
  MAC: string;
  currently_attached: boolean;
}

export interface NetworkRecord {
  uuid: string;
  name_label: string;
  bridge: string;
  other_config: Record<string, string>;
}

export interface VmGuestMetricsRecord {
  PV_drivers_detected?: boolean;
  PV_drivers_version?: Record<string, string>;
}

/** Class name (datamodel spelling) → its record type. */
export interface XapiRecords {
  pool: PoolRecord;
  host: HostRecord;
  host_metrics: HostMetricsRecord;
  VM: VmRecord;
  VM_metrics: VmMetricsRecord;
  VM_guest_metrics: VmGuestMetricsRecord;
  console: ConsoleRecord;
  task: TaskRecord;
  GPU_group: GpuGroupRecord;
  PGPU: PgpuRecord;
  VGPU: VgpuRecord;
  VGPU_type: VgpuTypeRecord;
  PCI: PciRecord;
  SR: SrRecord;
  PBD: PbdRecord;
  SM: SmRecord;
  VBD: VbdRecord;
  VDI: VdiRecord;
  VIF: VifRecord;
  network: NetworkRecord;
}
export type XapiClass = keyof XapiRecords;

/** Every field the driver reads, per class (checked against Appendix A by a unit test). */
export const READ_FIELDS: { [C in XapiClass]: (keyof XapiRecords[C])[] } = {
  pool: ['uuid', 'name_label', 'master', 'other_config', 'ha_enabled', 'default_SR'],
  host: ['uuid', 'name_label', 'name_description', 'address', 'hostname', 'enabled', 'memory_overhead', 'metrics', 'cpu_info', 'PGPUs', 'PCIs', 'resident_VMs', 'software_version', 'API_version_major', 'API_version_minor', 'other_config', 'control_domain'],
  host_metrics: ['memory_total', 'memory_free', 'live'],
  VM: ['uuid', 'name_label', 'name_description', 'power_state', 'allowed_operations', 'current_operations', 'is_a_template', 'is_default_template', 'is_control_domain', 'is_a_snapshot', 'snapshot_of', 'snapshots', 'snapshot_time', 'parent', 'children', 'resident_on', 'affinity', 'memory_static_max', 'memory_static_min', 'memory_dynamic_max', 'memory_dynamic_min', 'memory_target', 'VCPUs_max', 'VCPUs_at_startup', 'consoles', 'VBDs', 'VIFs', 'VGPUs', 'other_config', 'metrics', 'guest_metrics', 'domid', 'tags', 'ha_restart_priority'],
  VM_metrics: ['memory_actual', 'VCPUs_number'],
  VM_guest_metrics: ['PV_drivers_detected', 'PV_drivers_version'],
  console: ['uuid', 'protocol', 'location', 'VM'],
  task: ['uuid', 'name_label', 'status', 'progress', 'result', 'error_info', 'created', 'finished', 'allowed_operations'],
  GPU_group: ['uuid', 'name_label', 'PGPUs', 'VGPUs', 'GPU_types', 'allocation_algorithm', 'supported_VGPU_types', 'enabled_VGPU_types'],
  PGPU: ['uuid', 'PCI', 'GPU_group', 'host', 'supported_VGPU_types', 'enabled_VGPU_types', 'resident_VGPUs', 'supported_VGPU_max_capacities'],
  VGPU: ['uuid', 'VM', 'GPU_group', 'device', 'currently_attached', 'type', 'resident_on'],
  VGPU_type: ['uuid', 'vendor_name', 'model_name', 'framebuffer_size', 'max_heads', 'max_resolution_x', 'max_resolution_y', 'implementation'],
  PCI: ['uuid', 'class_name', 'vendor_name', 'device_name', 'host', 'pci_id'],
  SR: ['uuid', 'name_label', 'type', 'physical_size', 'physical_utilisation', 'shared', 'content_type', 'is_tools_sr'],
  PBD: ['uuid', 'host', 'SR', 'currently_attached'],
  SM: ['uuid', 'type', 'features'],
  VBD: ['uuid', 'VM', 'VDI', 'type', 'userdevice', 'empty', 'currently_attached', 'bootable', 'mode'],
  VDI: ['uuid', 'name_label', 'SR', 'virtual_size', 'VBDs', 'other_config', 'is_a_snapshot'],
  VIF: ['uuid', 'VM', 'network', 'device', 'MAC', 'currently_attached'],
  network: ['uuid', 'name_label', 'bridge', 'other_config'],
};

/** Datetime on the wire (20250319T04:16:24Z) → ISO 8601; "" or the epoch stays as given. */
export function isoOfXapiDate(d: XDateTime | undefined): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(d ?? '');
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}Z` : (d ?? '');
}

/** Row shapes of the VM-related tables, as better-sqlite3 returns them. */
import type { VmState } from './states.js';

export interface VmRow {
  id: number;
  uuid: string;
  instance_name: string;
  display_name: string;
  hostname: string;
  internal_name: string;
  /** The hypervisor's ref of the VM (DefineResult.ref); NULL before its first define (migration 13). */
  ref: string | null;
  state: VmState;
  account_id: number;
  user_id: number;
  domain_id: number;
  zone_id: number;
  pod_id: number | null;
  cluster_id: number | null;
  host_id: number | null;
  last_host_id: number | null;
  template_id: number | null;
  iso_id: number | null;
  service_offering_id: number;
  os_type_id: number;
  cpu_number: number;
  cpu_speed: number;
  memory: number;
  ha_enabled: number;
  is_dynamically_scalable: number;
  vm_group: string | null;
  user_data: string | null;
  hypervisor: string;
  created: string;
  removed: string | null;
  destroyed_at: string | null;
  update_count: number;
  /** Migration 23: 1 for a VM imported from the hypervisor, whose definition there Kiln keeps. */
  adopted?: number;
}

export interface TemplateRow {
  id: number;
  uuid: string;
  name: string;
  display_text: string;
  format: string;
  hypervisor: string;
  is_iso: number;
  os_type_id: number;
  is_public: number;
  is_featured: number;
  bootable: number;
  is_dynamically_scalable: number;
  password_enabled: number;
  size: number;
  url: string | null;
  image_path: string | null;
  details: string;
  account_id: number;
  zone_id: number | null;
  state: string;
  created: string;
  /** Migration 9: the download into the zone's image store (CloudStack's template_store_ref). */
  download_state: 'NOT_DOWNLOADED' | 'DOWNLOAD_IN_PROGRESS' | 'DOWNLOADED' | 'DOWNLOAD_ERROR';
  download_percent: number;
  status: string | null;
  checksum: string | null;
  /** The downloaded file in the image store (absent for host paths and the simulator's seed images). */
  store_path: string | null;
  sha256: string | null;
  physical_size: number | null;
  /** Migration 20: an appliance's descriptor as its driver read it (drivers/appliance.ts ApplianceDescriptor, JSON); NULL for other templates. */
  deploy_as_is?: string | null;
}

export interface OfferingRow {
  id: number;
  uuid: string;
  name: string;
  display_text: string;
  cpu_number: number | null;
  cpu_speed: number | null;
  memory: number | null;
  min_cpu_number: number | null;
  max_cpu_number: number | null;
  min_memory: number | null;
  max_memory: number | null;
  host_tags: string;
  /** CloudStack's storagetags: the root disk's pool must have them (migration 36). */
  storage_tags: string;
  offer_ha: number;
  dynamic_scaling_enabled: number;
  limit_cpu_use: number;
  storage_type: string;
  root_disk_size: number | null;
  volatile_vm: number;
  details: string;
  is_system: number;
  created: string;
}

export interface DiskOfferingRow {
  id: number;
  uuid: string;
  name: string;
  display_text: string;
  disk_size: number;
  is_customized: number;
  storage_type: string;
  tags: string;
  created: string;
}

export interface NetworkRow {
  id: number;
  uuid: string;
  name: string;
  display_text: string;
  zone_id: number;
  guest_type: 'L2' | 'Shared' | 'Isolated';
  vlan: number | null;
  /** The secondary VLAN of a private VLAN (migration 35), with its type. */
  isolated_pvlan?: number | null;
  isolated_pvlan_type?: string | null;
  cidr: string | null;
  gateway: string | null;
  netmask: string | null;
  start_ip: string | null;
  end_ip: string | null;
  account_id: number | null;
  domain_id: number | null;
  acl_type: string;
  state: string;
  created: string;
}

export interface VolumeRow {
  id: number;
  uuid: string;
  name: string;
  /** The hypervisor's ref of the disk, when its driver gives disks their own (DefineResult.disks). */
  ref: string | null;
  vm_id: number | null;
  account_id: number;
  zone_id: number;
  volume_type: 'ROOT' | 'DATADISK';
  device_id: number;
  size: number;
  path: string | null;
  disk_offering_id: number | null;
  template_id: number | null;
  pool: string | null;
  state: string;
  created: string;
  removed: string | null;
}

export interface NicRow {
  id: number;
  uuid: string;
  vm_id: number | null;
  network_id: number;
  mac_address: string;
  ip4_address: string | null;
  device_id: number;
  is_default: number;
  state: string;
  created: string;
  removed: string | null;
}

/**
 * How the driver addresses a VM: its stored ref, else (rows from before refs, and VMs not yet
 * defined) its internal name, which is the ref on drivers whose names are unique (KVM, simulator).
 */
export function vmRef(vm: Pick<VmRow, 'ref' | 'internal_name'>): string {
  return vm.ref ?? vm.internal_name;
}

/** A VM's details as its define spec carries them to the driver (the shown ones; Kiln's own internal keys stay out). */
export function vmSpecDetails(db: { prepare(sql: string): { all(...args: unknown[]): unknown[] } }, vmId: number): Record<string, string> {
  return Object.fromEntries((db.prepare('SELECT name, value FROM vm_details WHERE vm_id=? AND display=1').all(vmId) as { name: string; value: string }[]).map((d) => [d.name, d.value]));
}

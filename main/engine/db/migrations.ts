/**
 * Numbered schema migrations. Each runs once, in order, inside a transaction; `PRAGMA user_version`
 * records the last one applied. Never edit a migration that has shipped: add the next number.
 *
 * Every user-visible row has an integer `id` (used in internal names such as i-2-7-VM) and a
 * `uuid` (what the API shows), as CloudStack does.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE domains (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  parent_id INTEGER REFERENCES domains(id), path TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  role TEXT NOT NULL CHECK (role IN ('Admin','DomainAdmin','User')),
  state TEXT NOT NULL DEFAULT 'enabled', created TEXT NOT NULL, removed TEXT,
  UNIQUE (domain_id, name)
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, username TEXT NOT NULL UNIQUE,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  firstname TEXT, lastname TEXT, email TEXT,
  password_hash TEXT, api_key TEXT UNIQUE, secret_key_enc TEXT,
  state TEXT NOT NULL DEFAULT 'enabled', created TEXT NOT NULL, removed TEXT
);

CREATE TABLE guest_os_categories (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE);
CREATE TABLE guest_os (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, category_id INTEGER NOT NULL REFERENCES guest_os_categories(id),
  display_name TEXT NOT NULL UNIQUE, is_64bit INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE zones (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
  network_type TEXT NOT NULL DEFAULT 'Advanced', allocation_state TEXT NOT NULL DEFAULT 'Enabled',
  dns1 TEXT, internal_dns1 TEXT, created TEXT NOT NULL, removed TEXT
);
CREATE TABLE pods (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, zone_id INTEGER NOT NULL REFERENCES zones(id),
  gateway TEXT, netmask TEXT, start_ip TEXT, end_ip TEXT, allocation_state TEXT NOT NULL DEFAULT 'Enabled',
  created TEXT NOT NULL, removed TEXT, UNIQUE (zone_id, name)
);
CREATE TABLE clusters (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  pod_id INTEGER NOT NULL REFERENCES pods(id), zone_id INTEGER NOT NULL REFERENCES zones(id),
  hypervisor TEXT NOT NULL CHECK (hypervisor IN ('Simulator','KVM','VMware','XenServer')),
  allocation_state TEXT NOT NULL DEFAULT 'Enabled', managed_state TEXT NOT NULL DEFAULT 'Managed',
  created TEXT NOT NULL, removed TEXT, UNIQUE (pod_id, name)
);
CREATE TABLE hosts (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  zone_id INTEGER NOT NULL REFERENCES zones(id), pod_id INTEGER NOT NULL REFERENCES pods(id),
  cluster_id INTEGER NOT NULL REFERENCES clusters(id),
  hypervisor TEXT NOT NULL, url TEXT NOT NULL, username TEXT, secret_enc TEXT,
  host_key_fingerprint TEXT,
  state TEXT NOT NULL DEFAULT 'Connecting' CHECK (state IN ('Connecting','Up','Down','Disconnected','Alert','Error','Maintenance')),
  resource_state TEXT NOT NULL DEFAULT 'Enabled',
  host_tags TEXT NOT NULL DEFAULT '',
  os_category_id INTEGER REFERENCES guest_os_categories(id),
  cpu_sockets INTEGER NOT NULL DEFAULT 1, cpu_number INTEGER NOT NULL DEFAULT 0, cpu_speed INTEGER NOT NULL DEFAULT 0,
  memory_total INTEGER NOT NULL DEFAULT 0, memory_free INTEGER NOT NULL DEFAULT 0,
  hypervisor_version TEXT, last_error TEXT, last_pinged TEXT,
  created TEXT NOT NULL, removed TEXT
);

CREATE TABLE templates (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, display_text TEXT NOT NULL,
  format TEXT NOT NULL, hypervisor TEXT NOT NULL, is_iso INTEGER NOT NULL DEFAULT 0,
  os_type_id INTEGER NOT NULL REFERENCES guest_os(id),
  is_public INTEGER NOT NULL DEFAULT 1, is_featured INTEGER NOT NULL DEFAULT 0, bootable INTEGER NOT NULL DEFAULT 1,
  is_dynamically_scalable INTEGER NOT NULL DEFAULT 0, password_enabled INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0, url TEXT, image_path TEXT,
  details TEXT NOT NULL DEFAULT '{}',
  account_id INTEGER NOT NULL REFERENCES accounts(id), zone_id INTEGER REFERENCES zones(id),
  state TEXT NOT NULL DEFAULT 'Active', created TEXT NOT NULL, removed TEXT
);

CREATE TABLE service_offerings (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, display_text TEXT NOT NULL,
  cpu_number INTEGER, cpu_speed INTEGER, memory INTEGER,
  min_cpu_number INTEGER, max_cpu_number INTEGER, min_memory INTEGER, max_memory INTEGER,
  host_tags TEXT NOT NULL DEFAULT '', offer_ha INTEGER NOT NULL DEFAULT 0,
  dynamic_scaling_enabled INTEGER NOT NULL DEFAULT 1, limit_cpu_use INTEGER NOT NULL DEFAULT 0,
  storage_type TEXT NOT NULL DEFAULT 'shared', root_disk_size INTEGER,
  volatile_vm INTEGER NOT NULL DEFAULT 0,
  details TEXT NOT NULL DEFAULT '{}',
  is_system INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'Active', created TEXT NOT NULL, removed TEXT
);
CREATE TABLE disk_offerings (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, display_text TEXT NOT NULL,
  disk_size INTEGER NOT NULL DEFAULT 0, is_customized INTEGER NOT NULL DEFAULT 0,
  storage_type TEXT NOT NULL DEFAULT 'shared', tags TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'Active', created TEXT NOT NULL, removed TEXT
);

CREATE TABLE networks (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, display_text TEXT NOT NULL,
  zone_id INTEGER NOT NULL REFERENCES zones(id),
  guest_type TEXT NOT NULL CHECK (guest_type IN ('L2','Shared','Isolated')),
  vlan INTEGER, cidr TEXT, gateway TEXT, netmask TEXT, start_ip TEXT, end_ip TEXT,
  account_id INTEGER REFERENCES accounts(id), domain_id INTEGER REFERENCES domains(id),
  acl_type TEXT NOT NULL DEFAULT 'Domain', state TEXT NOT NULL DEFAULT 'Implemented',
  created TEXT NOT NULL, removed TEXT
);

CREATE TABLE vm_instances (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  instance_name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL, hostname TEXT NOT NULL, internal_name TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  account_id INTEGER NOT NULL REFERENCES accounts(id), user_id INTEGER NOT NULL REFERENCES users(id),
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  zone_id INTEGER NOT NULL REFERENCES zones(id), pod_id INTEGER REFERENCES pods(id),
  cluster_id INTEGER REFERENCES clusters(id),
  host_id INTEGER REFERENCES hosts(id), last_host_id INTEGER REFERENCES hosts(id),
  template_id INTEGER REFERENCES templates(id), iso_id INTEGER REFERENCES templates(id),
  service_offering_id INTEGER NOT NULL REFERENCES service_offerings(id),
  os_type_id INTEGER NOT NULL REFERENCES guest_os(id),
  cpu_number INTEGER NOT NULL, cpu_speed INTEGER NOT NULL, memory INTEGER NOT NULL,
  ha_enabled INTEGER NOT NULL DEFAULT 0, is_dynamically_scalable INTEGER NOT NULL DEFAULT 0,
  vm_group TEXT, user_data TEXT, hypervisor TEXT NOT NULL,
  created TEXT NOT NULL, removed TEXT, destroyed_at TEXT, update_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vm_instances_state ON vm_instances(state);
CREATE INDEX vm_instances_account ON vm_instances(account_id);
CREATE TABLE vm_details (
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id) ON DELETE CASCADE,
  name TEXT NOT NULL, value TEXT NOT NULL, display INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (vm_id, name)
);

CREATE TABLE nics (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  vm_id INTEGER REFERENCES vm_instances(id), network_id INTEGER NOT NULL REFERENCES networks(id),
  mac_address TEXT NOT NULL, ip4_address TEXT, device_id INTEGER NOT NULL DEFAULT 0,
  is_default INTEGER NOT NULL DEFAULT 1, state TEXT NOT NULL DEFAULT 'Allocated',
  created TEXT NOT NULL, removed TEXT
);
-- A MAC or an IP is unique among NICs that still exist; expunge frees them by setting removed.
CREATE UNIQUE INDEX nics_mac_live ON nics(mac_address) WHERE removed IS NULL;
CREATE UNIQUE INDEX nics_ip_live ON nics(network_id, ip4_address) WHERE removed IS NULL AND ip4_address IS NOT NULL;

CREATE TABLE volumes (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  vm_id INTEGER REFERENCES vm_instances(id), account_id INTEGER NOT NULL REFERENCES accounts(id),
  zone_id INTEGER NOT NULL REFERENCES zones(id),
  volume_type TEXT NOT NULL CHECK (volume_type IN ('ROOT','DATADISK')),
  device_id INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL, path TEXT,
  disk_offering_id INTEGER REFERENCES disk_offerings(id), template_id INTEGER REFERENCES templates(id),
  pool TEXT, state TEXT NOT NULL DEFAULT 'Allocated', created TEXT NOT NULL, removed TEXT
);

CREATE TABLE affinity_groups (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT,
  type TEXT NOT NULL, account_id INTEGER NOT NULL REFERENCES accounts(id),
  domain_id INTEGER NOT NULL REFERENCES domains(id), created TEXT NOT NULL,
  UNIQUE (account_id, name)
);
CREATE TABLE affinity_group_vms (
  group_id INTEGER NOT NULL REFERENCES affinity_groups(id) ON DELETE CASCADE,
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, vm_id)
);

CREATE TABLE async_jobs (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  user_id INTEGER REFERENCES users(id), account_id INTEGER REFERENCES accounts(id),
  cmd TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
  status INTEGER NOT NULL DEFAULT 0, proc_status INTEGER NOT NULL DEFAULT 0,
  result_code INTEGER NOT NULL DEFAULT 0, result_type TEXT NOT NULL DEFAULT 'object', result TEXT,
  instance_type TEXT, instance_uuid TEXT,
  owner TEXT NOT NULL, created TEXT NOT NULL, completed TEXT
);
CREATE INDEX async_jobs_status ON async_jobs(status);

CREATE TABLE events (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'Completed', level TEXT NOT NULL DEFAULT 'INFO', description TEXT NOT NULL,
  user_id INTEGER, account_id INTEGER, domain_id INTEGER,
  resource_type TEXT, resource_uuid TEXT, job_uuid TEXT, created TEXT NOT NULL
);
CREATE INDEX events_created ON events(created);
CREATE TABLE usage_events (
  id INTEGER PRIMARY KEY, type TEXT NOT NULL, account_id INTEGER, zone_id INTEGER,
  resource_id INTEGER, resource_name TEXT, offering_id INTEGER, template_id INTEGER, size INTEGER,
  created TEXT NOT NULL
);

CREATE TABLE configuration (
  name TEXT NOT NULL, scope TEXT NOT NULL DEFAULT 'global', scope_id INTEGER NOT NULL DEFAULT 0,
  value TEXT NOT NULL, updated TEXT NOT NULL,
  PRIMARY KEY (name, scope, scope_id)
);

CREATE TABLE sessions (
  key TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), created TEXT NOT NULL, expires TEXT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'placement: overcommit, host GPUs, cluster headroom',
    sql: `
CREATE INDEX vm_instances_host_state ON vm_instances(host_id, state);
CREATE TABLE host_gpus (
  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  group_name TEXT NOT NULL, vgpu_type TEXT NOT NULL,
  max_capacity INTEGER NOT NULL, remaining_capacity INTEGER NOT NULL,
  video_ram INTEGER, max_heads INTEGER, max_resolution_x INTEGER, max_resolution_y INTEGER,
  PRIMARY KEY (host_id, group_name, vgpu_type)
);
ALTER TABLE clusters ADD COLUMN has_headroom INTEGER;
`,
  },
  {
    version: 3,
    name: 'host usage kept by triggers',
    // Placement reads every candidate host's allocated CPU and memory. Aggregating vm_instances
    // each time costs ~10 ms at 20,000 VMs, so triggers keep the totals current instead (the
    // role of CloudStack's op_host_capacity), and no code path can forget to update them.
    sql: `
CREATE TABLE host_usage (host_id INTEGER PRIMARY KEY, cpu_mhz INTEGER NOT NULL DEFAULT 0, memory INTEGER NOT NULL DEFAULT 0, vms INTEGER NOT NULL DEFAULT 0);
INSERT INTO host_usage (host_id, cpu_mhz, memory, vms)
  SELECT host_id, SUM(cpu_number*cpu_speed), SUM(memory), COUNT(*) FROM vm_instances
  WHERE host_id IS NOT NULL AND state IN ('Starting','Running','Stopping','Migrating','Unknown') GROUP BY host_id;
CREATE TRIGGER vm_usage_insert AFTER INSERT ON vm_instances
  WHEN NEW.host_id IS NOT NULL AND NEW.state IN ('Starting','Running','Stopping','Migrating','Unknown')
BEGIN
  INSERT INTO host_usage (host_id, cpu_mhz, memory, vms) VALUES (NEW.host_id, NEW.cpu_number*NEW.cpu_speed, NEW.memory, 1)
    ON CONFLICT(host_id) DO UPDATE SET cpu_mhz=cpu_mhz+excluded.cpu_mhz, memory=memory+excluded.memory, vms=vms+1;
END;
CREATE TRIGGER vm_usage_delete AFTER DELETE ON vm_instances
  WHEN OLD.host_id IS NOT NULL AND OLD.state IN ('Starting','Running','Stopping','Migrating','Unknown')
BEGIN
  UPDATE host_usage SET cpu_mhz=cpu_mhz-OLD.cpu_number*OLD.cpu_speed, memory=memory-OLD.memory, vms=vms-1 WHERE host_id=OLD.host_id;
END;
CREATE TRIGGER vm_usage_update_old AFTER UPDATE OF state, host_id, cpu_number, cpu_speed, memory ON vm_instances
  WHEN OLD.host_id IS NOT NULL AND OLD.state IN ('Starting','Running','Stopping','Migrating','Unknown')
BEGIN
  UPDATE host_usage SET cpu_mhz=cpu_mhz-OLD.cpu_number*OLD.cpu_speed, memory=memory-OLD.memory, vms=vms-1 WHERE host_id=OLD.host_id;
END;
CREATE TRIGGER vm_usage_update_new AFTER UPDATE OF state, host_id, cpu_number, cpu_speed, memory ON vm_instances
  WHEN NEW.host_id IS NOT NULL AND NEW.state IN ('Starting','Running','Stopping','Migrating','Unknown')
BEGIN
  INSERT INTO host_usage (host_id, cpu_mhz, memory, vms) VALUES (NEW.host_id, NEW.cpu_number*NEW.cpu_speed, NEW.memory, 1)
    ON CONFLICT(host_id) DO UPDATE SET cpu_mhz=cpu_mhz+excluded.cpu_mhz, memory=memory+excluded.memory, vms=vms+1;
END;
`,
  },
  {
    version: 4,
    name: 'per-host driver options',
    sql: `ALTER TABLE hosts ADD COLUMN options TEXT NOT NULL DEFAULT '{}';`,
  },
  {
    version: 5,
    name: 'VM snapshots',
    sql: `
-- One row per VM snapshot (R32-R36). name is what the hypervisor calls it; parent_id and
-- is_current mirror the hypervisor's tree so the list answers without asking the host.
CREATE TABLE vm_snapshots (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id),
  name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL, description TEXT,
  type TEXT NOT NULL CHECK (type IN ('Disk','DiskAndMemory')),
  state TEXT NOT NULL CHECK (state IN ('Allocated','Creating','Ready','Reverting','Expunging','Error','Removed')),
  parent_id INTEGER REFERENCES vm_snapshots(id),
  is_current INTEGER NOT NULL DEFAULT 0,
  service_offering_id INTEGER NOT NULL REFERENCES service_offerings(id),
  cpu_number INTEGER NOT NULL, cpu_speed INTEGER NOT NULL, memory INTEGER NOT NULL,
  account_id INTEGER NOT NULL REFERENCES accounts(id), domain_id INTEGER NOT NULL REFERENCES domains(id),
  zone_id INTEGER NOT NULL REFERENCES zones(id),
  created TEXT NOT NULL, removed TEXT
);
CREATE INDEX vm_snapshots_vm ON vm_snapshots(vm_id) WHERE removed IS NULL;
`,
  },
  {
    version: 6,
    name: 'indexes for per-VM lookups',
    // listVirtualMachines reads each VM's NICs, volumes and affinity groups; without these
    // every lookup scans its table (10,000 VMs: 8.9 s -> 0.37 s).
    sql: `
CREATE INDEX nics_vm ON nics(vm_id);
CREATE INDEX volumes_vm ON volumes(vm_id);
CREATE INDEX affinity_group_vms_vm ON affinity_group_vms(vm_id);
`,
  },
  {
    version: 7,
    name: 'VM snapshot metadata',
    // The hypervisor's record of each snapshot, so a VM that starts on another host (HA, an
    // admin's hostid) takes its snapshots along: its disks are on shared storage, the records are not.
    sql: `ALTER TABLE vm_snapshots ADD COLUMN metadata TEXT;`,
  },
  {
    version: 8,
    name: 'CloudStack names for the overprovisioning factors',
    // Kiln called them cpu/mem.overcommit.ratio; CloudStack's cluster-scoped names win, values kept.
    sql: `
UPDATE configuration SET name='cpu.overprovisioning.factor' WHERE name='cpu.overcommit.ratio';
UPDATE configuration SET name='mem.overprovisioning.factor' WHERE name='mem.overcommit.ratio';
`,
  },
  {
    version: 12,
    name: 'hypervisor capabilities (maxguestslimit)',
    // CloudStack's hypervisor_capabilities rows: one per driver, its declared default kept beside
    // the admin's override (NULL: the driver's default), so a driver's new default applies unless overridden.
    sql: `
CREATE TABLE IF NOT EXISTS hypervisor_capabilities (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  hypervisor TEXT NOT NULL, hypervisor_version TEXT NOT NULL DEFAULT 'default',
  default_max_guests_limit INTEGER NOT NULL, max_guests_limit INTEGER,
  UNIQUE (hypervisor, hypervisor_version)
);
`,
  },
  {
    version: 9,
    name: 'template downloads into the zone image store',
    // Users register images by http(s) URL now; Kiln downloads them (CloudStack's template_store_ref
    // state, percent and status). Rows that exist are ready, as they were. A host path or a
    // kernel/initrd detail a non-admin account registered before only the root admin could is
    // made Inactive: it let any user have a host open any file for a guest.
    sql: `
ALTER TABLE templates ADD COLUMN download_state TEXT NOT NULL DEFAULT 'DOWNLOADED'
  CHECK (download_state IN ('NOT_DOWNLOADED','DOWNLOAD_IN_PROGRESS','DOWNLOADED','DOWNLOAD_ERROR'));
ALTER TABLE templates ADD COLUMN download_percent INTEGER NOT NULL DEFAULT 100;
ALTER TABLE templates ADD COLUMN status TEXT;
ALTER TABLE templates ADD COLUMN checksum TEXT;
ALTER TABLE templates ADD COLUMN store_path TEXT;
ALTER TABLE templates ADD COLUMN sha256 TEXT;
ALTER TABLE templates ADD COLUMN physical_size INTEGER;
UPDATE templates SET state='Inactive', status='Inactive: registered by a non-admin account with a host path or kernel/initrd detail; register it again by http(s) URL'
  WHERE removed IS NULL AND account_id IN (SELECT id FROM accounts WHERE role <> 'Admin')
    AND (image_path LIKE '/%' OR json_extract(details, '$.kernel') IS NOT NULL OR json_extract(details, '$.initrd') IS NOT NULL OR json_extract(details, '$.kernelArgs') IS NOT NULL);
`,
  },
  {
    version: 10,
    name: 'session keys kept only as hashes; failed login count per user',
    // A session key in the database was a live credential for anyone who could read the file.
    // Only its SHA-256 is kept now; the plain keys of earlier sessions are dropped (their users
    // log in again). login_attempts is CloudStack's user.incorrect_login_attempts.
    sql: `
DROP TABLE sessions;
CREATE TABLE sessions (
  key_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), created TEXT NOT NULL, expires TEXT NOT NULL
);
ALTER TABLE users ADD COLUMN login_attempts INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 11,
    name: 'host cleanups owed after a destroy or expunge the host did not hear',
    // A VM in Error can always be destroyed and expunged; what its unreachable host still has to
    // remove (a definition, disks) is kept here until the host answers (vm/host-cleanups.ts).
    sql: `
CREATE TABLE host_cleanups (
  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id), vm_id INTEGER REFERENCES vm_instances(id),
  domain TEXT, disks TEXT NOT NULL DEFAULT '[]', reason TEXT NOT NULL, created TEXT NOT NULL
);
CREATE INDEX host_cleanups_host ON host_cleanups(host_id);
`,
  },
  {
    version: 13,
    name: 'hypervisor refs and one trust model',
    // Issue 11: the driver contract addresses objects by the hypervisor's own ref (libvirt name,
    // MoRef, OpaqueRef); rows from before keep NULL and are addressed by name (on KVM the same).
    // A job stores the hypervisor task it waits on, to reattach after a restart. Trust is an
    // anchor of a kind (SSH host key or TLS certificate); the SSH pins move over, the old column stays.
    sql: `
ALTER TABLE vm_instances ADD COLUMN ref TEXT;
ALTER TABLE volumes ADD COLUMN ref TEXT;
ALTER TABLE vm_snapshots ADD COLUMN ref TEXT;
ALTER TABLE networks ADD COLUMN ref TEXT;
ALTER TABLE hosts ADD COLUMN ref TEXT;
ALTER TABLE hosts ADD COLUMN trust_kind TEXT CHECK (trust_kind IN ('ssh-host-key','tls-certificate'));
ALTER TABLE hosts ADD COLUMN trust_fingerprint TEXT;
UPDATE hosts SET trust_kind='ssh-host-key', trust_fingerprint=host_key_fingerprint WHERE host_key_fingerprint IS NOT NULL;
ALTER TABLE async_jobs ADD COLUMN hypervisor_task_ref TEXT;
`,
  },
  {
    version: 14,
    name: "a host's capabilities as it last reported them",
    // The driver's capabilities refined by the host, and the facets its session offers, as JSON;
    // listHosts publishes them so the UI gates actions by capability, not by hypervisor name.
    sql: `ALTER TABLE hosts ADD COLUMN capabilities TEXT;`,
  },
  {
    version: 16,
    name: 'resource tags, SSH key pairs and the public keys each VM was given',
    // resource_tags is CloudStack's: a tag belongs to the resource's owner account, one value per
    // key per resource. vm_ssh_keys keeps the public keys a VM was deployed or reset with (as
    // CloudStack copies them into the VM's details), so deleting a key pair does not change what
    // the metadata service and config drive hand the guest. Private keys are never stored.
    // The triggers drop a resource's tags when it is removed, as CloudStack does on expunge.
    sql: `
CREATE TABLE resource_tags (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, key TEXT NOT NULL, value TEXT NOT NULL,
  resource_type TEXT NOT NULL, resource_id INTEGER NOT NULL, resource_uuid TEXT NOT NULL,
  account_id INTEGER NOT NULL REFERENCES accounts(id), domain_id INTEGER NOT NULL REFERENCES domains(id),
  customer TEXT, created TEXT NOT NULL,
  UNIQUE (resource_type, resource_id, key)
);
CREATE INDEX resource_tags_key ON resource_tags(resource_type, key, value);
CREATE TABLE ssh_keypairs (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, fingerprint TEXT NOT NULL,
  public_key TEXT NOT NULL, account_id INTEGER NOT NULL REFERENCES accounts(id),
  domain_id INTEGER NOT NULL REFERENCES domains(id), created TEXT NOT NULL,
  UNIQUE (account_id, name)
);
CREATE TABLE vm_ssh_keys (
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id) ON DELETE CASCADE, position INTEGER NOT NULL,
  keypair_name TEXT NOT NULL, public_key TEXT NOT NULL,
  PRIMARY KEY (vm_id, position)
);
CREATE TRIGGER resource_tags_vm_removed AFTER UPDATE OF removed ON vm_instances WHEN NEW.removed IS NOT NULL
BEGIN DELETE FROM resource_tags WHERE resource_type='UserVm' AND resource_id=NEW.id; END;
CREATE TRIGGER resource_tags_snapshot_removed AFTER UPDATE OF removed ON vm_snapshots WHEN NEW.removed IS NOT NULL
BEGIN DELETE FROM resource_tags WHERE resource_type='VMSnapshot' AND resource_id=NEW.id; END;
CREATE TRIGGER resource_tags_volume_removed AFTER UPDATE OF removed ON volumes WHEN NEW.removed IS NOT NULL
BEGIN DELETE FROM resource_tags WHERE resource_type='Volume' AND resource_id=NEW.id; END;
CREATE TRIGGER resource_tags_template_removed AFTER UPDATE OF removed ON templates WHEN NEW.removed IS NOT NULL
BEGIN DELETE FROM resource_tags WHERE resource_type IN ('Template','ISO') AND resource_id=NEW.id; END;
`,
  },
  {
    version: 17,
    name: "a network's user-data provider",
    // CloudStack picks a network's UserData service provider from its offering: ConfigDrive or
    // VirtualRouter (the metadata HTTP service). NULL: the zone's kiln.userdata.provider, else
    // ConfigDrive on L2 and VirtualRouter on others (metadata/provider.ts).
    sql: `ALTER TABLE networks ADD COLUMN userdata_provider TEXT CHECK (userdata_provider IN ('ConfigDrive','VirtualRouter'));`,
  },
  {
    version: 23,
    name: 'VMs taken over from the hypervisor (importUnmanagedInstance)',
    // 1: the VM was made outside Kiln and imported; its definition on the hypervisor is the source
    // of truth for disks, NICs and controllers, so every start keeps it (VmSpec.keepDefinition)
    // instead of rebuilding the VM from these rows.
    sql: `ALTER TABLE vm_instances ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 20,
    name: "an appliance template's descriptor",
    // R37: what an appliance template (an OVA on VMware) offers at deploy (deployment options,
    // properties, networks, EULAs), read by its driver when the download completes; CloudStack
    // keeps the same in template_deploy_as_is_details. NULL for every other template.
    sql: `ALTER TABLE templates ADD COLUMN deploy_as_is TEXT;`,
  },
  {
    version: 25,
    name: 'backups: offerings, the VMs assigned to them, backups and their schedules',
    // CloudStack's backup framework (R53–R58). An offering is imported from the zone's provider
    // (external_id is the provider's id). A VM's assignment lives in its own table, so nothing
    // here depends on another change to vm_instances. A backup names its parent when it is an
    // incremental (the provider's chain); `volumes` is JSON, one entry per backed-up volume, as
    // CloudStack keeps backup_volumes. A schedule keeps its next run (scheduled_at, UTC) and its
    // last: a desktop app is often closed, and a run missed meanwhile runs once at the next start.
    sql: `
CREATE TABLE backup_offerings (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT NOT NULL,
  external_id TEXT NOT NULL, provider TEXT NOT NULL, zone_id INTEGER NOT NULL REFERENCES zones(id),
  user_driven_backups INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, removed TEXT
);
CREATE UNIQUE INDEX backup_offerings_name_live ON backup_offerings(zone_id, name) WHERE removed IS NULL;
CREATE TABLE backup_vm_offerings (
  vm_id INTEGER PRIMARY KEY REFERENCES vm_instances(id),
  offering_id INTEGER NOT NULL REFERENCES backup_offerings(id),
  external_id TEXT, assigned TEXT NOT NULL
);
CREATE TABLE backups (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT,
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id), offering_id INTEGER NOT NULL REFERENCES backup_offerings(id),
  provider TEXT NOT NULL, external_id TEXT,
  type TEXT NOT NULL DEFAULT 'FULL' CHECK (type IN ('FULL','INCREMENTAL')),
  parent_id INTEGER REFERENCES backups(id),
  status TEXT NOT NULL CHECK (status IN ('Allocated','Queued','BackingUp','BackedUp','Error','Failed','Restoring','Removed','Expunged')),
  size INTEGER NOT NULL DEFAULT 0, protected_size INTEGER NOT NULL DEFAULT 0,
  volumes TEXT NOT NULL DEFAULT '[]', interval_type TEXT NOT NULL DEFAULT 'MANUAL',
  host_id INTEGER REFERENCES hosts(id), job_uuid TEXT, owner TEXT, note TEXT,
  account_id INTEGER NOT NULL REFERENCES accounts(id), domain_id INTEGER NOT NULL REFERENCES domains(id),
  zone_id INTEGER NOT NULL REFERENCES zones(id), created TEXT NOT NULL, removed TEXT
);
CREATE INDEX backups_vm ON backups(vm_id) WHERE removed IS NULL;
CREATE TABLE backup_schedules (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
  vm_id INTEGER NOT NULL REFERENCES vm_instances(id),
  interval_type TEXT NOT NULL CHECK (interval_type IN ('HOURLY','DAILY','WEEKLY','MONTHLY')),
  schedule TEXT NOT NULL, timezone TEXT NOT NULL, max_backups INTEGER NOT NULL DEFAULT 0,
  quiesce_vm INTEGER NOT NULL DEFAULT 0, scheduled_at TEXT NOT NULL, last_run TEXT, last_result TEXT,
  created TEXT NOT NULL,
  UNIQUE (vm_id, interval_type)
);
`,
  },
  {
    version: 21,
    name: 'data volumes on their own: where the disk lives and when it was attached',
    // Issue 12: a data volume outlives its VM (createVolume, detachVolume). host_id is the host
    // whose storage holds its disk, to delete it there once no VM names it; attached is when it
    // joined its VM (CloudStack's volume response shows it). Rows from before keep NULL: their
    // disks are found through their VM's host, as until now.
    sql: `
ALTER TABLE volumes ADD COLUMN host_id INTEGER REFERENCES hosts(id);
ALTER TABLE volumes ADD COLUMN attached TEXT;
CREATE INDEX volumes_account ON volumes(account_id) WHERE removed IS NULL;
`,
  },
  {
    version: 24,
    name: 'GPU types: how many vGPUs one physical GPU holds',
    // CloudStack's vgpu_types.max_vgpu_per_pgpu (listHosts gpugroup[].vgpu[].maxvgpuperpgpu), as
    // the XenServer driver reads it from PGPU.supported_VGPU_max_capacities. NULL where unknown.
    sql: `ALTER TABLE host_gpus ADD COLUMN max_vgpu_per_pgpu INTEGER;`,
  },
  {
    version: 31,
    name: 'host GPUs per physical GPU',
    // The GPU view's host -> pGPU -> vGPU type tree: per (group, type) row, each physical GPU's
    // PCI address, remaining and maximum capacity and the VMs it holds, as JSON
    // ([{address, remainingCapacity, maxCapacity, vmUuids}]); NULL where the driver does not say.
    sql: `ALTER TABLE host_gpus ADD COLUMN pgpus TEXT;`,
  },
  {
    version: 29,
    name: 'external import hosts: the SSH host key pinned on first use',
    // listVmsForImport / importVm importsource=external reach hosts Kiln does not manage. Their key
    // is trusted the first time (or as the admin confirmed it) and every later call must see the
    // same one. Keyed by the canonical URL (ssh://host:port).
    sql: `
CREATE TABLE external_import_hosts (
  url TEXT PRIMARY KEY,
  trust_kind TEXT NOT NULL,
  trust_fingerprint TEXT NOT NULL,
  created TEXT NOT NULL,
  last_used TEXT NOT NULL
);
`,
  },
  {
    version: 32,
    name: 'backup repositories (a backup store on another machine over SSH), and backups whose leftovers still need discarding',
    // CloudStack 4.20's addBackupRepository (the NAS provider's repositories). Here a repository
    // is an SSH account on a backup host: Kiln writes into its own directory there (kiln-backups
    // in that account's home), never a path the admin names. The credential is sealed (secrets.ts);
    // the host key is pinned on first use. An offering of the nas provider names its repository
    // by external_id. backups.discard_pending: a failed backup whose partial files could not be
    // removed then (a lost connection); the sync task and the host's reconnect try again.
    sql: `
CREATE TABLE backup_repositories (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  zone_id INTEGER NOT NULL REFERENCES zones(id),
  provider TEXT NOT NULL,
  address TEXT NOT NULL,
  username TEXT NOT NULL,
  secret TEXT NOT NULL,
  trust_kind TEXT,
  trust_fingerprint TEXT,
  created TEXT NOT NULL,
  removed TEXT
);
ALTER TABLE backups ADD COLUMN discard_pending INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 35,
    name: 'private VLANs: the secondary VLAN of an L2 or shared network',
    // CloudStack's createNetwork isolatedpvlan / isolatedpvlantype (networks.broadcast_uri
    // pvlan://<primary>-i<secondary> there). NULL on every network made before: a plain VLAN.
    // Import maps a NIC on a private-VLAN port to the network with the same primary+secondary pair.
    sql: `
ALTER TABLE networks ADD COLUMN isolated_pvlan INTEGER;
ALTER TABLE networks ADD COLUMN isolated_pvlan_type TEXT;
`,
  },
  {
    version: 43,
    name: 'copies of deleted templates and ISOs still to remove from hosts',
    // deleteTemplate/deleteIso remove an image's copy from every host of its zone (the storage
    // facet's removeImage). A copy that cannot go yet stays named here: its host did not answer,
    // or a VM there still uses it (a forced deleteTemplate). The expunge sweeper and the host's
    // reconnect try again (images/host-copies.ts); a row goes once the host confirms the copy is gone.
    sql: `
CREATE TABLE image_copy_removals (
  id INTEGER PRIMARY KEY,
  template_id INTEGER NOT NULL REFERENCES templates(id),
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  image_name TEXT NOT NULL,
  image_format TEXT NOT NULL,
  last_error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created TEXT NOT NULL,
  UNIQUE (template_id, host_id)
);
`,
  },
  {
    version: 36,
    name: 'primary storage: a record per storage pool and cluster (tags, enabled), storage tags on service offerings, and each volume\'s pool record',
    // CloudStack's storage_pool. Drivers publish their pools (PrimaryStorageFacet); Kiln keeps one
    // row per pool the cluster's hosts report: a CLUSTER-scoped pool once per cluster, a
    // HOST-scoped (local) one per host. `ref` is what the driver names it by in DiskSpec.pool.
    // Tags and enabled are the admin's (updateStoragePool) and survive a pool disappearing for a
    // while (present=0: state Down). service_offerings.storage_tags is CloudStack's service
    // offering `storagetags` (its root disk's); volumes.pool_id maps the free-text volumes.pool
    // onto the records (storage/pool-sync.ts).
    sql: `
CREATE TABLE storage_pools (
  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  zone_id INTEGER NOT NULL REFERENCES zones(id), pod_id INTEGER REFERENCES pods(id),
  cluster_id INTEGER NOT NULL REFERENCES clusters(id), host_id INTEGER REFERENCES hosts(id),
  ref TEXT NOT NULL, type TEXT NOT NULL, scope TEXT NOT NULL CHECK (scope IN ('CLUSTER','HOST')),
  hypervisor TEXT NOT NULL,
  capacity_bytes INTEGER NOT NULL DEFAULT 0, used_bytes INTEGER NOT NULL DEFAULT 0, allocated_bytes INTEGER,
  is_default INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1,
  present INTEGER NOT NULL DEFAULT 1, last_seen TEXT, created TEXT NOT NULL, removed TEXT
);
CREATE UNIQUE INDEX storage_pools_ref ON storage_pools(cluster_id, IFNULL(host_id, 0), ref) WHERE removed IS NULL;
ALTER TABLE service_offerings ADD COLUMN storage_tags TEXT NOT NULL DEFAULT '';
ALTER TABLE volumes ADD COLUMN pool_id INTEGER REFERENCES storage_pools(id);
`,
  },
  {
    version: 48,
    name: 'VM counts per account and state kept by triggers, for list totals',
    // listVirtualMachines' count is the total of its scope (CloudStack's `count`). COUNT(*) over
    // vm_instances reads every VM the scope holds: at 10,000 VMs that one statement took 0.35 ms of
    // a 1.2 ms 20-row page (13x its cost at 500), the only part of the page that grew (bench P3).
    // As host_usage (migration 3) and CloudStack's resource_count, triggers keep the rows per
    // account and state, so a total is a sum over a few rows whatever the inventory.
    sql: `
CREATE TABLE vm_instance_counts (
  account_id INTEGER NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (account_id, state)
) WITHOUT ROWID;
INSERT INTO vm_instance_counts (account_id, state, n) SELECT account_id, state, COUNT(*) FROM vm_instances GROUP BY account_id, state;
CREATE TRIGGER vm_instance_counts_insert AFTER INSERT ON vm_instances
BEGIN
  INSERT INTO vm_instance_counts (account_id, state, n) VALUES (NEW.account_id, NEW.state, 1)
    ON CONFLICT(account_id, state) DO UPDATE SET n=n+1;
END;
CREATE TRIGGER vm_instance_counts_delete AFTER DELETE ON vm_instances
BEGIN
  UPDATE vm_instance_counts SET n=n-1 WHERE account_id=OLD.account_id AND state=OLD.state;
END;
CREATE TRIGGER vm_instance_counts_update AFTER UPDATE OF account_id, state ON vm_instances
  WHEN OLD.account_id IS NOT NEW.account_id OR OLD.state IS NOT NEW.state
BEGIN
  UPDATE vm_instance_counts SET n=n-1 WHERE account_id=OLD.account_id AND state=OLD.state;
  INSERT INTO vm_instance_counts (account_id, state, n) VALUES (NEW.account_id, NEW.state, 1)
    ON CONFLICT(account_id, state) DO UPDATE SET n=n+1;
END;
`,
  },
  {
    version: 50,
    name: 'a whole-VM restore records its renames before they start',
    // restoreBackup writes every restored disk aside, then renames each over the VM's disk. Between
    // the first rename and the last, a killed Kiln would leave a VM with some disks restored and
    // some not: the provider's plan of the renames is written here first (restore_plan), so the
    // next start (or the host answering again) finishes them instead of undoing the others.
    sql: `
ALTER TABLE backups ADD COLUMN restore_plan TEXT;
`,
  },
  {
    version: 54,
    name: "a zone's second DNS servers and network domain, which updateZone sets",
    // CloudStack's updateZone takes dns2, internaldns2 and domain beside dns1 and internaldns1;
    // createZone kept only the first two. NULL is "not set", as CloudStack's empty string clears them.
    sql: `
ALTER TABLE zones ADD COLUMN dns2 TEXT;
ALTER TABLE zones ADD COLUMN internal_dns2 TEXT;
ALTER TABLE zones ADD COLUMN domain TEXT;
`,
  },
  {
    version: 55,
    name: 'what a volume restore is writing on its host, recorded before it writes',
    // restoreVolumeFromBackupAndAttachToVM makes a new disk on a host and writes the backup's copy
    // beside it; a host cut off meanwhile (or a Kiln killed) kept both, and no row named them. Each
    // restore writes its row here first (owner: the process doing it); it goes with the volume's row
    // once the copy is done, or once what was written is removed, at once or when the host answers
    // again (owner NULL until then; backup/framework.ts settleVolumeRestores).
    sql: `
CREATE TABLE backup_volume_restores (
  id INTEGER PRIMARY KEY,
  backup_id INTEGER NOT NULL REFERENCES backups(id),
  volume_uuid TEXT NOT NULL,
  vm_id INTEGER REFERENCES vm_instances(id) ON DELETE SET NULL,
  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  disk TEXT NOT NULL,
  pool TEXT,
  owner TEXT,
  note TEXT,
  created TEXT NOT NULL
);
`,
  },
  {
    version: 57,
    name: 'pending HA restarts outlive a Kiln restart',
    // HA kept the restarts it still owed in memory: a VM waiting for its Down host (a disk on that
    // host's local pool) or a failed restart being retried was forgotten when Kiln was killed or
    // closed. One row per VM (ha/pending-restarts.ts); until and next_at are epoch milliseconds,
    // until NULL is a VM bound to its host, which waits however long that takes.
    sql: `
CREATE TABLE ha_pending_restarts (
  vm_id INTEGER PRIMARY KEY REFERENCES vm_instances(id) ON DELETE CASCADE,
  update_count INTEGER NOT NULL,
  until INTEGER,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  failed_host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
  bound TEXT,
  created TEXT NOT NULL
);
`,
  },
  {
    version: 58,
    name: 'a storage pool\'s identity across its records',
    // One store seen by hosts of several clusters is one record per cluster (pool-sync.ts); the
    // driver's PrimaryStoragePool.identity (a vSphere datastore: its vCenter and moref) says which
    // records are the same store, so a disk on one is reached by the hosts of the others
    // (storage/need-pool.ts). NULL: the driver does not say; each record is its own store.
    sql: `
ALTER TABLE storage_pools ADD COLUMN identity TEXT;
`,
  },
  {
    version: 61,
    name: 'the rest of updateZone\'s parameters',
    // CloudStack's UpdateZoneCmd beside the DNS servers and domain (migration 54): the IPv6 DNS
    // servers, the guest CIDR, the sort key listZones orders by, and the zone's details (a JSON
    // object, CloudStack's data_center_details), each listed back by listZones.
    sql: `
ALTER TABLE zones ADD COLUMN ip6_dns1 TEXT;
ALTER TABLE zones ADD COLUMN ip6_dns2 TEXT;
ALTER TABLE zones ADD COLUMN guest_cidr TEXT;
ALTER TABLE zones ADD COLUMN sort_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE zones ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
`,
  },
];

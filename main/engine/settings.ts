/**
 * Global, zone and cluster settings (CloudStack "configuration"): one table of typed definitions
 * with defaults and scope, and a store that reads overrides from SQLite. A zone (or cluster) value
 * wins over the global one where the setting has that scope.
 */
import type { Db } from './db/database.js';
import { now } from './db/database.js';
import { ApiError } from './registry/errors.js';
import { BACKUP_PROVIDERS } from './backup/providers/index.js';

export type SettingType = 'String' | 'Boolean' | 'Integer' | 'Float';
export type SettingScope = 'global' | 'zone' | 'cluster';

/** Where a setting is read: a zone id (the common case), or the zone and cluster of a host. */
export type SettingPlace = number | { zoneId?: number; clusterId?: number };

export interface SettingDef {
  name: string;
  type: SettingType;
  default: string;
  scope: SettingScope;
  category: string;
  description: string;
  /** Allowed values, when the setting is an enumeration. */
  options?: string[];
  /** Hidden settings are not listed (secrets). */
  hidden?: boolean;
  /** Numbers that must be greater than zero. */
  positive?: boolean;
}

export const SETTINGS: SettingDef[] = [
  { name: 'instance.name', type: 'String', default: 'VM', scope: 'global', category: 'Advanced', description: 'Name of the deployment instance, the last part of every internal VM name (i-<user>-<vm>-<instance.name>).' },
  { name: 'vm.instancename.flag', type: 'Boolean', default: 'false', scope: 'global', category: 'Advanced', description: 'Use the display name given at deploy as the last part of the internal VM name instead of instance.name.' },
  { name: 'expunge.delay', type: 'Integer', default: '86400', scope: 'global', category: 'Advanced', description: 'Seconds a destroyed VM is kept (recoverable) before it is expunged.' },
  { name: 'storage.stats.interval', type: 'Integer', default: '60', scope: 'global', category: 'Advanced', description: "Kiln: seconds between re-reads of every connected host's storage pools (what listStoragePools lists: a list never asks a host itself); each host has host.check.timeout to answer.", positive: true },
  { name: 'gpu.stats.interval', type: 'Integer', default: '60', scope: 'global', category: 'Advanced', description: 'Seconds between re-reads of GPU capacity on every connected host with GPUs (R71; changes made outside Kiln show up within this time).', positive: true },
  { name: 'expunge.interval', type: 'Integer', default: '86400', scope: 'global', category: 'Advanced', description: 'Seconds between runs of the expunge sweeper.' },
  { name: 'enable.dynamic.scale.vm', type: 'Boolean', default: 'false', scope: 'zone', category: 'Advanced', description: 'Allow scaling the CPU and memory of running VMs.' },
  { name: 'scale.retry', type: 'Integer', default: '2', scope: 'global', category: 'Advanced', description: 'How many times a dynamic scale is retried.' },
  { name: 'vmsnapshot.max', type: 'Integer', default: '10', scope: 'global', category: 'Snapshots', description: 'Maximum VM snapshots per VM; the oldest is removed beyond it.' },
  { name: 'vmsnapshot.create.wait', type: 'Integer', default: '1800', scope: 'global', category: 'Snapshots', description: 'Seconds to wait for a VM snapshot to be created.' },
  { name: 'user.vm.blacklisted.details', type: 'String', default: 'rootdisksize, cpuOvercommitRatio, memoryOvercommitRatio, Message.ReservedCapacityFreed.Flag', scope: 'global', category: 'Advanced', description: 'Comma-separated VM detail keys hidden from non-admin users.' },
  { name: 'user.vm.readonly.details', type: 'String', default: 'dataDiskController, rootDiskController', scope: 'global', category: 'Advanced', description: 'Comma-separated VM detail keys users may see but not change.' },
  { name: 'vm.allocation.algorithm', type: 'String', default: 'random', scope: 'global', category: 'Advanced', description: 'How hosts are ordered for a new VM.', options: ['random', 'firstfit', 'userdispersing', 'userconcentratedpod_random', 'userconcentratedpod_firstfit', 'firstfitleastconsumed'] },
  { name: 'vm.allocation.mode', type: 'String', default: '', scope: 'global', category: 'Advanced', description: 'Empty to let vm.allocation.algorithm decide; vertical fills one host before the next (fewer hosts powered); horizontal spreads VMs round-robin (performance).', options: ['', 'vertical', 'horizontal'] },
  { name: 'cpu.overprovisioning.factor', type: 'Float', default: '1', scope: 'cluster', category: 'Advanced', description: "Multiplies a host's CPU (MHz) for placement; set per cluster to overcommit, or below 1 to hold some back.", positive: true },
  { name: 'mem.overprovisioning.factor', type: 'Float', default: '1', scope: 'cluster', category: 'Advanced', description: "Multiplies a host's memory for placement; set per cluster to overcommit, or below 1 to hold some back.", positive: true },
  { name: 'cluster.max.guests.per.host', type: 'Integer', default: '0', scope: 'cluster', category: 'Advanced', description: "Kiln: the most VMs one host of the cluster runs (placement and N-1 headroom); 0 uses the hypervisor's maxguestslimit (updateHypervisorCapabilities)." },
  { name: 'vm.stop.timeout', type: 'Integer', default: '120', scope: 'global', category: 'Advanced', description: 'Seconds a graceful (ACPI) stop may take before the VM is powered off.' },
  { name: 'max.template.iso.size', type: 'Integer', default: '50', scope: 'zone', category: 'Storage', description: 'Maximum size in GB of a template or ISO Kiln downloads into a zone\'s image store; a larger download fails.', positive: true },
  { name: 'kiln.template.local.dir', type: 'String', default: '', scope: 'global', category: 'Storage', description: 'Directory on the hosts inside which the root admin may register templates, ISOs and kernel/initrd details by path; empty disables host paths (everyone registers by http(s) URL).' },
  { name: 'backup.framework.enabled', type: 'Boolean', default: 'false', scope: 'zone', category: 'Advanced', description: 'Enable the backup and recovery framework in the zone; while false its backup commands answer with an error.' },
  { name: 'backup.framework.provider.plugin', type: 'String', default: 'dummy', scope: 'zone', category: 'Advanced', description: "The zone's backup provider: dummy (records only, nothing is copied; vSphere and XenServer zones use it for now) or nas (qcow2 backups of each volume into the backup store of the VM's KVM host).", options: BACKUP_PROVIDERS.map((p) => p.name) },
  { name: 'backup.framework.sync.interval', type: 'Integer', default: '300', scope: 'global', category: 'Advanced', description: 'Seconds between runs of the backup sync task (backup sizes, reconcile with the provider, due schedules).', positive: true },
  { name: 'unmanage.vm.preserve.nics', type: 'Boolean', default: 'false', scope: 'zone', category: 'Advanced', description: 'Keep the NICs (and reserve their MACs) of a VM that is unmanaged.' },
  { name: 'default.page.size', type: 'Integer', default: '500', scope: 'global', category: 'Advanced', description: 'Largest page size a list command accepts.' },
  { name: 'integration.api.port', type: 'Integer', default: '0', scope: 'global', category: 'Advanced', description: 'Unauthenticated integration API port on 127.0.0.1; 0 or negative disables it.' },
  { name: 'api.signature.algorithms', type: 'String', default: 'HmacSHA256,HmacSHA1', scope: 'global', category: 'Advanced', description: 'Signature algorithms accepted on signed API requests: HmacSHA256 as Mold signs, HmacSHA1 as stock CloudStack clients sign.' },
  { name: 'enforce.post.requests.and.timestamps', type: 'Boolean', default: 'false', scope: 'global', category: 'Advanced', description: 'Require signature version 3 with expires at most 15 minutes ahead.' },
  { name: 'session.timeout', type: 'Integer', default: '1800', scope: 'global', category: 'Advanced', description: 'Seconds a login session lasts without use.' },
  { name: 'incorrect.login.attempts.allowed', type: 'Integer', default: '5', scope: 'global', category: 'Advanced', description: 'Incorrect login attempts allowed before the user is disabled (when value > 0). If value <=0 users are not disabled after failed login attempts. Root admins are never disabled, only slowed down.' },
  { name: 'kiln.userdata.provider', type: 'String', default: '', scope: 'zone', category: 'Advanced', description: "Kiln: how the zone's guests get their metadata and user data (CloudStack's UserData provider): ConfigDrive (an ISO labelled config-2 attached at start) or VirtualRouter (the metadata HTTP service); empty: ConfigDrive on L2 networks, VirtualRouter on others. A network's own userdataprovider wins.", options: ['', 'ConfigDrive', 'VirtualRouter'] },
  { name: 'kiln.metadata.listen.address', type: 'String', default: '', scope: 'global', category: 'Advanced', description: "Kiln: the address (on the guests' network) where Kiln serves guests their metadata over HTTP on port 80 and the password server on 8080, for guests that reach Kiln directly; empty: not served here. Applies at the next start. Guests on remote KVM hosts are reached through their host instead." },
  { name: 'ha.monitor.interval', type: 'Integer', default: '10', scope: 'global', category: 'Advanced', description: 'Seconds between HA and state reconcile passes.' },
  { name: 'host.check.timeout', type: 'Integer', default: '20', scope: 'global', category: 'Advanced', description: "Kiln: seconds a host has to answer one HA and reconcile check (connect and list its VMs); a host that does not answer in time counts as a missed check, and the others are not kept waiting." },
  // 20: bench P10's best of 4/8/12/20 across 20 KVM hosts, cold and warm (a warm check is one round trip per host).
  { name: 'host.check.concurrency', type: 'Integer', default: '20', scope: 'global', category: 'Advanced', description: 'Kiln: how many hosts an HA and reconcile pass checks at the same time.' },
];

const DEFS = new Map(SETTINGS.map((s) => [s.name, s]));

export function settingDef(name: string): SettingDef | undefined {
  return DEFS.get(name);
}

/** What reads settings: the Settings themselves, or a snapshot of them (Settings.readAll). */
export interface SettingsReader {
  raw(name: string, at?: SettingPlace): string;
}

/** The one rule of which stored value applies: the place's own for a zone or cluster setting, else the global one, else the default. */
function resolveSetting(name: string, at: SettingPlace | undefined, stored: (name: string, scope: string, scopeId: number) => string | undefined): string {
  const def = DEFS.get(name);
  if (!def) throw new Error(`unknown setting ${name}`);
  const place = typeof at === 'number' ? { zoneId: at } : at ?? {};
  const scopeId = def.scope === 'zone' ? place.zoneId : def.scope === 'cluster' ? place.clusterId : undefined;
  if (scopeId !== undefined) {
    const own = stored(name, def.scope, scopeId);
    if (own !== undefined) return own;
  }
  return stored(name, 'global', 0) ?? def.default;
}

export class Settings {
  // Prepared once: settings are read on every list row and placement (better-sqlite3's prepare is the costly part).
  private readonly readValue;

  constructor(private readonly db: Db) {
    this.readValue = db.prepare<[string, string, number], { value: string }>('SELECT value FROM configuration WHERE name=? AND scope=? AND scope_id=?');
  }

  /** The raw value: the zone's or cluster's own where the setting has that scope, else the global one. */
  raw(name: string, at?: SettingPlace): string {
    return resolveSetting(name, at, (n, scope, scopeId) => this.readValue.get(n, scope, scopeId)?.value);
  }

  /**
   * Every stored value read in one statement, answering raw() from memory: for a list that reads
   * settings for each of its rows (listConfigurations, listClusters, listHosts), so the list runs
   * one statement for them, not one per row.
   */
  readAll(): SettingsReader {
    const rows = this.db.prepare('SELECT name, scope, scope_id, value FROM configuration').all() as { name: string; scope: string; scope_id: number; value: string }[];
    const values = new Map(rows.map((r) => [`${r.name}\0${r.scope}\0${r.scope_id}`, r.value]));
    return { raw: (name, at) => resolveSetting(name, at, (n, scope, scopeId) => values.get(`${n}\0${scope}\0${scopeId}`)) };
  }

  string(name: string, zoneId?: number): string {
    return this.raw(name, zoneId);
  }

  bool(name: string, zoneId?: number): boolean {
    return this.raw(name, zoneId).toLowerCase() === 'true';
  }

  int(name: string, zoneId?: number): number {
    return Number.parseInt(this.raw(name, zoneId), 10);
  }

  list(name: string, zoneId?: number): string[] {
    return this.raw(name, zoneId).split(',').map((s) => s.trim()).filter(Boolean);
  }

  /** Validates against the definition's type and options, then stores the value. */
  set(name: string, value: string, scope: SettingScope = 'global', scopeId = 0): void {
    const def = DEFS.get(name);
    if (!def) throw ApiError.param(`name: unknown configuration ${name}`);
    if (scope !== 'global' && def.scope !== scope) throw ApiError.param(`${scope}id: configuration ${name} has ${def.scope} scope, not ${scope}`);
    const normalized = validateSettingValue(def, value);
    this.db
      .prepare('INSERT INTO configuration (name, scope, scope_id, value, updated) VALUES (?,?,?,?,?) ON CONFLICT(name, scope, scope_id) DO UPDATE SET value=excluded.value, updated=excluded.updated')
      .run(name, scope, scopeId, normalized, now());
  }
}

function validateSettingValue(def: SettingDef, value: string): string {
  switch (def.type) {
    case 'Boolean': {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw ApiError.param(`value: ${def.name} takes true or false, not "${value}"`);
      return v;
    }
    case 'Integer':
      if (!/^-?\d+$/.test(value)) throw ApiError.param(`value: ${def.name} takes an integer, not "${value}"`);
      return value;
    case 'Float':
      if (value.trim() === '' || !Number.isFinite(Number(value))) throw ApiError.param(`value: ${def.name} takes a number, not "${value}"`);
      if (def.positive && Number(value) <= 0) throw ApiError.param(`value: ${def.name} must be greater than 0`);
      return value;
    default:
      if (def.options && !def.options.includes(value)) throw ApiError.param(`value: ${def.name} takes one of ${def.options.join(', ')}`);
      return value;
  }
}

/**
 * PlacementState read from the database, with each fact fetched once per placement (one
 * aggregate query for all hosts' usage, one per affinity group), so placing among a thousand
 * hosts stays a handful of queries.
 */
import type { Db } from '../db/database.js';
import type { SettingsReader } from '../settings.js';
import { PAGE_IDS } from '../registry/list-page.js';
import { HOLDS_CAPACITY } from '../vm/states.js';
import { guestLimits, maxGuestsPerHost } from '../hosts/hypervisor-capabilities.js';
import type { StoragePoolRow } from '../storage/pool-records.js';
import type { AffinityGroupInfo, PlacementState, Usage } from './types.js';

const HOLDING = HOLDS_CAPACITY.map((s) => `'${s}'`).join(',');

/** A host_usage row; host_usage is kept current by triggers on vm_instances (migration 3). */
export interface UsageRow {
  host_id: number;
  cpu_mhz: number;
  memory: number;
  vms: number;
}
export const USAGE_SQL = 'SELECT host_id, cpu_mhz, memory, vms FROM host_usage';
/** One host's usage: the single-row form of USAGE_SQL. */
export const HOST_USAGE_SQL = `${USAGE_SQL} WHERE host_id=?`;

/** A host's Usage from its host_usage row; a host with no row has nothing allocated. */
export function toUsage(row: UsageRow | undefined): Usage {
  return row ? { cpuMhz: row.cpu_mhz, memory: row.memory, vms: row.vms } : { cpuMhz: 0, memory: 0, vms: 0 };
}

export class DbPlacementState implements PlacementState {
  private usageByHost?: Map<number, Usage>;
  private readonly members = new Map<number, { vmName: string; hostId: number; vmId: number }[]>();
  private gpuHosts?: Set<number>;
  private readonly settingCache = new Map<string, string>();
  private readonly groupCache = new Map<number, AffinityGroupInfo>();
  private readonly guestLimits = new Map<number, number>();
  private readonly vmGroups = new Map<number, AffinityGroupInfo[]>();
  private poolsByCluster?: Map<number, StoragePoolRow[]>;
  private clusterNames?: Map<number, string>;
  private pvlanHosts?: Set<number>;
  private closed?: Map<string, string>;
  private gpuCapacity?: Map<string, number>;
  private readonly accountHosts = new Map<number, Map<number, number>>();
  private readonly accountPods = new Map<number, Map<number, number>>();

  constructor(
    private readonly db: Db,
    private readonly settings: SettingsReader,
    private readonly exceptVmId?: number,
  ) {}

  /**
   * Reads at once what placing VMS among the hosts of CLUSTERIDS asks per VM, group, cluster or
   * host (affinity groups and their members, the owners' VMs per host and pod, the clusters' VM
   * limits, GPU capacity): a what-if that places many VMs (the N−1 headroom of a page of clusters)
   * then runs a fixed number of statements, whatever the VMs, hosts and clusters.
   */
  preload(vms: readonly { id: number; account_id: number }[], clusterIds: readonly number[]): this {
    const groups = this.db.prepare(`SELECT m.vm_id, g.id, g.name, g.type FROM affinity_groups g JOIN affinity_group_vms m ON m.group_id=g.id WHERE m.vm_id ${PAGE_IDS}`).all(JSON.stringify(vms.map((v) => v.id))) as (AffinityGroupInfo & { vm_id: number })[];
    for (const vm of vms) this.vmGroups.set(vm.id, []);
    for (const { vm_id: vmId, ...group } of groups) {
      this.vmGroups.get(vmId)!.push(group);
      this.groupCache.set(group.id, group);
    }
    const groupIds = [...this.groupCache.keys()];
    for (const id of groupIds) this.members.set(id, []);
    const members = this.db
      .prepare(`SELECT m.group_id, v.id AS vmId, v.display_name AS vmName, v.host_id AS hostId FROM affinity_group_vms m JOIN vm_instances v ON v.id=m.vm_id WHERE m.group_id ${PAGE_IDS} AND v.host_id IS NOT NULL AND v.state IN (${HOLDING})`)
      .all(JSON.stringify(groupIds)) as { group_id: number; vmName: string; hostId: number; vmId: number }[];
    for (const { group_id: groupId, ...member } of members) this.members.get(groupId)!.push(member);
    const accounts = [...new Set(vms.map((v) => v.account_id))];
    for (const id of accounts) {
      this.accountHosts.set(id, new Map());
      this.accountPods.set(id, new Map());
    }
    const owned = this.db
      .prepare(`SELECT account_id, host_id, pod_id, COUNT(*) AS n FROM vm_instances WHERE account_id ${PAGE_IDS} AND state IN (${HOLDING}) AND (host_id IS NOT NULL OR pod_id IS NOT NULL) GROUP BY account_id, host_id, pod_id`)
      .all(JSON.stringify(accounts)) as { account_id: number; host_id: number | null; pod_id: number | null; n: number }[];
    for (const r of owned) {
      const add = (counts: Map<number, number>, key: number | null) => key !== null && counts.set(key, (counts.get(key) ?? 0) + r.n);
      add(this.accountHosts.get(r.account_id)!, r.host_id);
      add(this.accountPods.get(r.account_id)!, r.pod_id);
    }
    for (const [id, limit] of guestLimits(this.db, this.settings, clusterIds)) this.guestLimits.set(id, limit?.limit ?? Infinity);
    const gpus = this.db.prepare('SELECT host_id, group_name, vgpu_type, remaining_capacity FROM host_gpus').all() as { host_id: number; group_name: string; vgpu_type: string; remaining_capacity: number }[];
    this.gpuHosts = new Set(gpus.map((g) => g.host_id));
    this.gpuCapacity = new Map(gpus.map((g) => [JSON.stringify([g.host_id, g.group_name, g.vgpu_type]), g.remaining_capacity]));
    return this;
  }

  usage(hostId: number): Usage {
    if (!this.usageByHost) {
      const rows = this.db.prepare(USAGE_SQL).all() as UsageRow[];
      this.usageByHost = new Map(rows.map((r) => [r.host_id, toUsage(r)]));
      // The VM being placed does not compete with itself.
      const self = this.exceptVmId === undefined ? undefined : (this.db.prepare(`SELECT host_id, cpu_number*cpu_speed AS cpu, memory FROM vm_instances WHERE id=? AND host_id IS NOT NULL AND state IN (${HOLDING})`).get(this.exceptVmId) as { host_id: number; cpu: number; memory: number } | undefined);
      const own = self ? this.usageByHost.get(self.host_id) : undefined;
      if (self && own) this.usageByHost.set(self.host_id, { cpuMhz: own.cpuMhz - self.cpu, memory: own.memory - self.memory, vms: own.vms - 1 });
    }
    return this.usageByHost.get(hostId) ?? toUsage(undefined);
  }

  groupMembers(groupId: number, exceptVmId?: number) {
    let list = this.members.get(groupId);
    if (!list) {
      list = this.db
        .prepare(`SELECT v.id AS vmId, v.display_name AS vmName, v.host_id AS hostId FROM affinity_group_vms m JOIN vm_instances v ON v.id=m.vm_id WHERE m.group_id=? AND v.host_id IS NOT NULL AND v.state IN (${HOLDING})`)
        .all(groupId) as { vmName: string; hostId: number; vmId: number }[];
      this.members.set(groupId, list);
    }
    return list.filter((m) => m.vmId !== exceptVmId);
  }

  groupsOf(vmId: number): AffinityGroupInfo[] {
    // Asked once per host considered (the affinity filter), so once per VM is read from the database.
    let groups = this.vmGroups.get(vmId);
    if (!groups) this.vmGroups.set(vmId, (groups = this.db.prepare('SELECT g.id, g.name, g.type FROM affinity_groups g JOIN affinity_group_vms m ON m.group_id=g.id WHERE m.vm_id=?').all(vmId) as AffinityGroupInfo[]));
    return groups;
  }

  group(groupId: number): AffinityGroupInfo {
    let group = this.groupCache.get(groupId);
    if (!group) this.groupCache.set(groupId, (group = this.db.prepare('SELECT id, name, type FROM affinity_groups WHERE id=?').get(groupId) as AffinityGroupInfo));
    return group;
  }

  setting(name: string, clusterId?: number): string {
    const key = clusterId === undefined ? name : `${name}@${clusterId}`;
    let value = this.settingCache.get(key);
    if (value === undefined) this.settingCache.set(key, (value = this.settings.raw(name, { clusterId })));
    return value;
  }

  accountVmsByHost(accountId: number): Map<number, number> {
    const preloaded = this.accountHosts.get(accountId);
    if (preloaded) return preloaded;
    const rows = this.db.prepare(`SELECT host_id, COUNT(*) AS n FROM vm_instances WHERE account_id=? AND host_id IS NOT NULL AND state IN (${HOLDING}) GROUP BY host_id`).all(accountId) as { host_id: number; n: number }[];
    return new Map(rows.map((r) => [r.host_id, r.n]));
  }

  accountVmsByPod(accountId: number): Map<number, number> {
    const preloaded = this.accountPods.get(accountId);
    if (preloaded) return preloaded;
    const rows = this.db.prepare(`SELECT pod_id, COUNT(*) AS n FROM vm_instances WHERE account_id=? AND pod_id IS NOT NULL AND state IN (${HOLDING}) GROUP BY pod_id`).all(accountId) as { pod_id: number; n: number }[];
    return new Map(rows.map((r) => [r.pod_id, r.n]));
  }

  maxGuests(clusterId: number): number {
    let limit = this.guestLimits.get(clusterId);
    if (limit === undefined) this.guestLimits.set(clusterId, (limit = maxGuestsPerHost(this.db, this.settings, clusterId)?.limit ?? Infinity));
    return limit;
  }

  hasGpu(hostId: number): boolean {
    this.gpuHosts ??= new Set((this.db.prepare('SELECT DISTINCT host_id FROM host_gpus').all() as { host_id: number }[]).map((r) => r.host_id));
    return this.gpuHosts.has(hostId);
  }

  gpuFree(hostId: number, group: string, vgpuType: string): number {
    if (this.gpuCapacity) return this.gpuCapacity.get(JSON.stringify([hostId, group, vgpuType])) ?? 0;
    const row = this.db.prepare('SELECT remaining_capacity FROM host_gpus WHERE host_id=? AND group_name=? AND vgpu_type=?').get(hostId, group, vgpuType) as { remaining_capacity: number } | undefined;
    return row?.remaining_capacity ?? 0;
  }

  notAllocatable(kind: 'zone' | 'pod' | 'cluster', id: number): string | undefined {
    // Every disabled zone, pod and cluster in one statement per placement (there are few, and usually none).
    this.closed ??= new Map(
      (this.db
        .prepare(
          `SELECT 'zone' AS kind, id, name, allocation_state AS state FROM zones WHERE allocation_state<>'Enabled' AND removed IS NULL
           UNION ALL SELECT 'pod', id, name, allocation_state FROM pods WHERE allocation_state<>'Enabled' AND removed IS NULL
           UNION ALL SELECT 'cluster', id, name, CASE WHEN allocation_state<>'Enabled' THEN allocation_state ELSE managed_state END FROM clusters WHERE (allocation_state<>'Enabled' OR managed_state<>'Managed') AND removed IS NULL`,
        )
        .all() as { kind: string; id: number; name: string; state: string }[]).map((r) => [`${r.kind}:${r.id}`, `${r.kind} ${r.name} is ${r.state}`]),
    );
    return this.closed.get(`${kind}:${id}`);
  }

  isolatesPrivateVlans(hostId: number): boolean {
    // Asked only for a VM on a private VLAN: the capable hosts in one statement per placement.
    this.pvlanHosts ??= new Set(this.db.prepare(`SELECT id FROM hosts WHERE removed IS NULL AND json_extract(capabilities, '$.privateVlans') IS 1`).pluck().all() as number[]);
    return this.pvlanHosts.has(hostId);
  }

  storagePools(host: { id: number; cluster_id: number }): StoragePoolRow[] {
    return (this.poolsAndClusters().pools.get(host.cluster_id) ?? []).filter((p) => p.scope === 'CLUSTER' || p.host_id === host.id);
  }

  clusterName(clusterId: number): string {
    return this.poolsAndClusters().names.get(clusterId) ?? `#${clusterId}`;
  }

  /**
   * Every cluster's pools and its name, read once per placement in one statement, and only when a
   * VM's volume asks (storage-tags filter: a tagged volume, a made disk; the name for the verdict
   * of a host that does not reach a disk's pool). A cluster without pools comes as one row of NULLs.
   */
  private poolsAndClusters(): { pools: Map<number, StoragePoolRow[]>; names: Map<number, string> } {
    if (!this.poolsByCluster || !this.clusterNames) {
      this.poolsByCluster = new Map();
      this.clusterNames = new Map();
      const rows = this.db
        .prepare('SELECT p.*, c.id AS cluster_key, c.name AS cluster_name FROM clusters c LEFT JOIN storage_pools p ON p.cluster_id=c.id AND p.removed IS NULL ORDER BY (p.capacity_bytes - p.used_bytes) DESC, p.id')
        .all() as (StoragePoolRow & { cluster_key: number; cluster_name: string })[];
      for (const { cluster_key: clusterId, cluster_name: name, ...pool } of rows) {
        this.clusterNames.set(clusterId, name);
        if (pool.id !== null) this.poolsByCluster.set(clusterId, [...(this.poolsByCluster.get(clusterId) ?? []), pool]);
      }
    }
    return { pools: this.poolsByCluster, names: this.clusterNames };
  }
}

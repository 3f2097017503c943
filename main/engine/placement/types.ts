/**
 * The placement pipeline's contracts. A filter looks at one host and either passes it or says,
 * in words, why not; an orderer sorts the hosts that passed. A new policy is one new module
 * implementing one of these (R28).
 */
import type { HostRow } from '../hosts/host-manager.js';
import type { StoragePoolRow } from '../storage/pool-records.js';

/** The host columns placement reads; fewer columns keep a 1,000-host placement within budget. */
export const PLACEMENT_COLUMNS = ['id', 'uuid', 'name', 'pod_id', 'cluster_id', 'hypervisor', 'state', 'resource_state', 'host_tags', 'os_category_id', 'cpu_number', 'cpu_speed', 'memory_total'] as const;
export type PlacementHost = Pick<HostRow, (typeof PLACEMENT_COLUMNS)[number]>;

export interface PlacementRequest {
  zoneId: number;
  podId?: number;
  clusterId?: number;
  hostId?: number;
  hypervisor?: string;
  cpuNumber: number;
  cpuSpeed: number;
  memory: number;
  hostTags: string[];
  accountId: number;
  /** The VM being placed (its own reservation and its affinity groups come from it). */
  vmId?: number;
  /** Affinity groups for a VM that does not exist yet (deploy). */
  affinityGroupIds?: number[];
  osCategoryId?: number;
  gpu?: { group: string; vgpuType: string };
  excludeHostIds?: number[];
  /** The VM's volumes whose offerings carry storage tags, and its disks on a host's local pool (storage/pool-choice.ts vmStorageNeeds). */
  storageNeeds?: StorageNeed[];
  /**
   * A made disk may move to another pool the host reaches (an import with migrateallowed): a host
   * that does not reach a disk's pool, or whose pool lacks its tags, may offer one that has them.
   * Without it a made disk is judged on the pool it is on (storage/need-pool.ts).
   */
  moveDisks?: boolean;
  /**
   * A migration whose move to a host of another cluster than FROMCLUSTERID carries every made disk
   * onto that host's default pool (the driver's crossClusterCarriesDisks: XenServer's migrate_send):
   * there a disk is judged on the pool it would land on, tags included, not on the one it leaves.
   * Hosts of its own cluster carry nothing and are judged on the disk's pool, as for any request.
   */
  carryDisks?: { fromClusterId: number };
  /** The VM's first NIC on a private-VLAN network ("isolated 301 of VLAN 300"): only a host publishing privateVlans takes it (private-vlans filter). */
  privateVlan?: { network: string; pvlan: string };
}

/**
 * One volume: a tagged one needs an enabled pool with every tag on the host; a made disk (tagged or
 * not) needs the host to reach the pool it is on, which must have the tags (storage/need-pool.ts).
 */
export interface StorageNeed {
  /** "ROOT-12", or "the root volume" for a deploy's VM not written yet; "disk vda" for a copy onto the default pool. */
  volume: string;
  tags: string[];
  /** Which offering asks: "service offering big" / "disk offering fast". */
  offering: string;
  /** A made disk's pool (storage_pools.id): a host of its cluster reaches it (a local one: only its host). */
  poolId?: number;
  /** That pool's cluster (storage_pools.cluster_id), so a host's reach is judged without reading the pools. */
  poolClusterId?: number;
  /**
   * The store that pool is (storage_pools.identity, the driver's PrimaryStoragePool.identity): a host
   * of another cluster that reports the same store (a record of its own with this identity) reaches the disk too.
   */
  poolIdentity?: string;
  /** "sim-primary of cluster Demo Cluster": that pool, for the verdict of a host that does not reach it. */
  poolName?: string;
  /** The disk is copied onto the chosen host's default pool (importVm importsource=external), so that pool is judged. */
  onDefaultPool?: boolean;
  /** The made disk is on a host's local pool (HOST scope): only that host reaches it. */
  local?: { pool: string; host: string; hostId: number; clusterId: number };
}

export interface Usage {
  cpuMhz: number;
  memory: number;
  vms: number;
}

/** What the pipeline knows about the world; the headroom check swaps in a what-if version. */
export interface PlacementState {
  usage(hostId: number): Usage;
  /** Hosts where members of an affinity group run (excluding the VM being placed). */
  groupMembers(groupId: number, exceptVmId?: number): { vmName: string; hostId: number }[];
  groupsOf(vmId: number): AffinityGroupInfo[];
  group(groupId: number): AffinityGroupInfo;
  /** A setting as it applies in CLUSTERID (cluster-scoped ones may differ per cluster). */
  setting(name: string, clusterId?: number): string;
  /** Running VMs of an account per host and per pod, for the user-concentrated/dispersing orders. */
  accountVmsByHost(accountId: number): Map<number, number>;
  accountVmsByPod(accountId: number): Map<number, number>;
  hasGpu(hostId: number): boolean;
  gpuFree(hostId: number, group: string, vgpuType: string): number;
  /** The most VMs one host of the cluster may run (maxguestslimit, or the cluster's own); Infinity when none is known. */
  maxGuests(clusterId: number): number;
  /** The storage pools HOST reaches (its cluster's and its own local ones, any state), most free space first. */
  storagePools(host: { id: number; cluster_id: number }): StoragePoolRow[];
  /** A cluster's name, for a verdict that says which cluster a host is in. */
  clusterName(clusterId: number): string;
  /** Whether the host published the privateVlans capability at its last refresh (hosts.capabilities). */
  isolatesPrivateVlans(hostId: number): boolean;
  /** Why the zone, pod or cluster takes no new VM ("cluster C is Disabled"), or undefined when it does (allocation-state filter). */
  notAllocatable(kind: 'zone' | 'pod' | 'cluster', id: number): string | undefined;
}

export interface AffinityGroupInfo {
  id: number;
  name: string;
  type: string;
}

export interface Candidate {
  host: PlacementHost;
  usage: Usage;
}

export interface Filter {
  readonly name: string;
  /** A refusal reason in words, or undefined when the host passes. */
  check(candidate: Candidate, request: PlacementRequest, state: PlacementState): string | undefined;
}

export interface Orderer {
  readonly name: string;
  order(candidates: Candidate[], request: PlacementRequest, state: PlacementState): Candidate[];
}

export interface HostVerdict {
  hostId: string;
  hostName: string;
  suitable: boolean;
  reason: string;
}

export interface PlacementOutcome {
  host?: PlacementHost;
  considered: HostVerdict[];
  /** The order the suitable hosts were tried in, and which policy produced it. */
  order: string[];
  policy: string;
}

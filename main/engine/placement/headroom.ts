/**
 * N−1 headroom (R14). Two rules, both from the guide: with N usable hosts and a per-host VM
 * limit L (maxguestslimit, or the cluster's own), a cluster should run at most (N−1)·L VMs; and
 * its busiest host's VMs must be able to restart on the others. Each host's failure is simulated
 * with a what-if view of the cluster in which the dead host's VMs are placed one by one through
 * the real placement filters (capacity, tags, affinity, the VM limit), so the answer says which
 * VMs would not fit and why.
 */
import type { Engine } from '../engine.js';
import type { HostRow } from '../hosts/host-manager.js';
import { guestLimits, type GuestLimit } from '../hosts/hypervisor-capabilities.js';
import { PAGE_IDS } from '../registry/list-page.js';
import type { VmRow } from '../vm/rows.js';
import { DbPlacementState } from './db-state.js';
import { requestsForVms } from './request.js';
import { restartScope } from './restart-scope.js';
import type { PlacementRequest, PlacementState, Usage } from './types.js';

export interface HostFailure {
  hostId: string;
  hostName: string;
  vms: number;
  unplaceable: { vmId: string; name: string; reason: string }[];
}

export interface Headroom {
  clusterId: string;
  clusterName: string;
  hasHeadroom: boolean;
  /** N: hosts that are Up and Enabled (only they can take a failed host's VMs). */
  usableHosts: number;
  /** L, and whether the cluster set it or it is the hypervisor's maxguestslimit; absent when unknown. */
  maxGuestsPerHost?: number;
  limitSource?: 'cluster' | 'hypervisor';
  /** VMs running on the cluster's hosts. */
  vmCount: number;
  /** (N−1)·L, when L is known. */
  safeVmCount?: number;
  /** The host with the most VMs, whose loss the cluster must absorb. */
  largestHost?: HostFailure;
  /** What the Hosts page shows; empty when the cluster has headroom. */
  warnings: string[];
  failures: HostFailure[];
}
/** The cluster as it would be: VMs moved off the dead host, their load added where they land. */
class WhatIf implements PlacementState {
  private readonly moved = new Map<number, { hostId: number; vmName: string }>();
  private readonly added = new Map<number, Usage>();

  constructor(
    private readonly base: DbPlacementState,
    private readonly deadHost: number,
    private readonly deadVms: Set<number>,
  ) {}

  place(vm: VmRow, hostId: number): void {
    this.moved.set(vm.id, { hostId, vmName: vm.display_name });
    const u = this.added.get(hostId) ?? { cpuMhz: 0, memory: 0, vms: 0 };
    this.added.set(hostId, { cpuMhz: u.cpuMhz + vm.cpu_number * vm.cpu_speed, memory: u.memory + vm.memory, vms: u.vms + 1 });
  }

  usage(hostId: number): Usage {
    const base = hostId === this.deadHost ? { cpuMhz: 0, memory: 0, vms: 0 } : this.base.usage(hostId);
    const add = this.added.get(hostId) ?? { cpuMhz: 0, memory: 0, vms: 0 };
    return { cpuMhz: base.cpuMhz + add.cpuMhz, memory: base.memory + add.memory, vms: base.vms + add.vms };
  }

  groupMembers(groupId: number, exceptVmId?: number) {
    const members = this.base.groupMembers(groupId, exceptVmId).filter((m) => !this.deadVms.has(m.vmId));
    const placed = [...this.moved.entries()].filter(([vmId]) => vmId !== exceptVmId && this.base.groupsOf(vmId).some((g) => g.id === groupId));
    return [...members, ...placed.map(([vmId, p]) => ({ vmId, vmName: p.vmName, hostId: p.hostId }))];
  }

  groupsOf = (vmId: number) => this.base.groupsOf(vmId);
  group = (groupId: number) => this.base.group(groupId);
  setting = (name: string, clusterId?: number) => this.base.setting(name, clusterId);
  accountVmsByHost = (accountId: number) => this.base.accountVmsByHost(accountId);
  accountVmsByPod = (accountId: number) => this.base.accountVmsByPod(accountId);
  hasGpu = (hostId: number) => this.base.hasGpu(hostId);
  gpuFree = (hostId: number, group: string, vgpuType: string) => this.base.gpuFree(hostId, group, vgpuType);
  maxGuests = (clusterId: number) => this.base.maxGuests(clusterId);
  storagePools = (host: { id: number; cluster_id: number }) => this.base.storagePools(host);
  clusterName = (clusterId: number) => this.base.clusterName(clusterId);
  isolatesPrivateVlans = (hostId: number) => this.base.isolatesPrivateVlans(hostId);
  notAllocatable = (kind: 'zone' | 'pod' | 'cluster', id: number) => this.base.notAllocatable(kind, id);
}

const RUNNING = "'Running','Starting','Stopping','Migrating'";
const vmsText = (n: number) => `${n} VM${n === 1 ? '' : 's'}`;

export function clusterHeadroom(engine: Engine, clusterId: number): Headroom {
  return clusterHeadrooms(engine, [clusterId]).get(clusterId)!;
}

/**
 * The headroom of several clusters (listClusters' page) from one read of their hosts, their
 * running VMs and what placing those VMs asks (DbPlacementState.preload, requestsForVms): the
 * statements stay the same however many clusters, hosts and VMs the page holds.
 */
export function clusterHeadrooms(engine: Engine, clusterIds: readonly number[]): Map<number, Headroom> {
  const { db } = engine;
  const ids = JSON.stringify(clusterIds);
  const clusters = db.prepare(`SELECT id, uuid, name FROM clusters WHERE id ${PAGE_IDS}`).all(ids) as { id: number; uuid: string; name: string }[];
  const allHosts = db.prepare(`SELECT * FROM hosts WHERE cluster_id ${PAGE_IDS} AND removed IS NULL ORDER BY id`).all(ids) as HostRow[];
  const allVms = db
    .prepare(`SELECT * FROM vm_instances WHERE host_id IN (SELECT id FROM hosts WHERE cluster_id ${PAGE_IDS} AND removed IS NULL) AND state IN (${RUNNING}) ORDER BY memory DESC, id`)
    .all(ids) as VmRow[];
  const vmsByHost = new Map<number, VmRow[]>();
  for (const vm of allVms) vmsByHost.set(vm.host_id!, [...(vmsByHost.get(vm.host_id!) ?? []), vm]);
  const settings = engine.settings.readAll();
  // One read-only view of the database for every what-if: each adds its own moves on top (WhatIf).
  const base = new DbPlacementState(db, settings).preload(allVms, clusterIds);
  const requests = requestsForVms(db, allVms);
  const limits = guestLimits(db, settings, clusterIds);
  return new Map(clusters.map((cluster) => [cluster.id, headroomOf(engine, cluster, allHosts.filter((h) => h.cluster_id === cluster.id), vmsByHost, base, requests, limits.get(cluster.id))]));
}

function headroomOf(
  engine: Engine, cluster: { id: number; uuid: string; name: string }, hosts: HostRow[], vmsByHost: Map<number, VmRow[]>,
  base: DbPlacementState, requests: Map<number, PlacementRequest>, limit: GuestLimit | undefined,
): Headroom {
  const failures: HostFailure[] = [];
  for (const dead of hosts) {
    const vms = vmsByHost.get(dead.id) ?? [];
    const state = new WhatIf(base, dead.id, new Set(vms.map((v) => v.id)));
    const survivors = hosts.filter((h) => h.id !== dead.id);
    const unplaceable: HostFailure['unplaceable'] = [];
    for (const vm of vms) {
      // The HA restart's own rule (restart-scope.ts): a VM bound to DEAD by a local disk restarts nowhere else.
      const scope = restartScope(requests.get(vm.id)!, dead);
      if (scope.bound !== undefined) {
        unplaceable.push({ vmId: vm.uuid, name: vm.display_name, reason: scope.bound });
        continue;
      }
      const outcome = engine.planner.plan(scope.request, state, survivors);
      if (outcome.host) state.place(vm, outcome.host.id);
      else unplaceable.push({ vmId: vm.uuid, name: vm.display_name, reason: outcome.considered.map((v) => `${v.hostName}: ${v.reason}`).join('; ') || 'no other host in the cluster' });
    }
    failures.push({ hostId: dead.uuid, hostName: dead.name, vms: vms.length, unplaceable });
  }
  const usableHosts = hosts.filter((h) => h.state === 'Up' && h.resource_state === 'Enabled').length;
  const vmCount = failures.reduce((n, f) => n + f.vms, 0);
  const safeVmCount = limit ? Math.max(usableHosts - 1, 0) * limit.limit : undefined;
  // The busiest host by VM count (the first of equals): the loss the guide asks a cluster to absorb.
  const largestHost = failures.reduce<HostFailure | undefined>((best, f) => (f.vms > 0 && (!best || f.vms > best.vms) ? f : best), undefined);
  const overLimit = limit !== undefined && safeVmCount !== undefined && vmCount > safeVmCount;
  const warnings: string[] = [];
  if (overLimit) {
    warnings.push(`${cluster.name} runs ${vmCount} VMs, more than (N−1)·L = (${usableHosts}−1)·${limit.limit} = ${safeVmCount}: if one host fails, its VMs cannot all restart on the others.`);
  }
  if (largestHost && largestHost.unplaceable.length > 0) {
    const names = largestHost.unplaceable.map((u) => u.name).join(', ');
    warnings.push(`${cluster.name} cannot absorb its largest host: if ${largestHost.hostName} (${vmsText(largestHost.vms)}) failed, ${largestHost.unplaceable.length} could not restart elsewhere: ${names}.`);
  }
  // Within (N−1)·L a smaller host can still strand VMs (a tag or an affinity only it satisfies);
  // past it every host does, which the first warning already says.
  for (const f of overLimit ? [] : failures) {
    if (f === largestHost || f.unplaceable.length === 0) continue;
    warnings.push(`If ${f.hostName} (${vmsText(f.vms)}) failed, ${f.unplaceable.length} could not restart elsewhere: ${f.unplaceable.map((u) => u.name).join(', ')}.`);
  }
  return {
    clusterId: cluster.uuid,
    clusterName: cluster.name,
    hasHeadroom: warnings.length === 0,
    usableHosts,
    ...(limit ? { maxGuestsPerHost: limit.limit, limitSource: limit.source } : {}),
    vmCount,
    ...(safeVmCount !== undefined ? { safeVmCount } : {}),
    ...(largestHost ? { largestHost } : {}),
    warnings,
    failures,
  };
}

/** Recomputes every cluster's headroom and writes an event when one loses (or regains) it. */
export function refreshHeadroom(engine: Engine): void {
  const clusters = engine.db.prepare('SELECT id, name, has_headroom FROM clusters WHERE removed IS NULL').all() as { id: number; name: string; has_headroom: number | null }[];
  const headrooms = clusterHeadrooms(engine, clusters.map((c) => c.id));
  for (const c of clusters) {
    const headroom = headrooms.get(c.id)!;
    const now = headroom.hasHeadroom ? 1 : 0;
    if (c.has_headroom !== now) {
      engine.db.prepare('UPDATE clusters SET has_headroom=? WHERE id=?').run(now, c.id);
      if (c.has_headroom !== null || now === 0) {
        engine.events.record({ type: now ? 'CLUSTER.HEADROOM.OK' : 'CLUSTER.HEADROOM.LOST', level: now ? 'INFO' : 'WARN', description: now ? `cluster ${c.name} can again absorb the loss of any one host` : `cluster ${c.name} lost its N-1 headroom: ${headroom.warnings[0] ?? 'a failed host\'s VMs could not all restart on the others'}` });
      }
    }
  }
}

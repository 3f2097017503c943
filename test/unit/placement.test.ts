/** Every placement filter and orderer on synthetic inventories (R22–R28). */
import { describe, expect, it } from 'vitest';
import { Planner } from '../../main/engine/placement/planner.js';
import { ALGORITHMS } from '../../main/engine/placement/orderers/allocation-algorithm.js';
import type { PlacementRequest, PlacementState, Usage, AffinityGroupInfo } from '../../main/engine/placement/types.js';
import type { HostRow } from '../../main/engine/hosts/host-manager.js';
import type { Db } from '../../main/engine/db/database.js';
import type { Settings } from '../../main/engine/settings.js';

function host(id: number, extra: Partial<HostRow> = {}): HostRow {
  return {
    id, uuid: `h-${id}`, name: `host${id}`, zone_id: 1, pod_id: extra.pod_id ?? 1, cluster_id: 1, hypervisor: 'KVM', url: '', username: null, secret_enc: null,
    host_key_fingerprint: null, ref: null, trust_kind: null, trust_fingerprint: null, capabilities: null, state: 'Up', resource_state: 'Enabled', host_tags: '', os_category_id: null, cpu_sockets: 1, cpu_number: 8, cpu_speed: 2000,
    memory_total: 16384, memory_free: 16384, hypervisor_version: null, last_error: null, last_pinged: null, created: '', options: '{}', ...extra,
  };
}

interface World {
  usage?: Record<number, Partial<Usage>>;
  settings?: Record<string, string>;
  groups?: Record<number, AffinityGroupInfo & { members: { vmName: string; hostId: number; vmId: number }[] }>;
  vmGroups?: Record<number, number[]>;
  accountHosts?: Record<number, number>;
  accountPods?: Record<number, number>;
  gpus?: Record<number, number>;
  /** Per-host VM limit by cluster id (maxguestslimit or the cluster's own). */
  maxGuests?: Record<number, number>;
}

function state(world: World = {}): PlacementState {
  const settings = { 'vm.allocation.algorithm': 'firstfit', 'vm.allocation.mode': '', 'cpu.overprovisioning.factor': '1', 'mem.overprovisioning.factor': '1', ...world.settings };
  return {
    usage: (id) => ({ cpuMhz: 0, memory: 0, vms: 0, ...world.usage?.[id] }),
    // No pool records: only a request with storage needs reads them (storage-pools.test.ts covers that filter).
    storagePools: () => [],
    clusterName: (id) => `C${id}`,
    groupMembers: (g, except) => (world.groups?.[g]?.members ?? []).filter((m) => m.vmId !== except),
    groupsOf: (vm) => (world.vmGroups?.[vm] ?? []).map((g) => world.groups![g]!),
    group: (g) => world.groups![g]!,
    // A cluster's own value is keyed name@clusterId, as an override of the global one.
    setting: (name, clusterId) => (settings as Record<string, string>)[`${name}@${clusterId}`] ?? settings[name as keyof typeof settings] ?? '',
    accountVmsByHost: () => new Map(Object.entries(world.accountHosts ?? {}).map(([k, v]) => [Number(k), v])),
    accountVmsByPod: () => new Map(Object.entries(world.accountPods ?? {}).map(([k, v]) => [Number(k), v])),
    hasGpu: (id) => (world.gpus?.[id] ?? -1) >= 0,
    gpuFree: (id) => Math.max(0, world.gpus?.[id] ?? 0),
    maxGuests: (clusterId) => world.maxGuests?.[clusterId] ?? Infinity,
    // Every zone, pod and cluster enabled (allocation-state filter: infra-edits.test.ts covers it).
    notAllocatable: () => undefined,
    // No host isolates private VLANs: only a request with privateVlan asks (private-vlan-placement.test.ts covers that filter).
    isolatesPrivateVlans: () => false,
  };
}

const planner = new Planner({} as Db, {} as Settings);
const base: PlacementRequest = { zoneId: 1, cpuNumber: 1, cpuSpeed: 1000, memory: 1024, hostTags: [], accountId: 7 };
const plan = (hosts: HostRow[], world: World = {}, request: Partial<PlacementRequest> = {}) => planner.plan({ ...base, ...request }, state(world), hosts);

describe('filters', () => {
  it('refuses hosts that are not Up and enabled, with the reason', () => {
    const out = plan([host(1, { state: 'Disconnected' }), host(2, { resource_state: 'Maintenance' }), host(3)]);
    expect(out.considered.map((v) => v.reason)).toEqual(['host is Disconnected', 'host is Maintenance', 'suitable']);
    expect(out.host?.id).toBe(3);
  });

  it("checks CPU and memory, with each host's cluster's overprovisioning factors", () => {
    const hosts = [host(1), host(2)];
    const full = { usage: { 1: { memory: 15872 }, 2: { cpuMhz: 15500 } } };
    const out = plan(hosts, full);
    expect(out.considered.map((v) => v.reason)).toEqual(['memory: needs 1024 MB, 512 MB free', 'cpu: needs 1000 MHz, 500 MHz free']);
    expect(plan(hosts, { ...full, settings: { 'mem.overprovisioning.factor': '2', 'cpu.overprovisioning.factor': '2' } }).host?.id).toBe(1);
    // Only host 2's cluster overcommits its CPU: host 2 fits, host 1 (memory full) still does not.
    const split = plan([host(1), host(2, { cluster_id: 2 })], { ...full, settings: { 'cpu.overprovisioning.factor@2': '2' } });
    expect(split.considered.map((v) => v.reason)).toEqual(['memory: needs 1024 MB, 512 MB free', 'suitable']);
    expect(plan(hosts, {}, { cpuNumber: 16 }).considered[0]!.reason).toBe('cpu: needs 16 cores, host has 8');
  });

  it('matches offering tags against host tags (R26)', () => {
    const out = plan([host(1, { host_tags: 'ssd' }), host(2, { host_tags: 'ssd,gpu' })], {}, { hostTags: ['gpu'] });
    expect(out.considered[0]!.reason).toBe('tag gpu missing');
    expect(out.host?.id).toBe(2);
  });

  it('enforces host anti-affinity and host affinity (R27)', () => {
    const groups = {
      1: { id: 1, name: 'web', type: 'host anti-affinity', members: [{ vmName: 'web-1', hostId: 1, vmId: 11 }] },
      2: { id: 2, name: 'pair', type: 'host affinity', members: [{ vmName: 'db-1', hostId: 2, vmId: 12 }] },
    };
    const anti = plan([host(1), host(2)], { groups }, { affinityGroupIds: [1] });
    expect(anti.considered[0]!.reason).toBe('anti-affinity (web): VM web-1 already on this host');
    expect(anti.host?.id).toBe(2);
    const together = plan([host(1), host(2), host(3)], { groups }, { affinityGroupIds: [2] });
    expect(together.considered.filter((v) => v.suitable).map((v) => v.hostName)).toEqual(['host2']);
    // A member placed again is not its own neighbour.
    expect(plan([host(1)], { groups, vmGroups: { 11: [1] } }, { vmId: 11 }).host?.id).toBe(1);
  });

  it("refuses a host at its cluster's per-host VM limit, with the reason (R14)", () => {
    // Cluster 1 allows 2 VMs per host, cluster 2 allows 3: host 1 is full, host 2 (cluster 2) is not.
    const world = { usage: { 1: { vms: 2 }, 2: { vms: 2 }, 3: { vms: 1 } }, maxGuests: { 1: 2, 2: 3 } };
    const out = plan([host(1), host(2, { cluster_id: 2 }), host(3)], world);
    expect(out.considered.map((v) => v.reason)).toEqual(['VM limit: runs 2 of at most 2 VMs per host (maxguestslimit)', 'suitable', 'suitable']);
    expect(out.host?.id).toBe(2);
    expect(plan([host(1)], { usage: { 1: { vms: 49 } }, maxGuests: { 1: 50 } }).host?.id).toBe(1);
  });

  it('needs free GPU capacity for a GPU offering (R67)', () => {
    const out = plan([host(1), host(2)], { gpus: { 1: 0, 2: 2 } }, { gpu: { group: 'GRID K1', vgpuType: 'K120Q' } });
    expect(out.considered[0]!.reason).toBe('gpu: no free K120Q in group GRID K1');
    expect(out.host?.id).toBe(2);
  });
});

describe('orderers', () => {
  const three = [host(1, { pod_id: 1 }), host(2, { pod_id: 2 }), host(3, { pod_id: 2 })];

  it('firstfit takes hosts in order', () => {
    expect(plan(three, { settings: { 'vm.allocation.algorithm': 'firstfit' } }).order).toEqual(['host1', 'host2', 'host3']);
  });

  it('random shuffles but only among suitable hosts', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(plan(three, { settings: { 'vm.allocation.algorithm': 'random' } }).order[0]!);
    expect([...seen].sort()).toEqual(['host1', 'host2', 'host3']);
  });

  it('userdispersing puts the hosts with fewest of the account\'s VMs first', () => {
    expect(plan(three, { settings: { 'vm.allocation.algorithm': 'userdispersing' }, accountHosts: { 1: 3, 2: 1 } }).order).toEqual(['host3', 'host2', 'host1']);
  });

  it('userconcentratedpod_* puts the pod with most of the account\'s VMs first', () => {
    expect(plan(three, { settings: { 'vm.allocation.algorithm': 'userconcentratedpod_firstfit' }, accountPods: { 2: 5, 1: 1 } }).order).toEqual(['host2', 'host3', 'host1']);
    const first = plan(three, { settings: { 'vm.allocation.algorithm': 'userconcentratedpod_random' }, accountPods: { 2: 5 } }).order;
    expect(first.slice(0, 2).sort()).toEqual(['host2', 'host3']);
  });

  it('firstfitleastconsumed puts the least used host first', () => {
    expect(plan(three, { settings: { 'vm.allocation.algorithm': 'firstfitleastconsumed' }, usage: { 1: { memory: 8000 }, 2: { memory: 100 }, 3: { memory: 4000 } } }).order).toEqual(['host2', 'host3', 'host1']);
  });

  it('knows every vm.allocation.algorithm value', () => {
    expect(Object.keys(ALGORITHMS).sort()).toEqual(['firstfit', 'firstfitleastconsumed', 'random', 'userconcentratedpod_firstfit', 'userconcentratedpod_random', 'userdispersing']);
  });

  it('vertical fills one host before the next, horizontal spreads (R24)', () => {
    // Place ten 1 GB VMs one after another and watch where they land.
    const run = (mode: string) => {
      const usage: Record<number, Usage> = { 1: { cpuMhz: 0, memory: 0, vms: 0 }, 2: { cpuMhz: 0, memory: 0, vms: 0 }, 3: { cpuMhz: 0, memory: 0, vms: 0 } };
      const hosts = [host(1, { memory_total: 4096 }), host(2, { memory_total: 4096 }), host(3, { memory_total: 4096 })];
      const landed: number[] = [];
      for (let i = 0; i < 9; i++) {
        const chosen = plan(hosts, { usage, settings: { 'vm.allocation.mode': mode } }).host!;
        landed.push(chosen.id);
        usage[chosen.id] = { cpuMhz: usage[chosen.id]!.cpuMhz + 1000, memory: usage[chosen.id]!.memory + 1024, vms: usage[chosen.id]!.vms + 1 };
      }
      return landed;
    };
    expect(run('vertical')).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3]);
    expect(run('horizontal')).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  });

  it('tries hosts that prefer the guest OS category first (R23)', () => {
    expect(plan(three, {}, { osCategoryId: 4 }).order).toEqual(['host1', 'host2', 'host3']);
    expect(plan([host(1), host(2, { os_category_id: 4 }), host(3)], {}, { osCategoryId: 4 }).order).toEqual(['host2', 'host1', 'host3']);
  });

  it('moves GPU hosts to the end for VMs without a GPU (R68)', () => {
    expect(plan(three, { gpus: { 1: 2 } }).order).toEqual(['host2', 'host3', 'host1']);
  });

  it('prefers, but does not require, the spread of a non-strict anti-affinity group', () => {
    const groups = { 5: { id: 5, name: 'soft', type: 'non-strict host anti-affinity', members: [{ vmName: 'a', hostId: 1, vmId: 1 }, { vmName: 'b', hostId: 2, vmId: 2 }, { vmName: 'c', hostId: 3, vmId: 3 }] } };
    const out = plan([host(1), host(2), host(3)], { groups }, { affinityGroupIds: [5] });
    expect(out.host?.id).toBe(1);
    expect(plan([host(1), host(2), host(4)], { groups }, { affinityGroupIds: [5] }).order[0]).toBe('host4');
  });
});

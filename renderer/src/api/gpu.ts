/**
 * GPUs as the engine answers them: listHosts' CloudStack gpugroup[] (capacity per GPU group and
 * vGPU type), listGpuResidents (which VM holds which type where) and an offering's GPU
 * (serviceofferingdetails pciDevice/vgpuType). Only arithmetic on those answers lives here; where
 * an offering may run is the placement explainer's call, never the renderer's.
 */
import type { Cluster, Host, ServiceOffering } from './model';

export interface Vgpu {
  vgputype: string;
  videoram?: number;
  maxheads?: number;
  maxresolutionx?: number;
  maxresolutiony?: number;
  maxvgpuperpgpu?: number;
  remainingcapacity: number;
  maxcapacity: number;
}

export interface GpuGroup {
  gpugroupname: string;
  vgpu: Vgpu[];
}

export type GpuHost = Host & { gpugroup?: GpuGroup[] };

export interface GpuResident {
  virtualmachineid: string;
  displayname: string;
  virtualmachinename: string;
  state: string;
  hostid: string;
  hostname: string;
  gpugroupname: string;
  vgputype: string;
  serviceofferingname: string;
}

/** The GPU an offering asks for, as the engine reads it (a group without a type is pass-through). */
export function offeringGpu(offering: ServiceOffering): { group: string; vgpuType: string } | undefined {
  const group = offering.serviceofferingdetails?.['pciDevice'];
  return group ? { group, vgpuType: offering.serviceofferingdetails?.['vgpuType'] ?? 'passthrough' } : undefined;
}

/**
 * The physical GPUs behind a group: every type's maximum is (pGPUs × per-pGPU limit), so the
 * largest quotient is the board count xapi reports (pass-through: one per pGPU).
 */
export function pgpuCount(group: GpuGroup): number | undefined {
  const counts = group.vgpu.filter((v) => v.maxvgpuperpgpu).map((v) => Math.round(v.maxcapacity / v.maxvgpuperpgpu!));
  return counts.length > 0 ? Math.max(...counts) : undefined;
}

export interface GroupSummary {
  gpugroupname: string;
  hosts: number;
  pgpus: number;
  types: { vgputype: string; remainingcapacity: number; maxcapacity: number }[];
}

/** A cluster's GPU groups summed over its hosts: per type, the remaining and maximum capacity. */
export function clusterSummary(cluster: Cluster, hosts: GpuHost[]): GroupSummary[] {
  const groups = new Map<string, GroupSummary>();
  for (const host of hosts.filter((h) => h.clusterid === cluster.id)) {
    for (const g of host.gpugroup ?? []) {
      const sum = groups.get(g.gpugroupname) ?? { gpugroupname: g.gpugroupname, hosts: 0, pgpus: 0, types: [] };
      sum.hosts += 1;
      sum.pgpus += pgpuCount(g) ?? 0;
      for (const v of g.vgpu) {
        const t = sum.types.find((x) => x.vgputype === v.vgputype);
        if (t) {
          t.remainingcapacity += v.remainingcapacity;
          t.maxcapacity += v.maxcapacity;
        } else sum.types.push({ vgputype: v.vgputype, remainingcapacity: v.remainingcapacity, maxcapacity: v.maxcapacity });
      }
      groups.set(g.gpugroupname, sum);
    }
  }
  return [...groups.values()].sort((a, b) => a.gpugroupname.localeCompare(b.gpugroupname));
}

/**
 * Host placement: candidates (zone/pod/cluster/host constraints, Up and enabled hosts of the
 * right hypervisor), then filters that each give a verdict with a reason in words, then an
 * order. Every host considered is recorded so a refusal can say why.
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { HostRow } from '../hosts/host-manager.js';
import { HOLDS_CAPACITY } from '../vm/states.js';
import { where } from '../sql.js';

export interface PlacementRequest {
  zoneId: number;
  podId?: number;
  clusterId?: number;
  hostId?: number;
  cpuNumber: number;
  cpuSpeed: number;
  memory: number;
  hostTags: string[];
  /** The VM being placed, so its own reservation is not counted against it. */
  vmId?: number;
  excludeHostIds?: number[];
}

export interface HostVerdict {
  hostId: string;
  hostName: string;
  suitable: boolean;
  reason: string;
}

export interface PlacementOutcome {
  host?: HostRow;
  considered: HostVerdict[];
}

interface Usage {
  cpuMhz: number;
  memory: number;
}

type Filter = (host: HostRow, request: PlacementRequest, usage: Usage) => string | undefined;

/** Each filter returns a refusal reason, or undefined when the host passes. */
const FILTERS: Filter[] = [
  (host) => (host.state !== 'Up' ? `host is ${host.state}` : undefined),
  (host) => (host.resource_state !== 'Enabled' ? `host is ${host.resource_state}` : undefined),
  (host, req) => {
    const tags = host.host_tags.split(',').map((t) => t.trim()).filter(Boolean);
    const missing = req.hostTags.filter((t) => !tags.includes(t));
    return missing.length ? `tag ${missing.join(', ')} missing` : undefined;
  },
  (host, req) => (req.cpuNumber > host.cpu_number ? `cpu: needs ${req.cpuNumber} cores, host has ${host.cpu_number}` : undefined),
  (host, req, usage) => {
    const free = host.cpu_number * host.cpu_speed - usage.cpuMhz;
    const need = req.cpuNumber * req.cpuSpeed;
    return need > free ? `cpu: needs ${need} MHz, ${free} MHz free` : undefined;
  },
  (host, req, usage) => {
    const free = host.memory_total - usage.memory;
    return req.memory > free ? `memory: needs ${req.memory} MB, ${free} MB free` : undefined;
  },
];

export class Planner {
  constructor(private readonly db: Db) {}

  plan(request: PlacementRequest): PlacementOutcome {
    const w = where(['h.removed IS NULL'], [['h.zone_id', request.zoneId], ['h.pod_id', request.podId], ['h.cluster_id', request.clusterId], ['h.id', request.hostId]]);
    const hosts = this.db.prepare(`SELECT h.* FROM hosts h ${w.sql} ORDER BY h.id`).all(...w.values) as HostRow[];
    const considered: HostVerdict[] = [];
    const suitable: { host: HostRow; freeMemory: number }[] = [];
    for (const host of hosts) {
      if (request.excludeHostIds?.includes(host.id)) {
        considered.push({ hostId: host.uuid, hostName: host.name, suitable: false, reason: 'excluded for this attempt' });
        continue;
      }
      const usage = this.usage(host.id, request.vmId);
      const refusal = FILTERS.map((filter) => filter(host, request, usage)).find((r) => r !== undefined);
      considered.push({ hostId: host.uuid, hostName: host.name, suitable: !refusal, reason: refusal ?? 'suitable' });
      if (!refusal) suitable.push({ host, freeMemory: host.memory_total - usage.memory });
    }
    // firstfit order by default: the first suitable host in id order.
    return { host: suitable[0]?.host, considered };
  }

  /** Plans and throws 533 with the short explanation when nothing fits. */
  require(request: PlacementRequest, what: string): { host: HostRow; considered: HostVerdict[] } {
    const outcome = this.plan(request);
    if (!outcome.host) {
      const short = outcome.considered.length
        ? outcome.considered.map((v) => `${v.hostName}: ${v.reason}`).join('; ')
        : 'no hosts match the zone, pod, cluster or host given';
      throw ApiError.capacity(`Unable to create a deployment for ${what}: no suitable host (${short})`, { placement: outcome.considered });
    }
    return { host: outcome.host, considered: outcome.considered };
  }

  usage(hostId: number, exceptVmId?: number): Usage {
    const placeholders = HOLDS_CAPACITY.map(() => '?').join(',');
    const row = this.db
      .prepare(`SELECT COALESCE(SUM(cpu_number*cpu_speed),0) AS cpu, COALESCE(SUM(memory),0) AS mem FROM vm_instances WHERE host_id=? AND id<>? AND state IN (${placeholders})`)
      .get(hostId, exceptVmId ?? -1, ...HOLDS_CAPACITY) as { cpu: number; mem: number };
    return { cpuMhz: row.cpu, memory: row.mem };
  }
}

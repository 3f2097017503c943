/**
 * Host placement as a pipeline: candidates (zone/pod/cluster/host constraints, R25), filters
 * that give each host a verdict with a reason (state, host tags, private VLANs, storage tags, affinity, GPU, per-host VM limit, capacity), then
 * orderers (allocation algorithm, fill mode, OS preference, GPU hosts last, non-strict
 * affinity). Every host considered is recorded, so any placement can explain itself.
 */
import type { Db } from '../db/database.js';
import type { Statement } from 'better-sqlite3';
import type { Settings } from '../settings.js';
import { ApiError } from '../registry/errors.js';
import { where } from '../sql.js';
import { DbPlacementState, HOST_USAGE_SQL, toUsage, type UsageRow } from './db-state.js';
import { PLACEMENT_COLUMNS, type Candidate, type Filter, type HostVerdict, type Orderer, type PlacementHost, type PlacementOutcome, type PlacementRequest, type PlacementState, type Usage } from './types.js';
import { hostState } from './filters/host-state.js';
import { allocationState } from './filters/allocation-state.js';
import { capacity, overprovisioning } from './filters/capacity.js';
import { hostTags } from './filters/host-tags.js';
import { privateVlans } from './filters/private-vlans.js';
import { storageTags } from './filters/storage-tags.js';
import { affinity } from './filters/affinity.js';
import { gpu } from './filters/gpu.js';
import { guestLimit } from './filters/guest-limit.js';
import { allocationAlgorithm } from './orderers/allocation-algorithm.js';
import { fillMode } from './orderers/fill-mode.js';
import { gpuLast, nonStrictAffinity, osPreference } from './orderers/preferences.js';

export type { HostVerdict, PlacementOutcome, PlacementRequest } from './types.js';

// Policy refusals (host and storage tags, affinity, GPU) come before capacity, so the reason given is the one that matters most.
export const FILTERS: Filter[] = [allocationState, hostState, hostTags, privateVlans, storageTags, affinity, gpu, guestLimit, capacity];
/** Applied in this order; later orderers are stable partitions over the earlier order. */
export const ORDERERS: Orderer[] = [allocationAlgorithm, fillMode, nonStrictAffinity, osPreference, gpuLast];

export class Planner {
  constructor(
    private readonly db: Db,
    private readonly settings: Settings,
  ) {}

  private readonly statements = new Map<string, Statement>();

  candidates(request: PlacementRequest): PlacementHost[] {
    const w = where(['h.removed IS NULL'], [['h.zone_id', request.zoneId], ['h.pod_id', request.podId], ['h.cluster_id', request.clusterId], ['h.id', request.hostId]]);
    // One prepared statement per filter shape: preparing costs more than running at 1,000 hosts.
    const sql = `SELECT ${PLACEMENT_COLUMNS.map((c) => `h.${c}`).join(', ')} FROM hosts h ${w.sql} ORDER BY h.id`;
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement.all(...w.values) as PlacementHost[];
  }

  plan(request: PlacementRequest, state: PlacementState = new DbPlacementState(this.db, this.settings, request.vmId), hosts: PlacementHost[] = this.candidates(request)): PlacementOutcome {
    const considered: HostVerdict[] = [];
    let suitable: Candidate[] = [];
    for (const host of hosts) {
      if (request.excludeHostIds?.includes(host.id)) {
        considered.push({ hostId: host.uuid, hostName: host.name, suitable: false, reason: 'excluded for this attempt' });
        continue;
      }
      const candidate = { host, usage: state.usage(host.id) };
      let refusal: string | undefined;
      for (const filter of FILTERS) {
        refusal = filter.check(candidate, request, state);
        if (refusal) break;
      }
      considered.push({ hostId: host.uuid, hostName: host.name, suitable: !refusal, reason: refusal ?? 'suitable' });
      if (!refusal) suitable.push(candidate);
    }
    for (const orderer of ORDERERS) suitable = orderer.order(suitable, request, state);
    const policy = [state.setting('vm.allocation.algorithm'), state.setting('vm.allocation.mode')].filter(Boolean).join(', ');
    return { host: suitable[0]?.host, considered, order: suitable.map((c) => c.host.name), policy };
  }

  /** Plans and throws 533 with the short explanation when nothing fits. */
  require(request: PlacementRequest, what: string): PlacementOutcome & { host: PlacementHost } {
    const outcome = this.plan(request);
    if (!outcome.host) throw ApiError.capacity(`Unable to create a deployment for ${what}: ${explainShort(outcome)}`, { placement: outcome.considered });
    return outcome as PlacementOutcome & { host: PlacementHost };
  }

  /** The overprovisioning factors of a cluster (cpu.overprovisioning.factor, mem.overprovisioning.factor). */
  overprovisioning(clusterId: number): { cpu: number; memory: number } {
    return overprovisioning((name) => this.settings.raw(name, { clusterId }));
  }

  /** One host's allocated usage (one indexed row of host_usage; listHosts calls this per host). */
  usage(hostId: number): Usage {
    let statement = this.statements.get(HOST_USAGE_SQL);
    if (!statement) this.statements.set(HOST_USAGE_SQL, (statement = this.db.prepare(HOST_USAGE_SQL)));
    return toUsage(statement.get(hostId) as UsageRow | undefined);
  }
}

export function explainShort(outcome: PlacementOutcome): string {
  if (outcome.considered.length === 0) return 'no hosts match the zone, pod, cluster or host given';
  return `no suitable host (${outcome.considered.map((v) => `${v.hostName}: ${v.reason}`).join('; ')})`;
}

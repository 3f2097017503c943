/**
 * Pieces of deploy input that more than one command resolves (deploy, start, import): the
 * owner (account + domainid), admin placement (pod/cluster/host) and CPU/memory from a fixed,
 * custom or constrained offering.
 */
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import type { Args } from '../registry/params.js';
import type { Caller } from '../registry/types.js';
import { byUuid } from '../lookup.js';
import { requireAccountAccess } from './access.js';
import type { OfferingRow } from './rows.js';

export function resolveOwner(engine: Engine, caller: Caller, args: Args): { accountId: number; userId: number; domainId: number } {
  const account = args.str('account');
  const domainUuid = args.uuid('domainid');
  if (!account && !domainUuid) return { accountId: caller.accountId, userId: caller.userId, domainId: caller.domainId };
  if (!account || !domainUuid) throw ApiError.param('account and domainid: give both to act for another account');
  const domain = byUuid<{ id: number }>(engine.db, 'domain', domainUuid, 'domainid');
  const row = engine.db.prepare('SELECT a.id, a.domain_id, (SELECT MIN(u.id) FROM users u WHERE u.account_id=a.id AND u.removed IS NULL) AS user_id FROM accounts a WHERE a.name=? AND a.domain_id=? AND a.removed IS NULL').get(account, domain.id) as
    | { id: number; domain_id: number; user_id: number }
    | undefined;
  if (!row) throw ApiError.param(`account: no account ${account} in that domain`);
  requireAccountAccess(engine.db, caller, row.id, `account ${account}`);
  return { accountId: row.id, userId: row.user_id, domainId: row.domain_id };
}

export function resolvePlacement(engine: Engine, zoneId: number, args: Args): { podId?: number; clusterId?: number; hostId?: number } {
  const out: { podId?: number; clusterId?: number; hostId?: number } = {};
  const check = (entity: 'pod' | 'cluster' | 'host', param: string) => {
    const uuid = args.uuid(param);
    if (!uuid) return undefined;
    const row = byUuid<{ id: number; zone_id: number }>(engine.db, entity, uuid, param);
    if (row.zone_id !== zoneId) throw ApiError.param(`${param}: not in the VM's zone`);
    return row.id;
  };
  const podId = check('pod', 'podid');
  const clusterId = check('cluster', 'clusterid');
  const hostId = check('host', 'hostid');
  if (podId !== undefined) out.podId = podId;
  if (clusterId !== undefined) out.clusterId = clusterId;
  if (hostId !== undefined) out.hostId = hostId;
  return out;
}

/** CPU count, speed and memory from the offering, or from details for custom offerings. */
export function resolveResources(offering: OfferingRow, details: Record<string, string>): { cpuNumber: number; cpuSpeed: number; memory: number } {
  const read = (key: string): number | undefined => {
    const value = details[key];
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < 1) throw ApiError.param(`details[0].${key}: must be a positive integer`);
    return Number(value);
  };
  const custom = offering.cpu_number === null || offering.memory === null;
  if (!custom) {
    for (const key of ['cpuNumber', 'memory']) if (details[key] !== undefined) throw ApiError.param(`details[0].${key}: offering ${offering.name} is not custom; its CPU and memory are fixed`);
    return { cpuNumber: offering.cpu_number!, cpuSpeed: offering.cpu_speed ?? 1000, memory: offering.memory! };
  }
  const cpuNumber = read('cpuNumber');
  const memory = read('memory');
  const cpuSpeed = offering.cpu_speed ?? read('cpuSpeed');
  if (cpuNumber === undefined) throw ApiError.param(`details[0].cpuNumber: offering ${offering.name} is custom; give cpuNumber`);
  if (memory === undefined) throw ApiError.param(`details[0].memory: offering ${offering.name} is custom; give memory (MB)`);
  if (cpuSpeed === undefined) throw ApiError.param(`details[0].cpuSpeed: offering ${offering.name} is custom unconstrained; give cpuSpeed (MHz)`);
  const within = (key: string, v: number, min: number | null, max: number | null) => {
    if ((min !== null && v < min) || (max !== null && v > max)) throw ApiError.param(`details[0].${key}: ${v} is outside ${min ?? '-'}..${max ?? '-'} allowed by offering ${offering.name}`);
  };
  within('cpuNumber', cpuNumber, offering.min_cpu_number, offering.max_cpu_number);
  within('memory', memory, offering.min_memory, offering.max_memory);
  return { cpuNumber, cpuSpeed, memory };
}

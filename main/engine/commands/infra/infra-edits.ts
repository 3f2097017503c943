/**
 * What updateZone, updatePod and updateCluster, and deleteZone, deletePod and deleteCluster share:
 * the allocation-state rule, the name check, the answer read back through the list command (so an
 * update answers exactly what listZones/listPods/listClusters and the live channel show), the
 * refusal that names what is still in the way of a delete, and the soft delete itself.
 *
 * updateCommand is the one definition of an update: id, the name parameter and allocationstate,
 * the sibling-name check, the transaction with the rename and allocation state, and the answer;
 * each kind adds only its own parameters (updateZone's DNS and CIDR, updatePod's range,
 * updateCluster's managed state).
 *
 * Each change records an event on the zone, pod or cluster: that is what marks it on the 'zones',
 * 'pods' or 'clusters' live channel (live/infra-feed.ts), which sends the new record, or its id in
 * `removed` once the list no longer finds it.
 */
import type { Engine } from '../../engine.js';
import type { Db } from '../../db/database.js';
import { defineCommand, ADMIN_ONLY, type ApiObject, type Caller, type ParamDef, type SyncCommand } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import type { ParamRule } from '../../registry/param-rules.js';
import type { Args } from '../../registry/params.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';

export type InfraKind = 'zone' | 'pod' | 'cluster';

const TABLE = { zone: 'zones', pod: 'pods', cluster: 'clusters' } as const;
const LIST = { zone: ['listZones', 'zone'], pod: ['listPods', 'pod'], cluster: ['listClusters', 'cluster'] } as const;
export const RESOURCE_TYPE = { zone: 'Zone', pod: 'Pod', cluster: 'Cluster' } as const;

/** CloudStack's Grouping.AllocationState (its valueOf is case-sensitive, and so is this). */
export const ALLOCATION_STATE_RULE: ParamRule = { pattern: '^(?:Enabled|Disabled)$', message: 'is not an allocation state: Enabled or Disabled' };

export function allocationStateParam(kind: InfraKind): ParamDef {
  return { name: 'allocationstate', type: 'string', rule: ALLOCATION_STATE_RULE, description: `Allocation state of this ${kind} for allocation of new resources: Enabled, or Disabled (no new VM is placed in it)` };
}

/**
 * The new name when NAMEPARAM is given: not blank, and not one TAKEN says another live sibling has
 * (TAKEN answers the refusal's words, or undefined when the name is free).
 */
export function newName(args: Args, nameParam: string, what: InfraKind, taken: (name: string) => string | undefined): string | undefined {
  if (!args.has(nameParam)) return undefined;
  const name = args.str(nameParam)!.trim();
  if (name === '') throw ApiError.param(`${nameParam}: a ${what} name cannot be empty`);
  const refusal = taken(name);
  if (refusal) throw ApiError.param(`${nameParam}: ${refusal}`);
  return name;
}

/** The record as the list command answers it for CALLER (an update's response, the same object the live channel sends). */
export async function readBack(engine: Engine, caller: Caller, kind: InfraKind, uuid: string): Promise<ApiObject> {
  const [command, key] = LIST[kind];
  const result = await engine.registry.execute(command, { id: uuid }, caller);
  const [record] = result.status === 200 && Array.isArray(result.body[key]) ? (result.body[key] as ApiObject[]) : [];
  if (!record) throw ApiError.internal(`${kind} ${uuid} could not be read back`);
  return record;
}

/** One kind of record that keeps a zone, pod or cluster from being deleted: its names, for the row's id. */
interface InTheWay {
  one: string;
  many: string;
  sql: string;
}

const live = (table: string, column: string, name = 'name') => `SELECT ${name} FROM ${table} WHERE ${column}=? AND removed IS NULL ORDER BY id`;
const vms = (column: string) => `SELECT display_name FROM vm_instances WHERE ${column}=? AND removed IS NULL AND state<>'Expunged' ORDER BY id`;

/** As CloudStack's checkIfZoneIsDeletable / checkIfPodIsDeletable and deleteCluster check, for what Kiln has. */
const BLOCKERS: Record<InfraKind, InTheWay[]> = {
  zone: [
    { one: 'pod', many: 'pods', sql: live('pods', 'zone_id') },
    { one: 'host', many: 'hosts', sql: live('hosts', 'zone_id') },
    { one: 'network', many: 'networks', sql: live('networks', 'zone_id') },
    { one: 'primary storage pool', many: 'primary storage pools', sql: live('storage_pools', 'zone_id') },
    { one: 'VM', many: 'VMs', sql: vms('zone_id') },
    { one: 'volume', many: 'volumes', sql: live('volumes', 'zone_id') },
    { one: 'template or ISO in its image store', many: 'templates and ISOs in its image store', sql: live('templates', 'zone_id') },
    { one: 'backup offering', many: 'backup offerings', sql: live('backup_offerings', 'zone_id') },
    { one: 'backup repository', many: 'backup repositories', sql: live('backup_repositories', 'zone_id') },
  ],
  pod: [
    { one: 'cluster', many: 'clusters', sql: live('clusters', 'pod_id') },
    { one: 'host', many: 'hosts', sql: live('hosts', 'pod_id') },
    { one: 'primary storage pool', many: 'primary storage pools', sql: live('storage_pools', 'pod_id') },
    { one: 'VM', many: 'VMs', sql: vms('pod_id') },
  ],
  cluster: [
    { one: 'host', many: 'hosts', sql: live('hosts', 'cluster_id') },
    { one: 'primary storage pool', many: 'primary storage pools', sql: live('storage_pools', 'cluster_id') },
    { one: 'VM', many: 'VMs', sql: vms('cluster_id') },
  ],
};

export const someNames = (names: string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);

/** The row a pod or cluster is in, for the delete event's words ("pod P of zone Z deleted"). */
const PARENT: Record<InfraKind, { table: string; column: 'zone_id' | 'pod_id'; kind: InfraKind } | undefined> = {
  zone: undefined,
  pod: { table: 'zones', column: 'zone_id', kind: 'zone' },
  cluster: { table: 'pods', column: 'pod_id', kind: 'pod' },
};

/**
 * deleteZone, deletePod and deleteCluster: the one ID parameter, root admin only (CloudStack's
 * BaseCmd, a sync command answering success), and deleteInfra.
 */
export function deleteCommand(kind: InfraKind, name: string, description: string): SyncCommand {
  return defineCommand({
    name,
    description,
    kind: 'sync',
    roles: ADMIN_ONLY,
    response: 'success',
    params: [{ name: 'id', type: 'uuid', required: true, description: `the ID of the ${kind}` }],
    handler({ engine, caller }, args) {
      deleteInfra(engine, caller, kind, byUuid<{ id: number; uuid: string; name: string; zone_id?: number; pod_id?: number }>(engine.db, kind, args.uuid('id')!, 'id'));
      return {};
    },
  });
}

/**
 * Soft-deletes the zone, pod or cluster ROW, or refuses with a 431 that names everything still in
 * it. The row's name is freed (CloudStack sets it NULL on remove; here the column is NOT NULL and
 * UNIQUE, so it becomes "<name> (removed <uuid>)"): a new one may take the name again.
 */
export function deleteInfra(engine: Engine, caller: Caller, kind: InfraKind, row: { id: number; uuid: string; name: string; zone_id?: number; pod_id?: number }): void {
  const db = engine.db;
  const parent = PARENT[kind];
  const where = parent ? ` of ${parent.kind} ${db.prepare(`SELECT name FROM ${parent.table} WHERE id=?`).pluck().get(row[parent.column]) as string}` : '';
  db.transaction(() => {
    const inTheWay: string[] = [];
    for (const blocker of BLOCKERS[kind]) {
      const names = db.prepare(blocker.sql).pluck().all(row.id) as string[];
      if (names.length > 0) inTheWay.push(`${names.length} ${names.length === 1 ? blocker.one : blocker.many} (${someNames(names)})`);
    }
    if (inTheWay.length > 0) {
      const list = inTheWay.length === 1 ? inTheWay[0] : `${inTheWay.slice(0, -1).join(', ')} and ${inTheWay.at(-1)}`;
      throw ApiError.param(`id: ${kind} ${row.name} cannot be deleted: it still has ${list}`);
    }
    db.prepare(`UPDATE ${TABLE[kind]} SET removed=?, name=? WHERE id=?`).run(now(), `${row.name} (removed ${row.uuid})`, row.id);
    engine.events.record({ type: `${kind.toUpperCase()}.DELETE`, description: `${kind} ${row.name}${where} deleted`, userId: caller.userId, accountId: caller.accountId, resourceType: RESOURCE_TYPE[kind], resourceUuid: row.uuid });
  })();
}

/**
 * Records the update event on the row (which sends it on its live channel) and answers the record
 * as the list reads it. A rename also changes the zone/pod/cluster names in its hosts' records, so
 * each of them goes out on the 'hosts' channel again (hosts/host-feed.ts).
 */
export async function updated(engine: Engine, caller: Caller, kind: InfraKind, row: { id: number; uuid: string; name: string; renamed: boolean }, changes: string[]): Promise<ApiObject> {
  if (row.renamed) {
    for (const hostId of engine.db.prepare(`SELECT id FROM hosts WHERE ${kind}_id=? AND removed IS NULL`).pluck().all(row.id) as number[]) engine.hosts.events.emit('host-changed', { hostId });
  }
  engine.events.record({ type: `${kind.toUpperCase()}.EDIT`, description: `${kind} ${row.name} updated${changes.length ? `: ${changes.join(', ')}` : ''}`, userId: caller.userId, accountId: caller.accountId, resourceType: RESOURCE_TYPE[kind], resourceUuid: row.uuid });
  return readBack(engine, caller, kind, row.uuid);
}

/** What one kind's update adds to updateCommand's shared part. */
export interface UpdateSpec<Row extends { id: number; uuid: string; name: string }> {
  kind: InfraKind;
  name: string;
  description: string;
  response: string;
  /** The name parameter: 'name' (zone, pod) or 'clustername'. */
  nameParam: string;
  nameDescription: string;
  /** The kind's own parameters, after id, the name and allocationstate. */
  params: ParamDef[];
  /** The refusal's words when NAME is taken by another live sibling of ROW, else undefined. */
  taken(db: Db, row: Row, name: string): string | undefined;
  /**
   * The kind's own parameters: checked before anything is written (a 431 here leaves all as it
   * was), then WRITE, called inside the update's transaction, sets them and says what changed.
   */
  check(engine: Engine, row: Row, args: Args): { write(changes: string[]): void };
  /** After the transaction, before the answer (updateCluster: the hosts' sessions). */
  after?(engine: Engine, row: Row, args: Args): Promise<void>;
}

/** updateZone, updatePod and updateCluster: the shared parameters and handler, and SPEC's own part. */
export function updateCommand<Row extends { id: number; uuid: string; name: string }>(spec: UpdateSpec<Row>): SyncCommand {
  const { kind } = spec;
  const label = RESOURCE_TYPE[kind];
  return defineCommand({
    name: spec.name,
    description: spec.description,
    kind: 'sync',
    roles: ADMIN_ONLY,
    response: spec.response,
    params: [{ name: 'id', type: 'uuid', required: true, description: `the ID of the ${label}` }, { name: spec.nameParam, type: 'string', description: spec.nameDescription }, allocationStateParam(kind), ...spec.params],
    async handler({ engine, caller }, args) {
      const db = engine.db;
      const row = byUuid<Row>(db, kind, args.uuid('id')!, 'id');
      const name = newName(args, spec.nameParam, kind, (n) => spec.taken(db, row, n));
      const state = args.str('allocationstate') || undefined;
      const own = spec.check(engine, row, args);
      const changes: string[] = [];
      const renamed = name !== undefined && name !== row.name;
      db.transaction(() => {
        if (renamed) {
          db.prepare(`UPDATE ${TABLE[kind]} SET name=? WHERE id=?`).run(name, row.id);
          changes.push(`renamed to ${name}`);
        }
        if (state) {
          db.prepare(`UPDATE ${TABLE[kind]} SET allocation_state=? WHERE id=?`).run(state, row.id);
          changes.push(state);
        }
        own.write(changes);
      })();
      await spec.after?.(engine, row, args);
      return updated(engine, caller, kind, { id: row.id, uuid: row.uuid, name: renamed ? name! : row.name, renamed }, changes);
    },
  });
}

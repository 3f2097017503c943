/**
 * Finds a row by the uuid a caller passed, or throws 431 naming the parameter. One helper so
 * every command answers a bad id the same way.
 */
import type { Db } from './db/database.js';
import { noSuchEntity } from './registry/command-scope.js';

const TABLES = {
  zone: 'zones',
  pod: 'pods',
  cluster: 'clusters',
  host: 'hosts',
  template: 'templates',
  serviceOffering: 'service_offerings',
  diskOffering: 'disk_offerings',
  network: 'networks',
  vm: 'vm_instances',
  volume: 'volumes',
  account: 'accounts',
  domain: 'domains',
  user: 'users',
  guestOs: 'guest_os',
  osCategory: 'guest_os_categories',
  affinityGroup: 'affinity_groups',
  vmSnapshot: 'vm_snapshots',
  hypervisorCapability: 'hypervisor_capabilities',
  storagePool: 'storage_pools',
} as const;

export type Entity = keyof typeof TABLES;

/** Rows that have a `removed` column are invisible once removed. */
const SOFT_DELETED = new Set(['zones', 'pods', 'clusters', 'hosts', 'templates', 'service_offerings', 'disk_offerings', 'networks', 'volumes', 'accounts', 'users', 'vm_snapshots', 'storage_pools']);

export function byUuid<T>(db: Db, entity: Entity, uuid: string, param: string): T {
  const table = TABLES[entity];
  const removed = SOFT_DELETED.has(table) ? ' AND removed IS NULL' : '';
  const row = db.prepare(`SELECT * FROM ${table} WHERE uuid=?${removed}`).get(uuid) as T | undefined;
  if (!row) throw noSuchEntity(param, uuid);
  return row;
}

export function uuidOf(db: Db, entity: Entity, id: number | null | undefined): string | undefined {
  if (id === null || id === undefined) return undefined;
  const row = db.prepare(`SELECT uuid FROM ${TABLES[entity]} WHERE id=?`).get(id) as { uuid: string } | undefined;
  return row?.uuid;
}

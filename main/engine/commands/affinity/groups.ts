/** Affinity groups (R27): the types, the response object, and resolving ids/names for an account. */
import type { Db } from '../../db/database.js';
import { ApiError } from '../../registry/errors.js';
import type { ApiObject } from '../../registry/types.js';
import { UUID_RE } from '../../registry/params.js';
import { PAGE_IDS, rowsFor } from '../../registry/list-page.js';

export const AFFINITY_TYPES = ['host anti-affinity', 'host affinity', 'non-strict host anti-affinity', 'non-strict host affinity'];

interface GroupRow {
  id: number;
  uuid: string;
  name: string;
  description: string | null;
  type: string;
  account_id: number;
  domain_id: number;
}

export function groupView(db: Db, id: number): ApiObject {
  return groupViews(db, [id])[0]!;
}

/** The responses of a page of groups (by id, in that order): the groups and their members in one statement each. */
export function groupViews(db: Db, ids: readonly number[]): ApiObject[] {
  const groups = rowsFor<GroupRow & { account: string; domainid: string; domain: string }>(
    db, `SELECT g.*, a.name AS account, d.uuid AS domainid, d.name AS domain FROM affinity_groups g JOIN accounts a ON a.id=g.account_id JOIN domains d ON d.id=g.domain_id WHERE g.id ${PAGE_IDS}`, ids, 'id',
  );
  const members = rowsFor<{ group_id: number; uuid: string }>(
    db, `SELECT m.group_id, v.uuid FROM affinity_group_vms m JOIN vm_instances v ON v.id=m.vm_id WHERE m.group_id ${PAGE_IDS} AND v.state<>'Expunged' ORDER BY m.group_id, v.id`, ids, 'group_id',
  );
  return ids.flatMap((id) => {
    const g = groups.get(id)?.[0];
    if (!g) return [];
    return [{ id: g.uuid, name: g.name, description: g.description ?? undefined, type: g.type, account: g.account, domainid: g.domainid, domain: g.domain, virtualmachineIds: (members.get(id) ?? []).map((m) => m.uuid) }];
  });
}

/** Groups named by id or by name, all of which must belong to the VM owner's account. */
export function resolveGroups(db: Db, accountId: number, ids: string[] | undefined, names: string[] | undefined, param: { ids: string; names: string }): number[] {
  if (ids && names) throw ApiError.param(`${param.ids} and ${param.names}: give one or the other`);
  const out: number[] = [];
  for (const id of ids ?? []) {
    if (!UUID_RE.test(id)) throw ApiError.param(`${param.ids}: ${id} is not a UUID`);
    const row = db.prepare('SELECT id, account_id FROM affinity_groups WHERE uuid=?').get(id) as { id: number; account_id: number } | undefined;
    if (!row) throw ApiError.param(`${param.ids}: no affinity group ${id}`);
    if (row.account_id !== accountId) throw ApiError.denied(`${param.ids}: affinity group ${id} belongs to another account`);
    out.push(row.id);
  }
  for (const name of names ?? []) {
    const row = db.prepare('SELECT id FROM affinity_groups WHERE name=? AND account_id=?').get(name, accountId) as { id: number } | undefined;
    if (!row) throw ApiError.param(`${param.names}: the account has no affinity group named ${name}`);
    out.push(row.id);
  }
  return [...new Set(out)];
}

/**
 * Reading tags: the `tags` array every tagged resource's response carries, and the
 * `tags[i].key`/`tags[i].value` filter of the list commands as a reusable SQL fragment.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.js';
import type { ApiObject } from '../registry/types.js';
import type { MapEntry } from '../registry/params.js';
import { ApiError } from '../registry/errors.js';
import type { ParamDef } from '../registry/types.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';

/** The filter parameter each tagged list command declares, as CloudStack's BaseListTaggedResourcesCmd. */
export const TAGS_FILTER_PARAM: ParamDef = { name: 'tags', type: 'map', description: 'List resources by tags (key/value pairs): tags[0].key=k&tags[0].value=v' };

export interface TagFilter {
  sql: string;
  values: unknown[];
}

/**
 * An SQL condition that holds for rows of RESOURCETYPE (whose internal id is ID_COLUMN) carrying
 * any of the given tags, or undefined when no tag filter was given. Several tags match as
 * CloudStack's list queries match them: a resource with any one of the pairs (OR). A pair without
 * a value is a 431, as CloudStack's getTags() refuses it.
 */
export function tagFilter(entries: MapEntry[] | undefined, resourceType: string, idColumn: string, param = 'tags'): TagFilter | undefined {
  if (!entries || entries.length === 0) return undefined;
  const pairs = entries.map((e) => {
    const key = e['key'];
    const value = e['value'];
    if (key === undefined || key === '') throw ApiError.param(`${param}: each tag needs a key (${param}[i].key)`);
    if (value === undefined) throw ApiError.param(`${param}: No value is passed in for key ${key}`);
    return [key, value] as const;
  });
  const any = pairs.map(() => '(rt.key=? AND rt.value=?)').join(' OR ');
  return {
    sql: `EXISTS (SELECT 1 FROM resource_tags rt WHERE rt.resource_type=? AND rt.resource_id=${idColumn} AND (${any}))`,
    values: [resourceType, ...pairs.flat()],
  };
}

interface TagRow extends Record<string, unknown> {
  key: string;
  value: string;
  resource_type: string;
  resource_uuid: string;
  customer: string | null;
  account: string;
  domainid: string;
  domain: string;
}

const TAG_COLUMNS = 'rt.key, rt.value, rt.resource_type, rt.resource_uuid, rt.customer, a.name AS account, d.uuid AS domainid, d.name AS domain';
const TAG_FROM = 'FROM resource_tags rt JOIN accounts a ON a.id=rt.account_id JOIN domains d ON d.id=rt.domain_id';
const TAG_SELECT = `SELECT ${TAG_COLUMNS}\n  ${TAG_FROM}`;

/** The `tag` object of CloudStack's ResourceTagResponse. */
export function tagResponse(row: TagRow): ApiObject {
  return {
    key: row.key,
    value: row.value,
    resourcetype: row.resource_type,
    resourceid: row.resource_uuid,
    account: row.account,
    domainid: row.domainid,
    domain: row.domain,
    customer: row.customer ?? undefined,
  };
}

const statements = new WeakMap<Db, Statement<[string, number], TagRow>>();

/** The tags of one resource, for the `tags` field of its response (listing many: one prepared statement). */
export function tagsOf(db: Db, resourceType: string, resourceId: number): ApiObject[] {
  let st = statements.get(db);
  if (!st) statements.set(db, (st = db.prepare(`${TAG_SELECT} WHERE rt.resource_type=? AND rt.resource_id=? ORDER BY rt.key`)));
  return st.all(resourceType, resourceId).map(tagResponse);
}

export { TAG_COLUMNS, TAG_FROM, TAG_SELECT, type TagRow };

/** The tags of a page of resources of one type, by internal id, in one statement. */
export function tagsForPage(db: Db, resourceType: string, ids: readonly number[]): Map<number, ApiObject[]> {
  // rowsFor binds the ids first, then the type.
  const sql = `${TAG_SELECT.replace('SELECT ', 'SELECT rt.resource_id, ')} WHERE rt.resource_id ${PAGE_IDS} AND rt.resource_type=? ORDER BY rt.resource_id, rt.key`;
  const rows = rowsFor<TagRow & { resource_id: number }>(db, sql, ids, 'resource_id', resourceType);
  return new Map([...rows].map(([id, list]) => [Number(id), list.map(tagResponse)]));
}

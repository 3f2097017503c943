/**
 * Paging in the query, not after it. The registry turns `page`/`pagesize` into a PageWindow
 * before a list command runs; the command hands its filtered query to `queryPage`, which counts
 * the matches with COUNT(*) on the same filter and selects only the page's rows, so a page costs
 * what it holds, not what the inventory holds. Related data (NICs, tags, volumes, …) for the
 * page's rows is then read with `rowsFor`: one statement per page, never one per row.
 *
 * A command that declares its query once:
 *
 *   handler({ engine, caller }, args, page) {
 *     const w = where([...], [...]);
 *     return queryPage<Row>(engine.db, page, { from: `FROM t JOIN … ${w.sql}`, values: w.values, orderBy: 't.id' },
 *       (rows) => rows.map(toResponse));
 *   }
 */
import type { Db } from '../db/database.js';
import { ApiError } from './errors.js';
import type { ApiObject } from './types.js';

/** Which rows a list call asked for: skip OFFSET, then at most LIMIT (all when undefined). */
export interface PageWindow {
  offset: number;
  limit?: number;
}

/** What a paged list command answers: the total that matched and the response objects of the page. */
export interface ListPage {
  count: number;
  items: ApiObject[];
}

/** The whole list, for callers inside the engine that are not answering an API call. */
export const ALL_ROWS: PageWindow = { offset: 0 };

/**
 * CloudStack's page rules: page and pagesize need each other, pagesize=-1 means all rows and takes
 * no page, and default.page.size caps pagesize.
 */
export function pageWindow(page: number | undefined, pageSize: number | undefined, maxPageSize: number): PageWindow {
  if ((page === undefined) !== (pageSize === undefined) && !(pageSize === -1 && page === undefined)) {
    throw ApiError.param(page === undefined ? 'pagesize: requires page' : 'page: requires pagesize');
  }
  if (pageSize === undefined || pageSize === -1) {
    if (pageSize === -1 && page !== undefined) throw ApiError.param('page: cannot be combined with pagesize=-1');
    return ALL_ROWS;
  }
  if (pageSize < 1) throw ApiError.param('pagesize: must be a positive number, or -1 for all');
  if (pageSize > maxPageSize) throw ApiError.param(`pagesize: the largest page size is ${maxPageSize} (default.page.size)`);
  if (page === undefined || page < 1) throw ApiError.param('page: must be 1 or more');
  return { offset: (page - 1) * pageSize, limit: pageSize };
}

/**
 * CloudStack's list envelope: `count` is the total, and an empty list has no `count` at all. A
 * page past the last one has the total and no objects, as CloudStack's serializer writes only
 * the objects there are.
 */
export function listEnvelope(result: ListPage, objectName: string): ApiObject {
  if (result.count === 0) return {};
  if (result.items.length === 0) return { count: result.count };
  return { count: result.count, [objectName]: result.items };
}

/** A page of an array a command built in memory (small, fixed lists such as listApis or capabilities). */
export function pageOfArray(items: ApiObject[], window: PageWindow): ListPage {
  const end = window.limit === undefined ? undefined : window.offset + window.limit;
  return { count: items.length, items: items.slice(window.offset, end) };
}

export interface PagedQuery {
  /** `FROM … JOIN … WHERE …`: the same text serves the COUNT(*) and the page's SELECT. */
  from: string;
  values: unknown[];
  /** A total order (end with a unique column), so pages neither overlap nor skip rows. */
  orderBy: string;
  /** The columns of a page row, e.g. `v.*`. */
  select: string;
  /** COUNT(DISTINCT …) when the joins can repeat a row; COUNT(*) otherwise. */
  countExpr?: string;
  /**
   * The same total, read from kept counts instead of the rows (e.g. vm_instance_counts), for a
   * filter those counts can answer; the COUNT over FROM otherwise.
   */
  total?: number;
}

/** Two statements, whatever the inventory holds: the total, then the page's rows, which BUILD turns into responses. */
export function queryPage<Row>(db: Db, window: PageWindow, query: PagedQuery, build: (rows: Row[]) => ApiObject[]): ListPage {
  const n = query.total ?? (db.prepare(`SELECT ${query.countExpr ?? 'COUNT(*)'} AS n ${query.from}`).get(...query.values) as { n: number }).n;
  if (n === 0 || window.offset >= n) return { count: n, items: [] };
  const rows = db.prepare(`SELECT ${query.select} ${query.from} ORDER BY ${query.orderBy} LIMIT ? OFFSET ?`).all(...query.values, window.limit ?? -1, window.offset) as Row[];
  return { count: n, items: build(rows) };
}

/**
 * Rows related to a page's ids in one statement. SQL must take the ids as `IN (SELECT value FROM
 * json_each(?))`: one parameter however long the page, so a pagesize=-1 list of 10,000 VMs stays
 * below SQLite's variable limit. KEY names the column that groups the result by id.
 */
export function rowsFor<Row extends object, Id extends number | string = number>(db: Db, sql: string, ids: readonly Id[], key: keyof Row & string, ...extra: unknown[]): Map<Id, Row[]> {
  const grouped = new Map<Id, Row[]>();
  if (ids.length === 0) return grouped;
  for (const row of db.prepare(sql).all(JSON.stringify(ids), ...extra) as Row[]) {
    const k = row[key] as Id;
    const list = grouped.get(k);
    if (list) list.push(row);
    else grouped.set(k, [row]);
  }
  return grouped;
}

/** The SQL fragment rowsFor's statements use for the page's ids. */
export const PAGE_IDS = 'IN (SELECT value FROM json_each(?))';

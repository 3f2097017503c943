import { defineCommand, ALL_ROLES, type Caller } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { ApiError } from '../../registry/errors.js';
import { where, type Filter } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { VM_STATES } from '../../vm/states.js';
import type { VmRow } from '../../vm/rows.js';
import { FULL_VIEW, VM_DETAIL_GROUPS, vmResponses, type VmDetailGroup } from '../../vm/vm-response.js';
import { queryPage, type PageWindow } from '../../registry/list-page.js';
import type { Db } from '../../db/database.js';
import { TAGS_FILTER_PARAM, tagFilter } from '../../tags/tag-query.js';

/**
 * The joins the filter needs, and only those: the page selects v.* and the responses read their
 * related rows per page, so an unfiltered COUNT(*) reads vm_instances alone (at 10,000 VMs the
 * five joins made the count cost more than the page). Every VM has its zone, account and domain
 * (NOT NULL foreign keys), so leaving those joins out never changes which rows match.
 */
const JOINS: [alias: string, sql: string][] = [
  ['z', 'JOIN zones z ON z.id=v.zone_id'],
  ['a', 'JOIN accounts a ON a.id=v.account_id'],
  ['d', 'JOIN domains d ON d.id=v.domain_id'],
  ['h', 'LEFT JOIN hosts h ON h.id=v.host_id'],
  ['t', 'LEFT JOIN templates t ON t.id=v.template_id'],
];
function joinsFor(whereSql: string): string {
  return JOINS.filter(([alias]) => new RegExp(`\\b${alias}\\.`).test(whereSql)).map(([, sql]) => sql).join(' ');
}

/** The states a caller's lists leave out: users do not see destroyed VMs, admins see them until expunged. */
function hiddenStates(caller: Caller, column: string): string {
  return caller.role === 'User' ? `${column} NOT IN ('Destroyed','Expunged')` : `${column}<>'Expunged'`;
}

/**
 * The total of a list filtered by scope and state alone (the VM list's usual call), from the
 * counts per account and state that triggers keep (migration 48): a sum over a few rows, where
 * COUNT(*) read every VM in scope. Also every row vm_instances holds (`rows`), for pageScopeColumn.
 */
function keptTotal(db: Db, caller: Caller, state: string | undefined): { n: number; rows: number } {
  const scope = accountScope(caller, 'c.account_id');
  const w = where([scope.sql, hiddenStates(caller, 'c.state')], [['c.state', state, 'ieq']]);
  const sql = `SELECT COALESCE(SUM(CASE WHEN ${w.sql.replace(/^WHERE /, '')} THEN c.n ELSE 0 END), 0) AS n, COALESCE(SUM(c.n), 0) AS rows FROM vm_instance_counts c`;
  return db.prepare(sql).get(...scope.values, ...w.values) as { n: number; rows: number };
}

/**
 * The scope's column in the page query. A domain admin's scope is an IN over its domain's
 * accounts: through the account index SQLite reads every VM in scope and sorts them all for ORDER
 * BY v.id (a page=10 took 3.8x as long at 10,000 VMs in the domain as at 500). Walking
 * vm_instances in id order instead (`+v.account_id` keeps the index out) stops after the page,
 * having read about (offset + limit) * rows / inScope rows. A row walked past costs far less than
 * a row read and sorted (at 10,000 VMs about 0.035 µs against 0.4 µs), so the walk is taken
 * unless it reads more than WALK_PER_SORTED times the rows the scope holds: where the domain
 * holds a fair share of all VMs, or the page is near the front.
 */
const WALK_PER_SORTED = 8;
function pageScopeColumn(caller: Caller, window: PageWindow, kept: { n: number; rows: number } | undefined): string {
  if (caller.role !== 'DomainAdmin' || !kept || kept.n === 0) return 'v.account_id';
  const walked = ((window.offset + (window.limit ?? kept.n)) * kept.rows) / kept.n;
  return walked <= WALK_PER_SORTED * kept.n ? '+v.account_id' : 'v.account_id';
}

/** The `details` parameter as a view; an unknown group is a parameter error, as in CloudStack. */
function detailView(groups: string[] | undefined): ReadonlySet<VmDetailGroup> {
  if (!groups || groups.length === 0) return FULL_VIEW;
  const view = new Set<VmDetailGroup>();
  for (const g of groups) {
    const group = VM_DETAIL_GROUPS.find((known) => known === g.trim().toLowerCase());
    if (!group) throw ApiError.param(`details: ${g.trim()} is not one of ${VM_DETAIL_GROUPS.join(', ')}`);
    view.add(group);
  }
  return view;
}

export default defineCommand({
  name: 'listVirtualMachines',
  description: 'List the virtual machines owned by the account (destroyed ones only for admins).',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the virtual machine' },
    { name: 'ids', type: 'list', of: 'uuid', description: 'the IDs of the virtual machines' },
    { name: 'name', type: 'string', description: 'name of the virtual machine' },
    { name: 'state', type: 'string', description: 'state of the virtual machine' },
    { name: 'zoneid', type: 'uuid', description: 'the availability zone ID' },
    { name: 'hostid', type: 'uuid', description: 'the host ID' },
    { name: 'templateid', type: 'uuid', description: 'list vms by template' },
    { name: 'group', type: 'string', description: 'list vms by group name' },
    ...ACCOUNT_LIST_PARAMS,
    { name: 'haenable', type: 'boolean', description: 'list by the HA flag' },
    TAGS_FILTER_PARAM,
    {
      name: 'details',
      type: 'list',
      of: 'string',
      description: `comma-separated groups of fields to return: ${VM_DETAIL_GROUPS.join(', ')}; min returns only the identity, owner, state, zone and host (default all)`,
    },
  ],
  handler({ engine, caller }, args, page) {
    const state = args.str('state');
    if (state && !VM_STATES.some((s) => s.toLowerCase() === state.toLowerCase())) throw ApiError.param(`state: one of ${VM_STATES.join(', ')}`);
    const hidden = [hiddenStates(caller, 'v.state')];
    const ids = args.list('ids');
    const keyword = args.str('keyword');
    const tags = tagFilter(args.map('tags'), 'UserVm', 'v.id');
    const filters: Filter[] = [
      ['v.uuid', args.uuid('id')], ['v.hostname', args.str('name')], ['v.state', state, 'ieq'], ['z.uuid', args.uuid('zoneid')], ['h.uuid', args.uuid('hostid')],
      ['t.uuid', args.uuid('templateid')], ['v.vm_group', args.str('group')], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')],
      ['v.ha_enabled', args.has('haenable') ? (args.bool('haenable') ? 1 : 0) : undefined],
    ];
    const byScopeAndState = !ids && !keyword && !tags && where([], filters.filter(([column]) => column !== 'v.state')).values.length === 0;
    const kept = byScopeAndState ? keptTotal(engine.db, caller, state) : undefined;
    const scope = accountScope(caller, pageScopeColumn(caller, page, kept));
    const conditions = [...hidden, ...(tags ? [tags.sql] : []), ...(ids ? [`v.uuid IN (${ids.map(() => '?').join(',') || "''"})`] : []), ...(keyword ? [`(v.hostname LIKE ? ESCAPE '\\' OR v.display_name LIKE ? ESCAPE '\\')`] : [])];
    const w = where([scope.sql, ...conditions], filters);
    // The joins the filters name; a domain admin's scope is a subquery with its own a and d.
    const joins = joinsFor(where(conditions, filters).sql);
    const like = keyword ? [`%${keyword.replace(/[\\%_]/g, (c) => `\\${c}`)}%`] : [];
    const view = detailView(args.list('details'));
    return queryPage<VmRow>(
      engine.db,
      page,
      {
        select: 'v.*',
        from: `FROM vm_instances v ${joins} ${w.sql}`,
        values: [...scope.values, ...(tags?.values ?? []), ...(ids ?? []), ...like, ...like, ...w.values],
        orderBy: 'v.id',
        total: kept?.n,
      },
      (rows) => vmResponses(engine, rows, caller, view),
    );
  },
});

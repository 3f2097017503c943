import { defineCommand, ADMIN_ONLY, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { queryPage } from '../../registry/list-page.js';
import { where } from '../../sql.js';
import { likePattern } from '../../events.js';
import { byUuid } from '../../lookup.js';
import { DETAIL_TYPES, checkDetailType, type DetailZone } from './zone-details.js';

interface DetailRow {
  resource_uuid: string;
  detail_key: string;
  detail_value: string;
}

/**
 * CloudStack's listResourceDetails (ListResourceDetailsCmd, QueryManagerImpl listResourceDetails)
 * for the resource type whose details Kiln keeps: Zone. One `resourcedetail` per key of a zone's
 * details (resourceid, resourcetype, key, value, fordisplay), filtered by resourceid, key and value.
 * Two departures, both answering a call CloudStack refuses rather than refusing one it answers:
 * without resourceid nor value CloudStack refuses the call, Kiln lists the details of every zone;
 * and the page is read in the query (json_each over zones.details), so count is the total.
 *
 * Who: every role, as in CloudStack (a user command), since listZones already shows any caller a
 * zone's details (resourcedetails); value and fordisplay are for the root admin, as CloudStack's
 * `authorized = Admin`. CloudStack's account, domainid, projectid, listall and isrecursive are not
 * declared: a zone belongs to no account, and CloudStack's query of details does not read them either.
 * fordisplay: Kiln shows every zone detail (addResourceDetail refuses false), so true lists them
 * all and false none.
 */
export default defineCommand({
  name: 'listResourceDetails',
  description: `Lists resource details (Kiln: resourcetype ${DETAIL_TYPES.join(', ')}): one per key, of the resource given or of every one of the type`,
  kind: 'list',
  roles: ALL_ROLES,
  response: 'resourcedetail',
  params: [
    { name: 'resourcetype', type: 'string', required: true, description: `List by resource type: ${DETAIL_TYPES.join(', ')} (Kiln keeps the details of these this way)` },
    { name: 'resourceid', type: 'uuid', description: 'List by resource id; without it, the details of every resource of the type' },
    { name: 'key', type: 'string', description: 'List by key' },
    { name: 'value', type: 'string', roles: ADMIN_ONLY, description: 'List by key, value: needs key' },
    { name: 'fordisplay', type: 'boolean', roles: ADMIN_ONLY, description: "true: only details shown to regular users, which every zone detail is (Kiln shows them to whoever lists the zone); false: none" },
  ],
  handler({ engine }, args, page) {
    checkDetailType(args, 'listResourceDetails');
    const key = args.str('key');
    const value = args.str('value');
    if (value && !key) throw ApiError.param('value: lists by key and value; give key too');
    const resourceId = args.uuid('resourceid');
    const zone = resourceId ? byUuid<DetailZone>(engine.db, 'zone', resourceId, 'resourceid') : undefined;
    if (args.bool('fordisplay') === false) return { count: 0, items: [] };
    const w = where(['z.removed IS NULL'], [['z.id', zone?.id], ['d.key', key], ['d.value', value]]);
    const keyword = args.str('keyword');
    // The keyword (every Kiln list takes one; CloudStack's details query ignores it) matches a key or a value.
    const sql = keyword ? `${w.sql ? `${w.sql} AND` : 'WHERE'} (d.key LIKE ? ESCAPE '\\' OR d.value LIKE ? ESCAPE '\\')` : w.sql;
    const values = keyword ? [...w.values, likePattern(keyword), likePattern(keyword)] : w.values;
    return queryPage<DetailRow>(
      engine.db,
      page,
      // json_each of a NULL details column has no rows: a zone without details lists none.
      { select: 'z.uuid AS resource_uuid, d.key AS detail_key, d.value AS detail_value', from: `FROM zones z, json_each(z.details) d ${sql}`, values, orderBy: 'z.sort_key, z.id, d.key' },
      (rows) => rows.map((r) => ({ resourceid: r.resource_uuid, resourcetype: 'Zone', key: r.detail_key, value: String(r.detail_value), fordisplay: true })),
    );
  },
});

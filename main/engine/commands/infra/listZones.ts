import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { zoneView } from '../../views.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listZones',
  description: 'Lists zones',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'zone',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the zone' },
    { name: 'name', type: 'string', description: 'the name of the zone' },
    { name: 'available', type: 'boolean', description: 'true to list only zones the caller can deploy in' },
  ],
  handler({ engine }, args, page) {
    const w = where(['removed IS NULL'], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    return queryPage<Parameters<typeof zoneView>[0]>(engine.db, page, { select: '*', from: `FROM zones ${w.sql}`, values: w.values, orderBy: 'sort_key, id' }, (rows) => rows.map(zoneView));
  },
});

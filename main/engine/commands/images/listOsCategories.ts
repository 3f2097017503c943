import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listOsCategories',
  description: 'Lists all supported OS categories for this cloud',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'oscategory',
  params: [
    { name: 'id', type: 'uuid', description: 'list OS category by id' },
    { name: 'name', type: 'string', description: 'list OS category by name' },
  ],
  handler({ engine }, args, page) {
    const w = where([], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    return queryPage<{ uuid: string; name: string }>(engine.db, page, { select: 'uuid, name', from: `FROM guest_os_categories ${w.sql}`, values: w.values, orderBy: 'id' }, (rows) => rows.map((r) => ({ id: r.uuid, name: r.name })));
  },
});

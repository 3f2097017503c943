import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';

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
  handler({ engine }, args) {
    const w = where([], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    return (engine.db.prepare(`SELECT uuid, name FROM guest_os_categories ${w.sql} ORDER BY id`).all(...w.values) as { uuid: string; name: string }[]).map((r) => ({ id: r.uuid, name: r.name }));
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';

export default defineCommand({
  name: 'listOsTypes',
  description: 'Lists all supported OS types for this cloud',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'ostype',
  params: [
    { name: 'id', type: 'uuid', description: 'list by OS type ID' },
    { name: 'oscategoryid', type: 'uuid', description: 'list by OS category ID' },
    { name: 'description', type: 'string', description: 'list OS by description' },
  ],
  handler({ engine }, args) {
    const w = where([], [['g.uuid', args.uuid('id')], ['c.uuid', args.uuid('oscategoryid')], ['g.display_name', args.str('description')], ['g.display_name', args.str('keyword'), 'like']]);
    const rows = engine.db
      .prepare(`SELECT g.uuid, g.display_name, g.is_64bit, c.uuid AS categoryuuid, c.name AS categoryname FROM guest_os g JOIN guest_os_categories c ON c.id=g.category_id ${w.sql} ORDER BY g.id`)
      .all(...w.values) as { uuid: string; display_name: string; is_64bit: number; categoryuuid: string; categoryname: string }[];
    return rows.map((r) => ({ id: r.uuid, name: r.display_name, description: r.display_name, oscategoryid: r.categoryuuid, oscategoryname: r.categoryname, isuserdefined: false, fordisplay: true }));
  },
});

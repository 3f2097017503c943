import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';

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
  handler({ engine }, args, page) {
    const w = where([], [['g.uuid', args.uuid('id')], ['c.uuid', args.uuid('oscategoryid')], ['g.display_name', args.str('description')], ['g.display_name', args.str('keyword'), 'like']]);
    const query = { select: 'g.uuid, g.display_name, g.is_64bit, c.uuid AS categoryuuid, c.name AS categoryname', from: `FROM guest_os g JOIN guest_os_categories c ON c.id=g.category_id ${w.sql}`, values: w.values, orderBy: 'g.id' };
    return queryPage<{ uuid: string; display_name: string; is_64bit: number; categoryuuid: string; categoryname: string }>(engine.db, page, query, (rows) => rows.map((r) => ({ id: r.uuid, name: r.display_name, description: r.display_name, oscategoryid: r.categoryuuid, oscategoryname: r.categoryname, isuserdefined: false, fordisplay: true })));
  },
});

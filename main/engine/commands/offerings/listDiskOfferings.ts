import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { diskOfferingView } from '../../views.js';
import { where } from '../../sql.js';
import type { DiskOfferingRow } from '../../vm/rows.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listDiskOfferings',
  description: 'Lists all available disk offerings',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'diskoffering',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the disk offering' },
    { name: 'name', type: 'string', description: 'name of the disk offering' },
  ],
  handler({ engine }, args, page) {
    const w = where(['removed IS NULL'], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
    return queryPage<DiskOfferingRow>(engine.db, page, { select: '*', from: `FROM disk_offerings ${w.sql}`, values: w.values, orderBy: 'id' }, (rows) => rows.map(diskOfferingView));
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { offeringView } from '../../views.js';
import { where } from '../../sql.js';
import type { OfferingRow } from '../../vm/rows.js';
import { offeringsVmCanTake } from '../../vm/offering-choices.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listServiceOfferings',
  description: 'Lists all available service offerings',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'serviceoffering',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the service offering' },
    { name: 'name', type: 'string', description: 'name of the service offering' },
    { name: 'issystem', type: 'boolean', description: 'is this a system vm offering' },
    {
      name: 'virtualmachineid', type: 'uuid',
      description: 'the ID of the virtual machine: lists the offerings it can be changed to (never its current one; for a Running VM only those it can be scaled to live)',
    },
  ],
  handler({ engine, caller }, args, page) {
    const w = where(['removed IS NULL'], [['uuid', args.uuid('id')], ['name', args.str('name')], ['is_system', args.bool('issystem') ? 1 : 0], ['name', args.str('keyword'), 'like']]);
    const vmUuid = args.uuid('virtualmachineid');
    // The offerings a VM can take are chosen in code (offering-choices.ts), so that list is paged after it.
    if (vmUuid) {
      const rows = engine.db.prepare(`SELECT * FROM service_offerings ${w.sql} ORDER BY id`).all(...w.values) as OfferingRow[];
      return offeringsVmCanTake(engine, engine.vms.forCaller(caller, vmUuid, 'virtualmachineid'), rows).map(offeringView);
    }
    return queryPage<OfferingRow>(engine.db, page, { select: '*', from: `FROM service_offerings ${w.sql}`, values: w.values, orderBy: 'id' }, (rows) => rows.map(offeringView));
  },
});

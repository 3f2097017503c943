import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { groupViews } from './groups.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listAffinityGroups',
  description: 'Lists affinity groups, with the VMs in each',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'affinitygroup',
  params: [
    { name: 'id', type: 'uuid', description: 'list the affinity group by the ID provided' },
    { name: 'name', type: 'string', description: 'lists affinity groups by name' },
    { name: 'type', type: 'string', description: 'lists affinity groups by type' },
    { name: 'virtualmachineid', type: 'uuid', description: 'lists affinity groups by virtual machine ID' },
    { name: 'listall', type: 'boolean', description: 'list all groups the caller may see' },
  ],
  handler({ engine, caller }, args, page) {
    const scope = accountScope(caller, 'g.account_id');
    const vm = args.uuid('virtualmachineid');
    const w = where([scope.sql, ...(vm ? ['g.id IN (SELECT m.group_id FROM affinity_group_vms m JOIN vm_instances v ON v.id=m.vm_id WHERE v.uuid=?)'] : [])], [
      ['g.uuid', args.uuid('id')], ['g.name', args.str('name')], ['g.type', args.str('type')], ['g.name', args.str('keyword'), 'like'],
    ]);
    return queryPage<{ id: number }>(engine.db, page, { select: 'g.id', from: `FROM affinity_groups g ${w.sql}`, values: [...scope.values, ...(vm ? [vm] : []), ...w.values], orderBy: 'g.id' }, (rows) =>
      groupViews(engine.db, rows.map((r) => r.id)),
    );
  },
});

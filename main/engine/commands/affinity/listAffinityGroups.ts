import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { groupView } from './groups.js';

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
  handler({ engine, caller }, args) {
    const scope = accountScope(caller, 'g.account_id');
    const vm = args.uuid('virtualmachineid');
    const w = where([scope.sql, ...(vm ? ['g.id IN (SELECT m.group_id FROM affinity_group_vms m JOIN vm_instances v ON v.id=m.vm_id WHERE v.uuid=?)'] : [])], [
      ['g.uuid', args.uuid('id')], ['g.name', args.str('name')], ['g.type', args.str('type')], ['g.name', args.str('keyword'), 'like'],
    ]);
    const rows = engine.db.prepare(`SELECT g.id FROM affinity_groups g ${w.sql} ORDER BY g.id`).all(...scope.values, ...(vm ? [vm] : []), ...w.values) as { id: number }[];
    return rows.map((r) => groupView(engine.db, r.id));
  },
});

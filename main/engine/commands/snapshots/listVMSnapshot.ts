import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { ApiError } from '../../registry/errors.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { snapshotResponses, type VmSnapshotRow } from '../../vm/vm-snapshots.js';
import { TAGS_FILTER_PARAM, tagFilter } from '../../tags/tag-query.js';
import { queryPage } from '../../registry/list-page.js';

const STATES = ['Allocated', 'Creating', 'Ready', 'Reverting', 'Expunging', 'Error'];

export default defineCommand({
  name: 'listVMSnapshot',
  description: "Lists VM snapshots: each with its parent, so a VM's list is its tree, and which one is current.",
  kind: 'list',
  roles: ALL_ROLES,
  response: 'vmSnapshot',
  params: [
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the vm' },
    { name: 'vmsnapshotid', type: 'uuid', description: 'The ID of the VM snapshot' },
    { name: 'vmsnapshotids', type: 'list', of: 'uuid', description: 'the IDs of the vm snapshots, mutually exclusive with vmsnapshotid' },
    { name: 'name', type: 'string', description: 'lists snapshot by snapshot name or display name' },
    { name: 'state', type: 'string', description: 'state of the virtual machine snapshot' },
    ...ACCOUNT_LIST_PARAMS,
    TAGS_FILTER_PARAM,
  ],
  handler({ engine, caller }, args, page) {
    const state = args.str('state');
    if (state !== undefined && !STATES.includes(state)) throw ApiError.param(`state: one of ${STATES.join(', ')}`);
    if (args.uuid('vmsnapshotid') && args.list('vmsnapshotids')) throw ApiError.param('vmsnapshotids: give either vmsnapshotid or vmsnapshotids, not both');
    const scope = accountScope(caller, 's.account_id');
    const ids = args.list('vmsnapshotids');
    const name = args.str('name');
    const tags = tagFilter(args.map('tags'), 'VMSnapshot', 's.id');
    // Users do not see the snapshots of their destroyed VMs (those are deleted with them anyway).
    const w = where(
      [scope.sql, ...(tags ? [tags.sql] : []), 's.removed IS NULL', ...(caller.role === 'User' ? [`v.state NOT IN ('Destroyed','Expunged')`] : []), ...(ids ? [`s.uuid IN (${ids.map(() => '?').join(',') || "''"})`] : []), ...(name ? ['(s.name=? OR s.display_name=?)'] : [])],
      [['s.uuid', args.uuid('vmsnapshotid')], ['v.uuid', args.uuid('virtualmachineid')], ['s.state', state], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')]],
    );
    return queryPage<VmSnapshotRow>(
      engine.db,
      page,
      {
        select: 's.*',
        from: `FROM vm_snapshots s JOIN vm_instances v ON v.id=s.vm_id JOIN accounts a ON a.id=s.account_id JOIN domains d ON d.id=s.domain_id ${w.sql}`,
        values: [...scope.values, ...(tags?.values ?? []), ...(ids ?? []), ...(name ? [name, name] : []), ...w.values],
        orderBy: 's.id',
      },
      (rows) => snapshotResponses(engine, rows),
    );
  },
});

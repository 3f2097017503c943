import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { ApiError } from '../../registry/errors.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { TAGS_FILTER_PARAM, tagFilter } from '../../tags/tag-query.js';
import { queryPage } from '../../registry/list-page.js';
import { VOLUME_FROM, VOLUME_SELECT, volumeResponses, type VolumeListRow } from '../../volumes/volume-response.js';
import { VOLUME_STATES } from '../../volumes/volume-states.js';

export default defineCommand({
  name: 'listVolumes',
  description: 'Lists volumes: the root and data disks of VMs, and data disks not attached to any.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'volume',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the disk volume' },
    { name: 'ids', type: 'list', of: 'uuid', description: 'the IDs of the volumes, mutually exclusive with id' },
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the virtual machine' },
    { name: 'type', type: 'string', description: 'the type of disk volume (ROOT or DATADISK)' },
    { name: 'name', type: 'string', description: 'the name of the disk volume' },
    { name: 'state', type: 'string', description: `state of the volume (${VOLUME_STATES.join(', ')})` },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the availability zone' },
    ...ACCOUNT_LIST_PARAMS,
    TAGS_FILTER_PARAM,
  ],
  handler({ engine, caller }, args, page) {
    const type = args.str('type')?.toUpperCase();
    if (type !== undefined && type !== 'ROOT' && type !== 'DATADISK') throw ApiError.param('type: ROOT or DATADISK');
    const stateArg = args.str('state');
    const state = stateArg === undefined ? undefined : VOLUME_STATES.find((s) => s.toLowerCase() === stateArg.toLowerCase());
    if (stateArg !== undefined && !state) throw ApiError.param(`state: one of ${VOLUME_STATES.join(', ')}`);
    const scope = accountScope(caller, 'x.account_id');
    const ids = args.list('ids');
    const keyword = args.str('keyword');
    const tags = tagFilter(args.map('tags'), 'Volume', 'x.id');
    // Users do not see the volumes of their destroyed VMs, as they do not see the VMs.
    const w = where(
      [scope.sql, ...(tags ? [tags.sql] : []), 'x.removed IS NULL', ...(caller.role === 'User' ? [`(v.id IS NULL OR v.state NOT IN ('Destroyed','Expunged'))`] : []), ...(ids ? [`x.uuid IN (${ids.map(() => '?').join(',') || "''"})`] : [])],
      [['x.uuid', args.uuid('id')], ['v.uuid', args.uuid('virtualmachineid')], ['x.volume_type', type], ['x.name', args.str('name')], ['x.state', state], ['x.name', keyword, 'like'], ['z.uuid', args.uuid('zoneid')], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')]],
    );
    const isAdmin = caller.role === 'Admin';
    return queryPage<VolumeListRow>(
      engine.db,
      page,
      {
        select: VOLUME_SELECT,
        from: `${VOLUME_FROM} ${w.sql}`,
        values: [...scope.values, ...(tags?.values ?? []), ...(ids ?? []), ...w.values],
        orderBy: 'x.vm_id IS NULL, x.vm_id, x.device_id, x.id',
      },
      (rows) => volumeResponses(engine.db, rows, isAdmin),
    );
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { taggableType, TAGGABLE_TYPE_NAMES } from '../../tags/resource-types.js';
import { TAG_COLUMNS, TAG_FROM, tagResponse, type TagRow } from '../../tags/tag-query.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listTags',
  description: 'List resource tag(s) the caller may see',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'tag',
  params: [
    { name: 'resourceid', type: 'string', description: 'list by resource id' },
    { name: 'resourcetype', type: 'string', description: `list by resource type: ${TAGGABLE_TYPE_NAMES.join(', ')}` },
    { name: 'key', type: 'string', description: 'list by key' },
    { name: 'value', type: 'string', description: 'list by value' },
    { name: 'customer', type: 'string', description: 'list by customer name' },
    ...ACCOUNT_LIST_PARAMS,
  ],
  handler({ engine, caller }, args, page) {
    const resourceType = args.str('resourcetype');
    const type = resourceType ? taggableType(resourceType).name : undefined;
    const scope = accountScope(caller, 'rt.account_id');
    const w = where([scope.sql], [
      ['rt.resource_type', type], ['lower(rt.resource_uuid)', args.str('resourceid')?.toLowerCase()], ['rt.key', args.str('key')], ['rt.value', args.str('value')],
      ['rt.customer', args.str('customer')], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')], ['rt.key', args.str('keyword'), 'like'],
    ]);
    return queryPage<TagRow>(engine.db, page, { select: TAG_COLUMNS, from: `${TAG_FROM} ${w.sql}`, values: [...scope.values, ...w.values], orderBy: 'rt.id' }, (rows) => rows.map(tagResponse));
  },
});

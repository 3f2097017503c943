import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { listImages } from './listing.js';
import { TAGS_FILTER_PARAM } from '../../tags/tag-query.js';

export default defineCommand({
  name: 'listTemplates',
  description: 'List all public, private, and privileged templates',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'template',
  params: [
    { name: 'templatefilter', type: 'string', required: true, description: 'featured, self, selfexecutable, sharedexecutable, executable, community or all' },
    { name: 'id', type: 'uuid', description: 'the template ID' },
    { name: 'name', type: 'string', description: 'the template name' },
    { name: 'zoneid', type: 'uuid', description: 'list templates by zoneId' },
    { name: 'hypervisor', type: 'string', description: 'the hypervisor for which to restrict the search' },
    TAGS_FILTER_PARAM,
  ],
  handler: (ctx, args, page) => listImages(ctx, args, false, args.str('templatefilter'), page),
});

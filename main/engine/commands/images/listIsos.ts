import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { listImages } from './listing.js';
import { TAGS_FILTER_PARAM } from '../../tags/tag-query.js';

export default defineCommand({
  name: 'listIsos',
  description: 'Lists all available ISO files',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'iso',
  params: [
    { name: 'isofilter', type: 'string', description: 'featured, self, selfexecutable, sharedexecutable, executable, community or all (default)' },
    { name: 'id', type: 'uuid', description: 'list ISO by ID' },
    { name: 'name', type: 'string', description: 'list all ISOs by name' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the zone' },
    { name: 'bootable', type: 'boolean', description: 'true if the ISO is bootable' },
    TAGS_FILTER_PARAM,
  ],
  handler: (ctx, args, page) => listImages(ctx, args, true, args.str('isofilter'), page),
});

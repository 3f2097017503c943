import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { KNOWN_DETAILS } from '../../vm/vm-changes.js';

export default defineCommand({
  name: 'listDetailOptions',
  description: 'Lists the detail keys (and their possible values) a VM accepts, as the settings editor offers them (R30).',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'detailoptions',
  params: [
    { name: 'resourcetype', type: 'string', required: true, description: 'the resource type: UserVm' },
    { name: 'resourceid', type: 'uuid', description: 'the UUID of the resource (optional)' },
  ],
  handler({ engine, caller }, args) {
    if (args.str('resourcetype')!.toLowerCase() !== 'uservm') throw ApiError.param('resourcetype: only UserVm is supported');
    const hidden = new Set(caller.role === 'User' ? [...engine.settings.list('user.vm.blacklisted.details'), ...engine.settings.list('user.vm.readonly.details')] : []);
    return { details: Object.fromEntries(Object.entries(KNOWN_DETAILS).filter(([key]) => !hidden.has(key))) };
  },
});

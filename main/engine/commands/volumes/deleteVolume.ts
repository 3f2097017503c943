import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { volumesOf } from './volumes-of.js';

export default defineCommand({
  name: 'deleteVolume',
  description: 'Deletes a data disk volume that is not attached to a VM, and its disk on the host that holds it.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'The ID of the disk volume' }],
  async handler({ engine, caller }, args) {
    const volumes = volumesOf(engine);
    await volumes.remove(caller, volumes.forCaller(caller, args.uuid('id')!));
    return {};
  },
});

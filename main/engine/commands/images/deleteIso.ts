import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { deleteImage, imageToDelete } from '../../images/image-delete.js';

export default defineCommand({
  name: 'deleteIso',
  description: "Deletes an ISO: its copy in the zone's image store and the copies hosts made of it go with it (a host that does not answer loses its copy when it answers again). Refused while it is attached to a VM that is not expunged. Built-in ISOs cannot be deleted.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the ISO file' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the zone of the ISO (a Kiln ISO is in one zone, or all for a host path: it is deleted everywhere)' },
  ],
  handler({ engine, caller }, args) {
    const request = { id: args.uuid('id')!, zoneId: args.uuid('zoneid') };
    const row = imageToDelete(engine, caller, true, request);
    return {
      instanceType: 'Iso',
      instanceId: row.uuid,
      queueKey: `template:${row.id}`,
      run: async () => {
        // Checked again in the job: an attach since the call still counts.
        await deleteImage(engine, caller, imageToDelete(engine, caller, true, request));
        return undefined;
      },
    };
  },
});

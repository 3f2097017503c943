import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { deleteImage, imageToDelete } from '../../images/image-delete.js';

export default defineCommand({
  name: 'deleteTemplate',
  description: "Deletes a template: its copy in the zone's image store and the copies hosts made of it go with it (a copy a VM still uses stays until that VM is expunged; a host that does not answer loses its copy when it answers again). Refused while a VM that is not expunged uses it, unless forced=true; VMs made from it keep their disks. Built-in templates cannot be deleted.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the template' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of zone of the template (a Kiln template is in one zone, or all for a host path: it is deleted everywhere)' },
    { name: 'forced', type: 'boolean', description: 'Force delete a template even when VMs use it' },
  ],
  handler({ engine, caller }, args) {
    const request = { id: args.uuid('id')!, zoneId: args.uuid('zoneid'), forced: args.bool('forced') === true };
    const row = imageToDelete(engine, caller, false, request);
    return {
      instanceType: 'Template',
      instanceId: row.uuid,
      queueKey: `template:${row.id}`,
      run: async () => {
        // Checked again in the job: a VM deployed from it since the call still counts.
        await deleteImage(engine, caller, imageToDelete(engine, caller, false, request));
        return undefined;
      },
    };
  },
});

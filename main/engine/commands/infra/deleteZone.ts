import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { deleteInfra } from './infra-edits.js';

export default defineCommand({
  name: 'deleteZone',
  description: 'Deletes a Zone. Refused (431, naming them) while it still has pods, hosts, networks, primary storage, VMs, volumes, images or backup storage.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'the ID of the Zone' }],
  handler({ engine, caller }, args) {
    const zone = byUuid<{ id: number; uuid: string; name: string }>(engine.db, 'zone', args.uuid('id')!, 'id');
    deleteInfra(engine, caller, 'zone', zone, '');
    return {};
  },
});

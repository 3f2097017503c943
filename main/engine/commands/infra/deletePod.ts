import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { deleteInfra } from './infra-edits.js';

export default defineCommand({
  name: 'deletePod',
  description: 'Deletes a Pod. Refused (431, naming them) while it still has clusters, hosts, primary storage or VMs.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'the ID of the Pod' }],
  handler({ engine, caller }, args) {
    const pod = byUuid<{ id: number; uuid: string; name: string; zone_id: number }>(engine.db, 'pod', args.uuid('id')!, 'id');
    const zone = engine.db.prepare('SELECT name FROM zones WHERE id=?').pluck().get(pod.zone_id) as string;
    deleteInfra(engine, caller, 'pod', pod, ` of zone ${zone}`);
    return {};
  },
});

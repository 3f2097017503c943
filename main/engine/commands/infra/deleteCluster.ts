import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { deleteInfra } from './infra-edits.js';

export default defineCommand({
  name: 'deleteCluster',
  description: 'Deletes a cluster. Refused (431, naming them) while it still has hosts, primary storage pools or VMs.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'the cluster ID' }],
  handler({ engine, caller }, args) {
    const cluster = byUuid<{ id: number; uuid: string; name: string; pod_id: number }>(engine.db, 'cluster', args.uuid('id')!, 'id');
    const pod = engine.db.prepare('SELECT name FROM pods WHERE id=?').pluck().get(cluster.pod_id) as string;
    deleteInfra(engine, caller, 'cluster', cluster, ` of pod ${pod}`);
    return {};
  },
});

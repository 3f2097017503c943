import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { allocationStateParam, newName, updated } from './infra-edits.js';

export default defineCommand({
  name: 'updateCluster',
  description: 'Updates an existing cluster: its name, allocation state (a Disabled cluster takes no new VM) and managed state (an Unmanaged cluster takes none either).',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'cluster',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the Cluster' },
    { name: 'clustername', type: 'string', description: 'the cluster name' },
    allocationStateParam('cluster'),
    { name: 'managedstate', type: 'string', rule: { pattern: '^(?:Managed|Unmanaged)$', message: 'is not a managed state: Managed or Unmanaged' }, description: 'whether this cluster is managed by Kiln: Managed or Unmanaged' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const cluster = byUuid<{ id: number; uuid: string; name: string; pod_id: number }>(db, 'cluster', args.uuid('id')!, 'id');
    const name = newName(args, 'clustername', 'cluster', (n) => (db.prepare('SELECT 1 FROM clusters WHERE pod_id=? AND name=? AND id<>? AND removed IS NULL').get(cluster.pod_id, n, cluster.id) ? `the pod already has a cluster named ${n}` : undefined));
    const changes: string[] = [];
    db.transaction(() => {
      if (name !== undefined && name !== cluster.name) {
        db.prepare('UPDATE clusters SET name=? WHERE id=?').run(name, cluster.id);
        changes.push(`renamed to ${name}`);
      }
      for (const [param, column] of [['allocationstate', 'allocation_state'], ['managedstate', 'managed_state']] as const) {
        const value = args.str(param);
        if (!value) continue;
        db.prepare(`UPDATE clusters SET ${column}=? WHERE id=?`).run(value, cluster.id);
        changes.push(value);
      }
    })();
    return updated(engine, caller, 'cluster', { id: cluster.id, uuid: cluster.uuid, name: name ?? cluster.name, renamed: name !== undefined && name !== cluster.name }, changes);
  },
});

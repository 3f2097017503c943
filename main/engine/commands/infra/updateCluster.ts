import { updateCommand } from './infra-edits.js';
import type { Engine } from '../../engine.js';

/**
 * CloudStack's managed state: an Unmanaged cluster's hosts are disconnected (umanageHost: the
 * management server drops them and they show Disconnected) and HA, reconcile, placement and the
 * pool refresh leave them alone (the host manager does not connect them, HA's pass does not check
 * them); Managed again, they are connected in the background, as at start, and come back Up.
 */
async function setManaged(engine: Engine, cluster: { id: number; name: string }, managed: boolean): Promise<void> {
  const hostIds = engine.db.prepare('SELECT id FROM hosts WHERE cluster_id=? AND removed IS NULL ORDER BY id').pluck().all(cluster.id) as number[];
  if (managed) {
    for (const id of hostIds) void engine.hosts.session(id).catch(() => undefined);
    return;
  }
  for (const id of hostIds) {
    // A connect under way is waited for, so that its session is dropped too; a new one is refused
    // (the cluster is Unmanaged in the database by now).
    await engine.hosts.session(id).catch(() => undefined);
    await engine.hosts.drop(id);
    engine.hosts.setState(id, 'Disconnected', `cluster ${cluster.name} is Unmanaged: Kiln does not manage its hosts`);
  }
}

interface ClusterRow { id: number; uuid: string; name: string; pod_id: number; managed_state: string }

export default updateCommand<ClusterRow>({
  kind: 'cluster',
  name: 'updateCluster',
  description: 'Updates an existing cluster: its name, allocation state (a Disabled cluster takes no new VM) and managed state (an Unmanaged cluster takes none either, and its hosts are disconnected: HA and reconcile leave them alone until it is Managed again, when they are reconnected).',
  response: 'cluster',
  nameParam: 'clustername',
  nameDescription: 'the cluster name',
  params: [
    { name: 'managedstate', type: 'string', rule: { pattern: '^(?:Managed|Unmanaged)$', message: 'is not a managed state: Managed or Unmanaged' }, description: 'whether this cluster is managed by Kiln: Managed or Unmanaged' },
  ],
  taken: (db, cluster, n) => (db.prepare('SELECT 1 FROM clusters WHERE pod_id=? AND name=? AND id<>? AND removed IS NULL').get(cluster.pod_id, n, cluster.id) ? `the pod already has a cluster named ${n}` : undefined),
  check({ db }, cluster, args) {
    return {
      write(changes) {
        const value = args.str('managedstate');
        if (!value) return;
        db.prepare('UPDATE clusters SET managed_state=? WHERE id=?').run(value, cluster.id);
        changes.push(value);
      },
    };
  },
  async after(engine, cluster, args) {
    const managed = args.str('managedstate');
    if (managed && managed !== cluster.managed_state) await setManaged(engine, cluster, managed === 'Managed');
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { clusterHeadroom } from '../../placement/headroom.js';

export default defineCommand({
  name: 'checkClusterHeadroom',
  description: 'Kiln: N-1 headroom (R14). For each host of the cluster, whether all its VMs could restart on the other hosts if it failed, and which could not and why.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'clusterheadroom',
  params: [{ name: 'clusterid', type: 'uuid', required: true, description: 'the cluster to check' }],
  handler({ engine }, args) {
    const cluster = byUuid<{ id: number }>(engine.db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const h = clusterHeadroom(engine, cluster.id);
    return {
      clusterid: h.clusterId,
      hasheadroom: h.hasHeadroom,
      hostfailure: h.failures.map((f) => ({ hostid: f.hostId, hostname: f.hostName, vmcount: f.vms, canrestartall: f.unplaceable.length === 0, unplaceable: f.unplaceable.map((u) => ({ virtualmachineid: u.vmId, name: u.name, reason: u.reason })) })),
    };
  },
});

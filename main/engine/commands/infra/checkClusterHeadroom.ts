import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { ApiError } from '../../registry/errors.js';
import { clusterHeadroom, type HostFailure } from '../../placement/headroom.js';

const failureResponse = (f: HostFailure) => ({
  hostid: f.hostId, hostname: f.hostName, vmcount: f.vms, canrestartall: f.unplaceable.length === 0,
  unplaceable: f.unplaceable.map((u) => ({ virtualmachineid: u.vmId, name: u.name, reason: u.reason })),
});

export default defineCommand({
  name: 'checkClusterHeadroom',
  description:
    'Kiln: N-1 headroom (R14). The per-host VM limit L (maxguestslimit or the cluster\'s cluster.max.guests.per.host), the VMs running against (N-1)*L, whether the busiest host\'s VMs could restart on the others, and for each host which VMs could not restart if it failed, and why.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'clusterheadroom',
  params: [
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster to check' },
    { name: 'hostid', type: 'uuid', description: 'only this host\'s failure in hostfailure' },
  ],
  handler({ engine }, args) {
    const cluster = byUuid<{ id: number }>(engine.db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const h = clusterHeadroom(engine, cluster.id);
    const hostId = args.uuid('hostid');
    const failures = hostId ? h.failures.filter((f) => f.hostId === hostId) : h.failures;
    if (hostId && failures.length === 0) throw ApiError.param(`hostid: host ${hostId} is not in cluster ${h.clusterName}`);
    return {
      clusterid: h.clusterId,
      clustername: h.clusterName,
      hasheadroom: h.hasHeadroom,
      hostcount: h.usableHosts,
      ...(h.maxGuestsPerHost !== undefined ? { maxguestsperhost: h.maxGuestsPerHost, maxguestssource: h.limitSource } : {}),
      vmcount: h.vmCount,
      ...(h.safeVmCount !== undefined ? { safevmcount: h.safeVmCount } : {}),
      ...(h.largestHost ? { largesthostid: h.largestHost.hostId, largesthostname: h.largestHost.hostName, canabsorblargesthost: h.largestHost.unplaceable.length === 0 } : {}),
      warning: h.warnings,
      hostfailure: failures.map(failureResponse),
    };
  },
});

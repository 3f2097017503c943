import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';

const HYPERVISORS = ['KVM', 'VMware', 'XenServer', 'Simulator'];

export default defineCommand({
  name: 'addCluster',
  description: 'Adds a new cluster',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'cluster',
  params: [
    { name: 'clustername', type: 'string', required: true, description: 'the cluster name' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'the Zone ID for the cluster' },
    { name: 'podid', type: 'uuid', required: true, description: 'the Pod ID for the host' },
    { name: 'hypervisor', type: 'string', required: true, description: 'hypervisor type of the cluster: KVM, VMware, XenServer, Simulator' },
    { name: 'clustertype', type: 'string', description: 'type of the cluster: CloudManaged (default)' },
  ],
  handler({ engine, caller }, args) {
    const zone = byUuid<{ id: number; uuid: string; name: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    const pod = byUuid<{ id: number; uuid: string; name: string; zone_id: number }>(engine.db, 'pod', args.uuid('podid')!, 'podid');
    if (pod.zone_id !== zone.id) throw ApiError.param('podid: the pod is not in that zone');
    const hypervisor = HYPERVISORS.find((h) => h.toLowerCase() === args.str('hypervisor')!.toLowerCase());
    if (!hypervisor) throw ApiError.param(`hypervisor: one of ${HYPERVISORS.join(', ')}`);
    const name = args.str('clustername')!;
    if (engine.db.prepare('SELECT 1 FROM clusters WHERE pod_id=? AND name=? AND removed IS NULL').get(pod.id, name)) throw ApiError.param(`clustername: pod ${pod.name} already has a cluster named ${name}`);
    const uuid = randomUUID();
    engine.db.prepare('INSERT INTO clusters (uuid, name, pod_id, zone_id, hypervisor, created) VALUES (?,?,?,?,?,?)').run(uuid, name, pod.id, zone.id, hypervisor, now());
    engine.events.record({ type: 'CLUSTER.CREATE', description: `cluster ${name} (${hypervisor}) created`, userId: caller.userId, accountId: caller.accountId });
    return { id: uuid, name, hypervisortype: hypervisor, clustertype: 'CloudManaged', allocationstate: 'Enabled', managedstate: 'Managed', zoneid: zone.uuid, zonename: zone.name, podid: pod.uuid, podname: pod.name };
  },
});

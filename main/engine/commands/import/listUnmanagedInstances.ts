import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { knownMacs, listUnmanaged, unmanagedView, type ClusterRow } from '../../import/unmanaged.js';

export default defineCommand({
  name: 'listUnmanagedInstances',
  description: "Lists the VMs on a cluster's hosts that Kiln does not manage (templates excluded), each with whether it can be imported and, if not, why.",
  since: '4.14.0',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'unmanagedinstance',
  params: [
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster ID' },
    { name: 'name', type: 'string', description: 'the hypervisor name of the instance' },
  ],
  async handler({ engine }, args) {
    const cluster = byUuid<ClusterRow>(engine.db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const vms = await listUnmanaged(engine, cluster, args.str('name'));
    const macs = knownMacs(engine.db);
    return vms.map((vm) => unmanagedView(engine.db, cluster, vm, macs));
  },
});

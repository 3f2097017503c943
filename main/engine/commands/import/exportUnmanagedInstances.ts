import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { listUnmanaged, type ClusterRow } from '../../import/unmanaged.js';
import { unmanagedCsv } from '../../import/bulk-csv.js';

export default defineCommand({
  name: 'exportUnmanagedInstances',
  description: "The cluster's unmanaged VMs (listUnmanagedInstances) as a CSV file to download: one row per VM with its NICs and data disks, and empty columns (serviceoffering, account, nicN.network, nicN.ip, datadiskN.diskoffering, …) to fill in for importUnmanagedInstances.",
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'unmanagedinstancescsv',
  params: [
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster ID' },
    { name: 'name', type: 'string', description: 'only the instance of this hypervisor name' },
  ],
  async handler({ engine }, args) {
    const cluster = byUuid<ClusterRow>(engine.db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const vms = await listUnmanaged(engine, cluster, args.str('name'));
    return { filename: `unmanaged-${cluster.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.csv`, mimetype: 'text/csv; charset=utf-8', count: vms.length, csv: unmanagedCsv(engine, cluster, vms) };
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';
import { offeringGpu } from '../../placement/request.js';

/**
 * The VMs that hold a GPU on a host now, with the group and vGPU type each holds: what listHosts'
 * gpugroup[] capacity is used by. A VM holds its offering's GPU (pciDevice/vgpuType, the same rule
 * the driver and placement read) from its start until it stops, so only VMs placed on a host in
 * a state between those count.
 */
const HOLDING = ['Starting', 'Running', 'Stopping', 'Migrating'];

interface ResidentRow {
  uuid: string; display_name: string; instance_name: string; state: string;
  host_uuid: string; host_name: string; cluster_uuid: string; offering_uuid: string; offering_name: string; details: string;
}

export default defineCommand({
  name: 'listGpuResidents',
  description: 'Kiln: the VMs that hold a GPU on their host now (from their start until they stop), with the GPU group and vGPU type each holds, per host.',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'gpuresident',
  params: [
    { name: 'hostid', type: 'uuid', description: 'only the VMs on this host' },
    { name: 'clusterid', type: 'uuid', description: 'only the VMs on hosts of this cluster' },
    { name: 'zoneid', type: 'uuid', description: 'only the VMs in this zone' },
  ],
  handler({ engine }, args, page) {
    const w = where([`v.host_id IS NOT NULL`, `v.state IN (${HOLDING.map(() => '?').join(',')})`, `json_extract(o.details, '$.pciDevice') IS NOT NULL`], [
      ['h.uuid', args.uuid('hostid')], ['c.uuid', args.uuid('clusterid')], ['z.uuid', args.uuid('zoneid')],
    ]);
    return queryPage<ResidentRow>(
      engine.db,
      page,
      {
        select: 'v.uuid, v.display_name, v.instance_name, v.state, h.uuid AS host_uuid, h.name AS host_name, c.uuid AS cluster_uuid, o.uuid AS offering_uuid, o.name AS offering_name, o.details',
        from: `FROM vm_instances v JOIN service_offerings o ON o.id=v.service_offering_id JOIN hosts h ON h.id=v.host_id JOIN clusters c ON c.id=h.cluster_id JOIN zones z ON z.id=v.zone_id ${w.sql}`,
        values: [...HOLDING, ...w.values],
        orderBy: 'h.id, v.id',
      },
      (rows) =>
        rows.map((r) => {
          const gpu = offeringGpu(r).gpu!;
          return {
            virtualmachineid: r.uuid, virtualmachinename: r.instance_name, displayname: r.display_name, state: r.state,
            hostid: r.host_uuid, hostname: r.host_name, clusterid: r.cluster_uuid,
            serviceofferingid: r.offering_uuid, serviceofferingname: r.offering_name,
            gpugroupname: gpu.group, vgputype: gpu.vgpuType,
          };
        }),
    );
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { csDate } from '../../format.js';
import { where } from '../../sql.js';
import { clusterHeadrooms } from '../../placement/headroom.js';
import { CPU_FACTOR, MEM_FACTOR } from '../../placement/filters/capacity.js';
import { queryPage } from '../../registry/list-page.js';

interface ClusterRow { id: number; uuid: string; name: string; hypervisor: string; allocation_state: string; managed_state: string; created: string; zoneuuid: string; zonename: string; poduuid: string; podname: string }

export default defineCommand({
  name: 'listClusters',
  description: 'Lists clusters',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'cluster',
  params: [
    { name: 'id', type: 'uuid', description: 'lists clusters by the cluster ID' },
    { name: 'name', type: 'string', description: 'lists clusters by the cluster name' },
    { name: 'zoneid', type: 'uuid', description: 'lists clusters by Zone ID' },
    { name: 'podid', type: 'uuid', description: 'lists clusters by Pod ID' },
    { name: 'hypervisor', type: 'string', description: 'lists clusters by hypervisor type' },
  ],
  handler({ engine }, args, page) {
    const w = where(['c.removed IS NULL'], [
      ['c.uuid', args.uuid('id')], ['c.name', args.str('name')], ['z.uuid', args.uuid('zoneid')], ['p.uuid', args.uuid('podid')],
      ['c.hypervisor', args.str('hypervisor'), 'ieq'], ['c.name', args.str('keyword'), 'like'],
    ]);
    const query = { select: 'c.*, z.uuid AS zoneuuid, z.name AS zonename, p.uuid AS poduuid, p.name AS podname', from: `FROM clusters c JOIN zones z ON z.id=c.zone_id JOIN pods p ON p.id=c.pod_id ${w.sql}`, values: w.values, orderBy: 'c.id' };
    return queryPage<ClusterRow>(engine.db, page, query, (rows) => {
      const settings = engine.settings.readAll();
      const headroom = clusterHeadrooms(engine, rows.map((c) => c.id));
      return rows.map((c) => ({
        id: c.uuid, name: c.name, hypervisortype: c.hypervisor, clustertype: 'CloudManaged', allocationstate: c.allocation_state, managedstate: c.managed_state,
        zoneid: c.zoneuuid, zonename: c.zonename, podid: c.poduuid, podname: c.podname, created: csDate(c.created),
        cpuovercommitratio: settings.raw(CPU_FACTOR, { clusterId: c.id }),
        memoryovercommitratio: settings.raw(MEM_FACTOR, { clusterId: c.id }),
        // Kiln: can the cluster restart every VM of any one failed host on the others (R14)?
        haheadroom: headroom.get(c.id)!.hasHeadroom,
      }));
    });
  },
});

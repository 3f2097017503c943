import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { csDate } from '../../format.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';

interface PodRow { uuid: string; name: string; zoneuuid: string; zonename: string; gateway: string | null; netmask: string | null; start_ip: string | null; end_ip: string | null; allocation_state: string; created: string }

export default defineCommand({
  name: 'listPods',
  description: 'Lists all pods',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'pod',
  params: [
    { name: 'id', type: 'uuid', description: 'list pods by ID' },
    { name: 'name', type: 'string', description: 'list pods by name' },
    { name: 'zoneid', type: 'uuid', description: 'list pods by zone ID' },
  ],
  handler({ engine }, args, page) {
    const w = where(['p.removed IS NULL'], [['p.uuid', args.uuid('id')], ['p.name', args.str('name')], ['z.uuid', args.uuid('zoneid')], ['p.name', args.str('keyword'), 'like']]);
    return queryPage<PodRow>(engine.db, page, { select: 'p.*, z.uuid AS zoneuuid, z.name AS zonename', from: `FROM pods p JOIN zones z ON z.id=p.zone_id ${w.sql}`, values: w.values, orderBy: 'p.id' }, (rows) => rows.map((p) => ({
      id: p.uuid, name: p.name, zoneid: p.zoneuuid, zonename: p.zonename, gateway: p.gateway ?? undefined, netmask: p.netmask ?? undefined,
      startip: p.start_ip ? [p.start_ip] : undefined, endip: p.end_ip ? [p.end_ip] : undefined, allocationstate: p.allocation_state, created: csDate(p.created),
    })));
  },
});

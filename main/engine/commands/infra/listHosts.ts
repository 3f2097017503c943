import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import type { HostRow } from '../../hosts/host-manager.js';
import { hostListViews } from '../../views.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listHosts',
  description: 'Lists hosts',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'host',
  params: [
    { name: 'id', type: 'uuid', description: 'the id of the host' },
    { name: 'name', type: 'string', description: 'the name of the host' },
    { name: 'zoneid', type: 'uuid', description: 'the Zone ID for the host' },
    { name: 'podid', type: 'uuid', description: 'the Pod ID for the host' },
    { name: 'clusterid', type: 'uuid', description: 'lists hosts existing in particular cluster' },
    { name: 'state', type: 'string', description: 'the state of the host' },
    { name: 'hypervisor', type: 'string', description: 'hypervisor type of host' },
    { name: 'type', type: 'string', description: 'the host type (Routing)' },
  ],
  handler({ engine }, args, page) {
    if (args.str('type') && args.str('type') !== 'Routing') return [];
    const w = where(['h.removed IS NULL'], [
      ['h.uuid', args.uuid('id')], ['h.name', args.str('name')], ['z.uuid', args.uuid('zoneid')], ['p.uuid', args.uuid('podid')], ['c.uuid', args.uuid('clusterid')],
      ['h.state', args.str('state')], ['h.hypervisor', args.str('hypervisor'), 'ieq'], ['h.name', args.str('keyword'), 'like'],
    ]);
    return queryPage<HostRow>(
      engine.db,
      page,
      { select: 'h.*', from: `FROM hosts h JOIN zones z ON z.id=h.zone_id JOIN pods p ON p.id=h.pod_id JOIN clusters c ON c.id=h.cluster_id ${w.sql}`, values: w.values, orderBy: 'h.id' },
      (rows) => hostListViews(engine, rows),
    );
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { where } from '../../sql.js';
import { PAGE_IDS, queryPage } from '../../registry/list-page.js';
import { capabilityResponse, type CapabilityRow } from '../../hosts/hypervisor-capabilities.js';

export default defineCommand({
  name: 'listHypervisorCapabilities',
  description: 'Lists all hypervisor capabilities; maxguestslimit is the per-host VM limit placement and the N-1 headroom check use (a cluster may override it: cluster.max.guests.per.host).',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'hypervisorCapabilities',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the hypervisor capability' },
    { name: 'hypervisor', type: 'string', description: 'the hypervisor for which to restrict the search' },
  ],
  handler({ engine }, args, page) {
    // Rows of a driver this Kiln was started without (KVM needs ssh2) are kept but not listed.
    const w = where([`hypervisor ${PAGE_IDS}`], [['uuid', args.uuid('id')], ['hypervisor', args.str('hypervisor'), 'ieq'], ['hypervisor', args.str('keyword'), 'like']]);
    const values = [JSON.stringify(engine.hosts.drivers().map((d) => d.hypervisor)), ...w.values];
    return queryPage<CapabilityRow>(engine.db, page, { select: '*', from: `FROM hypervisor_capabilities ${w.sql}`, values, orderBy: 'id' }, (rows) =>
      rows.map((row) => capabilityResponse(row, engine.hosts.knownDriver(row.hypervisor)!)));
  },
});

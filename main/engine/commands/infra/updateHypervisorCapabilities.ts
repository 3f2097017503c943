import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { capabilityResponse, type CapabilityRow } from '../../hosts/hypervisor-capabilities.js';
import { refreshHeadroom } from '../../placement/headroom.js';

export default defineCommand({
  name: 'updateHypervisorCapabilities',
  description: 'Updates a hypervisor capabilities: maxguestslimit, the most VMs one host of the hypervisor runs (placement refuses a host at the limit; the N-1 headroom check uses it).',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'hypervisorcapabilities',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the hypervisor capability' },
    { name: 'hypervisor', type: 'string', description: 'the hypervisor for which the capabilities are to be updated (with hypervisorversion), instead of id' },
    { name: 'hypervisorversion', type: 'string', description: 'the hypervisor version for which the capabilities are to be updated (default: "default")' },
    { name: 'maxguestslimit', type: 'long', description: 'the max number of Guest VMs per host for this hypervisor.' },
    { name: 'securitygroupenabled', type: 'boolean', description: 'set true to enable security group for this hypervisor.' },
  ],
  handler({ engine }, args) {
    const id = args.uuid('id');
    const hypervisor = args.str('hypervisor');
    let row: CapabilityRow | undefined;
    if (id) row = byUuid<CapabilityRow>(engine.db, 'hypervisorCapability', id, 'id');
    else if (hypervisor) {
      row = engine.db.prepare('SELECT * FROM hypervisor_capabilities WHERE lower(hypervisor)=lower(?) AND hypervisor_version=?').get(hypervisor, args.str('hypervisorversion') || 'default') as CapabilityRow | undefined;
      if (!row) throw ApiError.param(`hypervisor: no capabilities for ${hypervisor} version ${args.str('hypervisorversion') || 'default'}`);
    } else throw ApiError.param('Unable to execute API command updatehypervisorcapabilities due to missing parameter id (or hypervisor)');
    const driver = engine.hosts.knownDriver(row.hypervisor);
    if (!driver) throw ApiError.param(`id: no ${row.hypervisor} driver is available in this Kiln`);
    if (args.bool('securitygroupenabled')) throw ApiError.param('securitygroupenabled: Kiln has no security groups');
    const limit = args.int('maxguestslimit');
    if (limit !== undefined) {
      if (limit < 1) throw ApiError.param(`maxguestslimit: must be 1 or more, not ${limit}`);
      engine.db.prepare('UPDATE hypervisor_capabilities SET max_guests_limit=? WHERE id=?').run(limit, row.id);
      // A lower limit may take a cluster's headroom away: say so now, not at the next HA pass.
      refreshHeadroom(engine);
    }
    const now = engine.db.prepare('SELECT * FROM hypervisor_capabilities WHERE id=?').get(row.id) as CapabilityRow;
    return capabilityResponse(now, driver);
  },
});

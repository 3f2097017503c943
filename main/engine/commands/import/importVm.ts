import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { HOSTNAME_RULE } from '../../registry/param-rules.js';
import { importFromDisk } from '../../import/import-disk.js';

export default defineCommand({
  name: 'importVm',
  description: "Imports a KVM VM from a disk image in a host's storage pool (importsource=local or shared): a new VM whose root volume is that disk, started on the host. importsource=external (a KVM host Kiln does not manage) is refused: not available yet.",
  since: '4.19.0',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'the zone of the VM' },
    { name: 'importsource', type: 'string', required: true, description: 'external, local or shared (Kiln: local and shared)' },
    { name: 'name', type: 'string', required: true, maxLength: 63, rule: HOSTNAME_RULE, description: 'the host name of the new VM' },
    { name: 'displayname', type: 'string', description: 'the display name of the new VM' },
    { name: 'hypervisor', type: 'string', description: 'KVM' },
    { name: 'hostid', type: 'uuid', description: 'the host whose storage pool holds diskpath (local and shared)' },
    { name: 'storageid', type: 'uuid', description: 'a primary storage id (Kiln: refused; give hostid)' },
    { name: 'diskpath', type: 'string', maxLength: 255, description: "the disk's volume name in the host's storage pool (a name, never a path)" },
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the service offering; details cpuNumber, cpuSpeed and memory for a custom one' },
    { name: 'networkid', type: 'uuid', description: "the VM's network; default: the zone's first one the account can use" },
    { name: 'templateid', type: 'uuid', description: "the VM's template (its OS); default: Kiln's dummy import template" },
    { name: 'account', type: 'string', description: 'an optional account for the VM; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'the domain of the account; needs account' },
    { name: 'details', type: 'map', description: 'VM details; cpuNumber, cpuSpeed and memory for a custom offering' },
  ],
  handler({ engine, caller }, args) {
    return importFromDisk(engine, caller, args);
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { changeOffering } from '../../vm/vm-changes.js';
import { resolveResources } from '../../vm/deploy-input.js';
import { vmResponse } from '../../vm/vm-response.js';
import type { OfferingRow } from '../../vm/rows.js';

export default defineCommand({
  name: 'changeServiceForVirtualMachine',
  description: 'Changes the service offering for a stopped virtual machine; the new CPU and memory apply at its next start.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ['Stopped', 'Created'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the service offering ID to apply to the virtual machine' },
    { name: 'details', type: 'map', description: 'cpuNumber, cpuSpeed and memory for a custom offering' },
  ],
  async handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    const offering = byUuid<OfferingRow>(engine.db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
    return vmResponse(engine, await changeOffering(engine, caller, vm, offering, resolveResources(offering, args.details('details') ?? {})), caller);
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { checkScalable, scaleVm } from '../../vm/vm-changes.js';
import { resolveResources } from '../../vm/deploy-input.js';
import { vmJob } from '../../vm/vm-job.js';
import type { OfferingRow } from '../../vm/rows.js';

export default defineCommand({
  name: 'scaleVirtualMachine',
  description: 'Scales the CPU and memory of a running, dynamically scalable VM (zone setting enable.dynamic.scale.vm), migrating it within its cluster when its host lacks room.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ['Running'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the ID of the service offering for the virtual machine' },
    { name: 'details', type: 'map', description: 'cpuNumber, cpuSpeed and memory for a custom offering' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    engine.vms.assertHostReachable(vm);
    const offering = byUuid<OfferingRow>(engine.db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
    const target = resolveResources(offering, args.details('details') ?? {});
    checkScalable(engine, vm, target);
    return vmJob(ctx, vm, (job) => scaleVm(engine, caller, vm.id, offering, target, job));
  },
});

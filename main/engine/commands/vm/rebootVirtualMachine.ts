import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { vmJob } from '../../vm/vm-job.js';

export default defineCommand({
  name: 'rebootVirtualMachine',
  description: 'Reboots a virtual machine in place; unlike start, the hypervisor definition is not rebuilt (R9).',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ['Running'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'forced', type: 'boolean', description: 'Reset the VM instead of an ACPI reboot' },
  ],
  handler(ctx, args) {
    const vm = ctx.engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    ctx.engine.vms.assertHostReachable(vm);
    if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is in state ${vm.state}; only a Running VM can be rebooted`);
    return vmJob(ctx, vm, (job) => ctx.engine.vms.reboot(ctx.caller, ctx.engine.vms.get(vm.id), job, args.bool('forced') ?? false));
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { vmJob } from '../../vm/vm-job.js';

const STOPPABLE = ['Running', 'Unknown', 'Stopping'];

export default defineCommand({
  name: 'stopVirtualMachine',
  description: 'Stops a virtual machine: ACPI shutdown first, power off after vm.stop.timeout; forced=true powers off at once.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ['Running', 'Unknown'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'forced', type: 'boolean', description: 'Force stop the VM (vm is marked as Stopped even when command fails to be sent to the backend)' },
  ],
  handler(ctx, args) {
    const vm = ctx.engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    if (!args.bool('forced')) ctx.engine.vms.assertHostReachable(vm);
    if (!STOPPABLE.includes(vm.state)) throw ApiError.param(`VM ${vm.display_name} is in state ${vm.state}; only a Running VM can be stopped`);
    return vmJob(ctx, vm, (job) => ctx.engine.vms.stop(ctx.caller, ctx.engine.vms.get(vm.id), args.bool('forced') ?? false, job));
  },
});

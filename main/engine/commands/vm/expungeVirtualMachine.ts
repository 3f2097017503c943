import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { vmJob } from '../../vm/vm-job.js';

export default defineCommand({
  name: 'expungeVirtualMachine',
  description: 'Expunges a destroyed virtual machine: its disks are deleted and its IP and MAC addresses freed.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'success',
  vmStates: ['Destroyed'],
  params: [{ name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' }],
  handler(ctx, args) {
    const vm = ctx.engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    if (vm.state !== 'Destroyed') throw ApiError.param(`VM ${vm.display_name} is in state ${vm.state}; destroy it before expunging`);
    return vmJob(ctx, vm, (job) => ctx.engine.vms.expunge(ctx.caller, ctx.engine.vms.get(vm.id), job));
  },
});

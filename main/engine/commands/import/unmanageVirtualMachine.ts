import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { unmanageRefusal, unmanageVm } from '../../import/unmanage.js';

export default defineCommand({
  name: 'unmanageVirtualMachine',
  description: 'Unmanages a virtual machine: Kiln forgets it (volumes, NICs, snapshots and details leave its database) and leaves it running or stopped on the hypervisor, untouched, where listUnmanagedInstances finds it again.',
  since: '4.15.0',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'success',
  vmStates: ['Running', 'Stopped'],
  params: [{ name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine to unmanage' }],
  handler(ctx, args) {
    const vm = ctx.engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    // R39's refusals are answered at once (431 with the reason), before any job.
    const refusal = unmanageRefusal(ctx.engine, vm);
    if (refusal) throw ApiError.param(refusal);
    return {
      instanceType: 'VirtualMachine',
      instanceId: vm.uuid,
      queueKey: `vm:${vm.id}`,
      run: async () => {
        await unmanageVm(ctx.engine, ctx.caller, ctx.engine.vms.get(vm.id));
        return { details: `VM ${vm.display_name} is no longer managed by Kiln; it stays on the hypervisor as ${vm.internal_name}` };
      },
    };
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';

export default defineCommand({
  name: 'getVirtualMachineUserData',
  description: 'Returns the base64 user data of a virtual machine (not part of the VM response, as in CloudStack).',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'virtualmachineuserdata',
  params: [{ name: 'virtualmachineid', type: 'uuid', required: true, description: 'The ID of the virtual machine' }],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    return { virtualmachineid: vm.uuid, userdata: vm.user_data ?? undefined };
  },
});

import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { vmResponse } from '../../vm/vm-response.js';

export default defineCommand({
  name: 'recoverVirtualMachine',
  description: 'Recovers a destroyed virtual machine; it comes back Stopped.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  vmStates: ['Destroyed'],
  params: [{ name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' }],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    return vmResponse(engine, engine.vms.recover(caller, vm), caller);
  },
});

import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { vmJob } from '../../vm/vm-job.js';
import { checkRemoveNic, NIC_STATES, removeNic } from '../../vm/vm-nics.js';

export default defineCommand({
  name: 'removeNicFromVirtualMachine',
  description: 'Removes a VM NIC (not its default one): unplugged from the running VM at once (where its host can), else from its next start.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: NIC_STATES,
  capabilities: ['nics'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'Virtual Machine ID' },
    { name: 'nicid', type: 'uuid', required: true, description: 'NIC ID' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const nicId = args.uuid('nicid')!;
    checkRemoveNic(engine, vm, nicId);
    engine.vms.assertHostReachable(vm);
    return vmJob(ctx, vm, (job) => removeNic(engine, caller, vm, nicId, job));
  },
});

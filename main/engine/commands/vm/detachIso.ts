import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { vmJob } from '../../vm/vm-job.js';
import { checkDetach, detachIso, ISO_STATES } from '../../vm/vm-iso.js';

export default defineCommand({
  name: 'detachIso',
  description: 'Detaches any ISO file (if any) currently attached to a virtual machine: ejected at once while it runs, else from its next start.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ISO_STATES,
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'forced', type: 'boolean', description: 'accepted for CloudStack compatibility; a KVM CD-ROM is ejected without asking the guest' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    checkDetach(vm);
    engine.vms.assertHostReachable(vm);
    return vmJob(ctx, vm, (job) => detachIso(engine, caller, vm, job));
  },
});

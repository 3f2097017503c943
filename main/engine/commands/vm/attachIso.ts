import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { vmJob } from '../../vm/vm-job.js';
import { attachIso, checkAttach, isoForVm, ISO_STATES } from '../../vm/vm-iso.js';

export default defineCommand({
  name: 'attachIso',
  description: "Attaches an ISO to a virtual machine: into its CD-ROM drive at once while it runs (the ISO is copied to the host's storage first), else at its next start.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ISO_STATES,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the ISO file' },
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'forced', type: 'boolean', description: 'accepted for CloudStack compatibility; a KVM CD-ROM changes without asking the guest' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    checkAttach(engine, vm);
    const iso = isoForVm(engine, caller, vm, args.uuid('id')!, 'id');
    engine.vms.assertHostReachable(vm);
    return vmJob(ctx, vm, (job) => attachIso(engine, caller, vm, iso, job));
  },
});

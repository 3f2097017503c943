import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { coldMigrateVm, holdsGpu, migrateVm } from '../../vm/vm-changes.js';
import { vmJob } from '../../vm/vm-job.js';
import { moveStoppedVm, planStoppedMove } from '../../vm/stopped-move.js';
import { planMigration } from '../../placement/migration.js';
import { adoptedPin, refuseElsewhere } from '../../import/adopted-moves.js';

export default defineCommand({
  name: 'migrateVirtualMachine',
  description: 'Attempts live migration of a running virtual machine to the host specified (root admin only). KVM: same cluster, shared storage only. A VM with a GPU moves cold: stopped, then started on the destination.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  vmStates: ['Running'],
  capabilities: ['liveMigration', 'migration'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'hostid', type: 'uuid', description: 'Destination Host ID to migrate VM to' },
    { name: 'autoselect', type: 'boolean', description: 'pick the destination host automatically when hostid is not given (default true)' },
    { name: 'storageid', type: 'uuid', vmStates: ['Stopped'], description: 'a Stopped VM: the storage pool of another cluster to move it to with its volumes (its next start is in that cluster)' },
  ],
  async handler(ctx, args) {
    const { engine, caller } = ctx;
    if (args.uuid('storageid')) {
      const plan = planStoppedMove(engine, caller, args);
      return vmJob(ctx, plan.vm, (job) => moveStoppedVm(engine, caller, plan, job));
    }
    // An imported VM whose definition and disks only its host has stays there (adopted-moves.ts):
    // said before placement, whose verdict on the same disks (a host's local pool) is a 533 that
    // does not tell the admin that migrateallowed is what would let it go.
    const pin = await adoptedPin(engine, engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid'));
    if (pin) refuseElsewhere(pin, 'virtualmachineid');
    const { vm, chosen, outcome } = planMigration(engine, caller, args);
    return vmJob(ctx, vm, async (job) => {
      engine.vms.lastPlacement.set(vm.id, outcome);
      const current = engine.vms.get(vm.id);
      // A GPU VM cannot move live (its vGPU is bound to a physical GPU): stopped, started there (R70).
      if (holdsGpu(engine, current)) return coldMigrateVm(engine, caller, current, chosen, job);
      return migrateVm(engine, caller, current, chosen, job);
    });
  },
});

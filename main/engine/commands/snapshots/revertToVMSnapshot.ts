import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { checkRevert, revertToSnapshot, snapshotForCaller, SNAPSHOT_VM_STATES } from '../../vm/vm-snapshots.js';
import { vmJob } from '../../vm/vm-job.js';

export default defineCommand({
  name: 'revertToVMSnapshot',
  description: 'Reverts a VM to a snapshot: a memory snapshot leaves it Running, a disk-only one Stopped (revert a disk-only one with the VM stopped).',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: SNAPSHOT_VM_STATES,
  capabilities: ['snapshots'],
  params: [{ name: 'vmsnapshotid', type: 'uuid', required: true, description: 'The ID of the vm snapshot' }],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const { snapshot, vm } = snapshotForCaller(engine, caller, args.uuid('vmsnapshotid')!);
    checkRevert(engine, snapshot, vm);
    return vmJob(ctx, vm, (job) => revertToSnapshot(engine, caller, snapshot.id, job));
  },
});

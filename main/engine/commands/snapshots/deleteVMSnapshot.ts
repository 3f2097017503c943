import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { checkDelete, removeSnapshot, snapshotForCaller, SNAPSHOT_VM_STATES } from '../../vm/vm-snapshots.js';

export default defineCommand({
  name: 'deleteVMSnapshot',
  description: 'Deletes a VM snapshot; its children move to its parent.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  vmStates: SNAPSHOT_VM_STATES,
  capabilities: ['snapshots'],
  params: [{ name: 'vmsnapshotid', type: 'uuid', required: true, description: 'The ID of the VM snapshot' }],
  handler({ engine, caller }, args) {
    const { snapshot, vm } = snapshotForCaller(engine, caller, args.uuid('vmsnapshotid')!);
    checkDelete(engine, snapshot, vm);
    return {
      instanceType: 'VMSnapshot',
      instanceId: snapshot.uuid,
      queueKey: `vm:${vm.id}`,
      run: async (job) => {
        // Checked again in the VM's queue: a revert or delete queued before this one may have changed things.
        const again = snapshotForCaller(engine, caller, snapshot.uuid);
        checkDelete(engine, again.snapshot, again.vm);
        await removeSnapshot(engine, { caller, jobUuid: job.uuid }, snapshot.id);
        return undefined;
      },
    };
  },
});

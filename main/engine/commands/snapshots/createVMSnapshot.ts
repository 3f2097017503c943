import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { allocateSnapshot, snapshotResponse, takeSnapshot, MEMORY_SNAPSHOT_VM_STATES, SNAPSHOT_VM_STATES } from '../../vm/vm-snapshots.js';

export default defineCommand({
  name: 'createVMSnapshot',
  description: "Creates a snapshot of a VM's disks and, for a running VM, optionally its memory; it becomes the current snapshot, a child of the previous one.",
  kind: 'asyncCreate',
  roles: ALL_ROLES,
  response: 'vmsnapshot',
  vmStates: SNAPSHOT_VM_STATES,
  capabilities: ['snapshots'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'The ID of the vm' },
    { name: 'name', type: 'string', description: 'The display name of the snapshot' },
    { name: 'description', type: 'string', description: 'The description of the snapshot' },
    { name: 'snapshotmemory', type: 'boolean', description: 'snapshot memory if true (a Running VM only)', vmStates: MEMORY_SNAPSHOT_VM_STATES },
    { name: 'quiescevm', type: 'boolean', description: 'quiesce vm if true' },
  ],
  async handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const snapshot = await allocateSnapshot(engine, vm, {
      displayName: args.str('name'),
      description: args.str('description'),
      withMemory: args.bool('snapshotmemory') ?? false,
      quiesce: args.bool('quiescevm') ?? false,
    });
    return {
      instanceType: 'VMSnapshot',
      instanceId: snapshot.uuid,
      queueKey: `vm:${vm.id}`,
      run: async (job) => snapshotResponse(engine, await takeSnapshot(engine, caller, snapshot.id, job.uuid)),
    };
  },
});

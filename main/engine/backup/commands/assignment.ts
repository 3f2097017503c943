/** SLA mode (R55): a VM assigned to a backup offering, and removed from it (forced: with its backups). */
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { offeringByUuid } from '../records.js';

export const assignVirtualMachineToBackupOffering = defineCommand({
  name: 'assignVirtualMachineToBackupOffering',
  description: 'Assigns a VM to a backup offering of its zone.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the virtual machine' },
    { name: 'backupofferingid', type: 'uuid', required: true, description: 'ID of the backup offering' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const offering = offeringByUuid(engine, args.uuid('backupofferingid')!, 'backupofferingid');
    engine.backups.requireEnabled(vm.zone_id);
    return {
      instanceType: 'VirtualMachine',
      instanceId: vm.uuid,
      queueKey: `vm:${vm.id}`,
      run: async () => {
        await engine.backups.assignVm(caller, engine.vms.get(vm.id), offering);
        return undefined;
      },
    };
  },
});

export const removeVirtualMachineFromBackupOffering = defineCommand({
  name: 'removeVirtualMachineFromBackupOffering',
  description: "Removes a VM from its backup offering and its schedules; forced also deletes the VM's backups.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the virtual machine' },
    { name: 'forced', type: 'boolean', description: 'Whether to force remove VM from the backup offering that may also delete VM backups.' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    engine.backups.requireEnabled(vm.zone_id);
    const forced = args.bool('forced') ?? false;
    return {
      instanceType: 'VirtualMachine',
      instanceId: vm.uuid,
      queueKey: `vm:${vm.id}`,
      run: async () => {
        await engine.backups.removeVm(caller, engine.vms.get(vm.id), forced);
        return undefined;
      },
    };
  },
});

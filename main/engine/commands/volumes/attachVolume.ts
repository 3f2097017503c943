import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { VOLUME_VM_STATES } from '../../volumes/volume-states.js';
import { volumeJob, volumesOf } from './volumes-of.js';

export default defineCommand({
  name: 'attachVolume',
  description: "Attaches a data disk volume to a VM: live to a running VM, into a stopped VM's definition; not while the VM has VM snapshots or backups.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'volume',
  vmStates: [...VOLUME_VM_STATES],
  capabilities: ['volumes'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the disk volume' },
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'deviceid', type: 'long', description: 'the ID of the device to map the volume to within the guest OS (1 and up; the first free one when absent)' },
  ],
  handler({ engine, caller }, args) {
    const volumes = volumesOf(engine);
    const volume = volumes.forCaller(caller, args.uuid('id')!);
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const claimed = volumes.claimAttach(volume, vm, args.int('deviceid'));
    return volumeJob(engine, caller, claimed, vm.id, (jobUuid) => volumes.attach(caller, claimed, jobUuid));
  },
});

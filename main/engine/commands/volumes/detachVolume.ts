import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { VOLUME_VM_STATES } from '../../volumes/volume-states.js';
import { volumeJob, volumesOf } from './volumes-of.js';

export default defineCommand({
  name: 'detachVolume',
  description: 'Detaches a data disk volume from its VM (live from a running VM); the disk stays, to attach again or delete. Not while the VM is in a transient state or has VM snapshots or backups.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'volume',
  vmStates: [...VOLUME_VM_STATES],
  capabilities: ['volumes'],
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the disk volume' },
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the virtual machine (with deviceid, instead of id)' },
    { name: 'deviceid', type: 'long', description: 'the device ID on the virtual machine where the volume is attached (with virtualmachineid)' },
  ],
  handler({ engine, caller }, args) {
    const volumes = volumesOf(engine);
    const volume = volumes.forDetach(caller, args.uuid('id'), args.uuid('virtualmachineid'), args.int('deviceid'));
    const vm = volumes.checkDetach(volume);
    return volumeJob(engine, caller, volume, vm.id, (jobUuid) => volumes.detach(caller, volume.id, jobUuid));
  },
});

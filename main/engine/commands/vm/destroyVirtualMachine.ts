import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { vmJob } from '../../vm/vm-job.js';
import type { VolumeRow } from '../../vm/rows.js';

const DESTROYABLE = ['Running', 'Stopped', 'Created', 'Error', 'Unknown'];

export default defineCommand({
  name: 'destroyVirtualMachine',
  description: 'Destroys a virtual machine (stopping it first). It stays recoverable until expunged.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: DESTROYABLE,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'expunge', type: 'boolean', description: 'If true, the VM is expunged at once; a VM already Destroyed is expunged' },
    { name: 'volumeids', type: 'list', of: 'uuid', description: 'Comma separated list of UUIDs for data volumes that will be deleted with the VM' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    const expunge = args.bool('expunge') ?? false;
    // As CloudStack does (Ansible's cs_instance state=expunged relies on it): expunge=true on a VM
    // that is already Destroyed expunges it.
    if (vm.state === 'Destroyed' && expunge) {
      if (args.list('volumeids')?.length) throw ApiError.param(`volumeids: VM ${vm.display_name} is already Destroyed; its volumes go with the expunge`);
      return vmJob(ctx, vm, (job) => engine.vms.expunge(caller, engine.vms.get(vm.id), job));
    }
    if (!DESTROYABLE.includes(vm.state)) throw ApiError.param(`VM ${vm.display_name} is in state ${vm.state}; it cannot be destroyed${vm.state === 'Destroyed' ? ' again (pass expunge=true to expunge it)' : ''}`);
    const volumeIds = (args.list('volumeids') ?? []).map((uuid) => {
      const volume = byUuid<VolumeRow>(engine.db, 'volume', uuid, 'volumeids');
      if (volume.vm_id !== vm.id || volume.volume_type !== 'DATADISK') throw ApiError.param(`volumeids: volume ${uuid} is not a data volume of this VM`);
      return volume.id;
    });
    return vmJob(ctx, vm, (job) => engine.vms.destroy(caller, engine.vms.get(vm.id), { expunge, volumeIds }, job));
  },
});

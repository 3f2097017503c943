import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { vmJob } from '../../vm/vm-job.js';
import { resolveGroups } from './groups.js';

export default defineCommand({
  name: 'updateVMAffinityGroup',
  description: "Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to be stopped and the change takes effect at its next start.",
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: ['Stopped', 'Created'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'affinitygroupids', type: 'list', description: 'comma separated list of affinity groups id that are going to be applied to the virtual machine' },
    { name: 'affinitygroupnames', type: 'list', description: 'comma separated list of affinity groups names that are going to be applied to the virtual machine' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    if (vm.state !== 'Stopped' && vm.state !== 'Created') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; stop it to change its affinity groups`);
    const groups = resolveGroups(engine.db, vm.account_id, args.list('affinitygroupids'), args.list('affinitygroupnames'), { ids: 'affinitygroupids', names: 'affinitygroupnames' });
    return vmJob(ctx, vm, async (jobUuid) => {
      const names = groups.map((g) => (engine.db.prepare('SELECT name FROM affinity_groups WHERE id=?').pluck().get(g) as string | undefined) ?? String(g));
      engine.db.transaction(() => {
        engine.db.prepare('DELETE FROM affinity_group_vms WHERE vm_id=?').run(vm.id);
        for (const g of groups) engine.db.prepare('INSERT INTO affinity_group_vms (group_id, vm_id) VALUES (?,?)').run(g, vm.id);
        // CloudStack's VM.AFFINITY.GROUP.UPDATE, naming the VM and its groups.
        engine.events.record({
          type: 'VM.AFFINITY.GROUP.UPDATE', description: names.length ? `VM ${vm.display_name} affinity groups set to ${names.join(', ')}` : `VM ${vm.display_name} removed from its affinity groups`,
          userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid,
        });
      })();
      return engine.vms.get(vm.id);
    });
  },
});

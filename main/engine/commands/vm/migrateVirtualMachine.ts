import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import type { HostRow } from '../../hosts/host-manager.js';
import { migrateVm } from '../../vm/vm-changes.js';
import { vmJob } from '../../vm/vm-job.js';
import { migrationOutcome } from '../../placement/migration.js';

export default defineCommand({
  name: 'migrateVirtualMachine',
  description: 'Attempts live migration of a running virtual machine to the host specified (root admin only). KVM: same cluster, shared storage only.',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  vmStates: ['Running'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'the ID of the virtual machine' },
    { name: 'hostid', type: 'uuid', description: 'Destination Host ID to migrate VM to' },
    { name: 'autoselect', type: 'boolean', description: 'pick the destination host automatically when hostid is not given (default true)' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    engine.vms.assertHostReachable(vm);
    if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; only a Running VM can be migrated`);
    const target = args.uuid('hostid') ? byUuid<HostRow>(engine.db, 'host', args.uuid('hostid')!, 'hostid') : undefined;
    if (!target && args.bool('autoselect') === false) throw ApiError.param('hostid: required when autoselect=false');
    const outcome = migrationOutcome(engine, vm, target);
    const chosen = outcome.host;
    if (!chosen) {
      const why = outcome.considered.filter((v) => !target || v.hostId === target.uuid).map((v) => `${v.hostName}: ${v.reason}`).join('; ');
      throw ApiError.capacity(`Cannot migrate VM ${vm.display_name}: ${why || 'no other host in its cluster'}`, { placement: outcome.considered });
    }
    return vmJob(ctx, vm, async (job) => {
      engine.vms.lastPlacement.set(vm.id, outcome);
      return migrateVm(engine, caller, engine.vms.get(vm.id), chosen, job);
    });
  },
});

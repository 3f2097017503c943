import { defineCommand, ALL_ROLES, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { resolvePlacement } from '../../vm/deploy-input.js';
import { vmJob } from '../../vm/vm-job.js';
import { adoptedPin, refuseElsewhere } from '../../import/adopted-moves.js';

const STARTABLE = ['Stopped', 'Created', 'Error'];

export default defineCommand({
  name: 'startVirtualMachine',
  description: 'Starts a virtual machine; the hypervisor definition is rebuilt from Kiln\'s database (R9).',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: STARTABLE,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'hostid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination Host ID to deploy the VM to (root admin only)' },
    { name: 'podid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination Pod ID (root admin only)' },
    { name: 'clusterid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination Cluster ID (root admin only)' },
  ],
  async handler(ctx, args) {
    const vm = ctx.engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    if (!STARTABLE.includes(vm.state)) throw ApiError.param(`VM ${vm.display_name} is in state ${vm.state}; it can be started only when ${STARTABLE.join(', ')}`);
    const placement = resolvePlacement(ctx.engine, vm.zone_id, args);
    // An imported VM that only its own host can run is refused elsewhere before any job (adopted-moves.ts).
    const pin = placement.hostId !== undefined ? await adoptedPin(ctx.engine, vm) : undefined;
    if (pin && placement.hostId !== pin.hostId) refuseElsewhere(pin, 'hostid');
    return vmJob(ctx, vm, (job) => ctx.engine.vms.start(ctx.caller, ctx.engine.vms.get(vm.id), placement, job));
  },
});

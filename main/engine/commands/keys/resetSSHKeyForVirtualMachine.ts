import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import type { Engine } from '../../engine.js';
import type { VmRow } from '../../vm/rows.js';
import { vmJob } from '../../vm/vm-job.js';
import { resolveKeyPairs, setVmKeys } from '../../ssh-keys/vm-keys.js';
import { resolveOwner } from '../../vm/deploy-input.js';

const RESETTABLE = ['Stopped'];

function requireStopped(vm: VmRow): void {
  // CloudStack's own words; the guest reads the new key at its next boot.
  if (!RESETTABLE.includes(vm.state)) throw ApiError.param(`id: Vm ${vm.display_name} should be stopped to do SSH Key reset (it is ${vm.state})`);
}

export default defineCommand({
  name: 'resetSSHKeyForVirtualMachine',
  description: 'Resets the SSH Key for virtual machine. The virtual machine must be in a "Stopped" state; the guest gets the new key at its next boot.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: RESETTABLE,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'keypair', type: 'string', description: 'name of the ssh key pair used to login to the virtual machine' },
    { name: 'keypairs', type: 'list', description: 'names of the ssh key pairs to be used to login to the virtual machine' },
    { name: 'account', type: 'string', description: 'an optional account for the ssh key. Must be used with domainId.' },
    { name: 'domainid', type: 'uuid', description: 'an optional domainId for the virtual machine. If the account parameter is used, domainId must also be used.' },
  ],
  handler(ctx, args) {
    const engine: Engine = ctx.engine;
    const vm = engine.vms.forCaller(ctx.caller, args.uuid('id')!);
    if (!args.str('keypair') && !(args.list('keypairs') ?? []).length) throw ApiError.param('keypair or keypairs: name at least one SSH key pair');
    requireStopped(vm);
    const owner = args.str('account') ? resolveOwner(engine, ctx.caller, args) : { accountId: vm.account_id };
    if (owner.accountId !== vm.account_id) throw ApiError.param('account: the key pairs must belong to the VM\'s account');
    const keys = resolveKeyPairs(engine.db, vm.account_id, args.str('keypair'), args.list('keypairs'));
    return vmJob(ctx, vm, async (jobUuid) => {
      // Queued behind any other job of this VM: if one started it meanwhile, nothing is written.
      return engine.db.transaction(() => {
        const now = engine.vms.get(vm.id);
        requireStopped(now);
        setVmKeys(engine.db, vm.id, keys);
        engine.events.record({ type: 'VM.RESETSSHKEY', description: `SSH keys of VM ${vm.display_name} reset to ${keys.map((k) => k.name).join(', ')}`, userId: ctx.caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
        return now;
      })();
    });
  },
});

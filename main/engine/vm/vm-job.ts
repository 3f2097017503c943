/**
 * The async half shared by every VM command: run the work in the VM's queue and answer with the
 * VM as it is afterwards (or `success` once it is expunged).
 */
import type { AsyncWork, CommandContext } from '../registry/types.js';
import type { VmRow } from './rows.js';
import { vmResponse } from './vm-response.js';

export function vmJob(ctx: CommandContext, vm: VmRow, work: (jobUuid: string) => Promise<VmRow>): AsyncWork {
  return {
    instanceType: 'VirtualMachine',
    instanceId: vm.uuid,
    queueKey: `vm:${vm.id}`,
    run: async (job) => {
      ctx.engine.vms.lastPlacement.delete(vm.id);
      const after = await work(job.uuid);
      if (after.state === 'Expunged') return undefined;
      const response = vmResponse(ctx.engine, after, ctx.caller);
      // Kiln's placement explainer rides along with the VM: every host considered and why (admins only).
      const placement = ctx.engine.vms.lastPlacement.get(vm.id);
      if (placement && ctx.caller.role === 'Admin') response['placement'] = { policy: placement.policy, order: placement.order, hosts: placement.considered };
      return response;
    },
  };
}

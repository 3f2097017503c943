/**
 * The async half shared by every VM command: run the work in the VM's queue and answer with the
 * VM as it is afterwards (or `success` once it is expunged).
 */
import type { Engine } from '../engine.js';
import type { ApiObject, AsyncWork, Caller, CommandContext } from '../registry/types.js';
import type { VmRow } from './rows.js';
import { vmResponse } from './vm-response.js';

/**
 * The VM as a job result, with Kiln's placement explainer when the job placed it (every host
 * considered and why; admins only). Commands and the HA monitor's restarts answer alike.
 */
export function vmJobResult(engine: Engine, vm: VmRow, caller: Caller): ApiObject {
  const response = vmResponse(engine, vm, caller);
  const placement = engine.vms.lastPlacement.get(vm.id);
  if (placement && caller.role === 'Admin') response['placement'] = { policy: placement.policy, order: placement.order, hosts: placement.considered };
  return response;
}

export function vmJob(ctx: CommandContext, vm: VmRow, work: (jobUuid: string) => Promise<VmRow>): AsyncWork {
  return {
    instanceType: 'VirtualMachine',
    instanceId: vm.uuid,
    queueKey: `vm:${vm.id}`,
    run: async (job) => {
      ctx.engine.vms.lastPlacement.delete(vm.id);
      const after = await work(job.uuid);
      if (after.state === 'Expunged') return undefined;
      return vmJobResult(ctx.engine, after, ctx.caller);
    },
  };
}

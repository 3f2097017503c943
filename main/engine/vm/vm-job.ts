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
      const after = await work(job.uuid);
      return after.state === 'Expunged' ? undefined : vmResponse(ctx.engine, after, ctx.caller);
    },
  };
}

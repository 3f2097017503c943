/**
 * The async half shared by every VM command: run the work in the VM's queue and answer with the
 * VM as it is afterwards (or `success` once it is expunged).
 */
import type { Engine } from '../engine.js';
import type { ApiObject, AsyncWork, Caller, CommandContext } from '../registry/types.js';
import type { VmRow } from './rows.js';
import { vmResponse } from './vm-response.js';
import { canTransition, TRANSIENT_STATES } from './states.js';
import { toApiError } from '../registry/errors.js';

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
      let after: VmRow;
      try {
        after = await work(job.uuid);
      } catch (error) {
        settleFailedJob(ctx.engine, ctx.caller, vm.id, job.uuid, error);
        throw error;
      }
      if (after.state === 'Expunged') return undefined;
      return vmJobResult(ctx.engine, after, ctx.caller);
    },
  };
}

/** The event type a failed VM job is recorded under, by its command. */
const FAILURE_EVENTS: Record<string, string> = {
  deployVirtualMachine: 'VM.CREATE',
  startVirtualMachine: 'VM.START',
  stopVirtualMachine: 'VM.STOP',
  rebootVirtualMachine: 'VM.REBOOT',
  destroyVirtualMachine: 'VM.DESTROY',
  expungeVirtualMachine: 'VM.EXPUNGE',
  migrateVirtualMachine: 'VM.MIGRATE',
  migrateVirtualMachineWithVolume: 'VM.MIGRATE',
  scaleVirtualMachine: 'VM.DYNAMIC.SCALE',
  restoreVirtualMachine: 'VM.RESTORE',
  revertToVMSnapshot: 'VMSNAPSHOT.REVERTTO',
  'HA.restart': 'HA.RESTART',
};

/**
 * Every failed VM job ends settled and says why. The VM jobs of one VM run one at a time (one
 * queue), so a VM still in a transient state when its job fails was left there by that job: it goes
 * to Error, which can always be started, destroyed or expunged. Then one ERROR event carries the
 * job's error text, so listEvents tells what queryAsyncJobResult tells.
 */
export function settleFailedJob(engine: Engine, caller: Caller, vmId: number, jobUuid: string, error: unknown): void {
  const text = toApiError(error).message;
  try {
    const vm = engine.vms.get(vmId);
    if (TRANSIENT_STATES.includes(vm.state) && canTransition(vm.state, 'Error')) {
      engine.vms.transition(vm, 'Error', { caller, jobUuid, note: `its job failed: ${text}` });
    }
    const cmd = (engine.db.prepare('SELECT cmd FROM async_jobs WHERE uuid=?').get(jobUuid) as { cmd: string } | undefined)?.cmd ?? 'job';
    const now = engine.vms.get(vmId);
    engine.events.record({
      type: FAILURE_EVENTS[cmd] ?? 'VM.ERROR',
      level: 'ERROR',
      description: `VM ${now.display_name} (${now.uuid}): ${cmd} failed, the VM is ${now.state}: ${text}`,
      userId: caller.userId,
      accountId: now.account_id,
      domainId: now.domain_id,
      resourceType: 'VirtualMachine',
      resourceUuid: now.uuid,
      jobUuid,
    });
  } catch (settleError) {
    engine.log.warn(`settling VM ${vmId} after its job ${jobUuid} failed: ${settleError instanceof Error ? settleError.message : String(settleError)}`);
  }
}

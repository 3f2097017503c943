/**
 * Runs a command that may place the VM anew (scale, offering change, migrate, start on a host)
 * and answers the VM as the engine returned it. A placement refusal (533) goes to onRefused, so
 * the dialog can list each host's reason; either way the VM's row is read again, since the
 * command may have moved it. One place for what the VM change dialogs all do.
 */
import type { ApiParams } from '../../../../preload/api';
import type { Placement, Vm } from '../../api/model';
import { runQuietly } from '../../api/run-job';
import { refusedPlacement, vmOf, type VmResult } from '../../actions/vm-changes';
import { useVms } from '../../stores/vm-store';

export async function runVmChange(vm: Vm, command: string, params: ApiParams, onRefused: (placement: Placement | undefined) => void): Promise<VmResult> {
  try {
    return vmOf(await runQuietly(command, params)) ?? vm;
  } catch (err) {
    onRefused(refusedPlacement(err));
    throw err;
  } finally {
    void useVms.getState().reloadOne(vm.id);
  }
}

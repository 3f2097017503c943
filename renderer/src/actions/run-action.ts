/** Runs one VM action: asks first when the record says so, calls the command, follows its job. */
import type { Vm } from '../api/model';
import { errorText } from '../api/model';
import { waitForJob, JobFailedError } from '../api/jobs';
import { kiln } from '../transport';
import { useConfirm } from '../stores/confirm-store';
import { useJobs } from '../stores/jobs-store';
import { navigate } from '../stores/route-store';
import { useAffinityDialog } from '../stores/affinity-dialog-store';
import { useVmDialog } from '../stores/vm-dialog-store';
import type { VmAction } from './vm-actions';

export async function runVmAction(action: VmAction, vm: Vm): Promise<boolean> {
  const name = vm.displayname || vm.name;
  if (action.opens === 'console') {
    navigate({ view: 'vm', id: vm.id, tab: 'console' });
    return true;
  }
  if (action.opens === 'affinity') {
    useAffinityDialog.getState().open(vm);
    return true;
  }
  if (action.opens) {
    useVmDialog.getState().open(action.opens, vm);
    return true;
  }
  if (action.confirm) {
    const answer = await useConfirm.getState().ask({
      title: `${action.label} ${name}?`,
      body: action.confirm([name]),
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: action.label, danger: action.danger }],
    });
    if (answer !== 'go') return false;
  }
  const notify = useJobs.getState().notify;
  try {
    const response = await kiln.invoke(action.command, action.params(vm));
    // An async command is announced by the jobs subscription when its job ends; a sync one is done here.
    if (typeof response['jobid'] === 'string') await waitForJob(response['jobid']);
    else notify('success', `${action.label} ${name}: done`);
    return true;
  } catch (error) {
    // A failed job is already announced by the jobs subscription.
    if (!(error instanceof JobFailedError)) notify('error', `${action.label} ${name}: ${errorText(error)}`);
    return false;
  }
  // No list reload: the VM's changed record arrives over the 'vms' live channel (vm-feed.ts).
}

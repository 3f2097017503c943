/**
 * The delete of one record from a list view: ask (Cancel / Delete), run the command, say how it
 * went in a notice, then reload the list either way (a failed delete may still have changed it).
 */
import { errorText } from './model';
import { useConfirm } from '../stores/confirm-store';
import { useJobs } from '../stores/jobs-store';

export async function confirmDelete(what: string, body: string, work: () => Promise<unknown>, reload: () => void): Promise<void> {
  const answer = await useConfirm.getState().ask({
    title: `Delete ${what}?`,
    body,
    choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
  });
  if (answer !== 'go') return;
  try {
    await work();
    useJobs.getState().notify('success', `${what.charAt(0).toUpperCase()}${what.slice(1)} deleted`);
  } catch (e) {
    useJobs.getState().notify('error', `Could not delete ${what}: ${errorText(e)}`);
  }
  reload();
}

/**
 * Runs one VM-snapshot command at a time for the Snapshots tab (the engine runs one snapshot task
 * per VM anyway): follows its job with runQuietly, so the jobs store still counts and shows its
 * progress while this tab words the finished/failed notice itself ("snapshot before taken", not
 * "Create VMSnapshot finished"), keeps the engine's error (code and errortext) for the panel, and
 * reloads the list when the command is accepted and again when its job ends.
 */
import { useCallback, useState } from 'react';
import type { ApiEnvelope, ApiParams } from '../../../../preload/api';
import { runQuietly } from '../../api/run-job';
import { errorText, shownError, type ShownError } from '../../api/model';
import { useJobs } from '../../stores/jobs-store';

export interface SnapshotTask {
  command: string;
  params: ApiParams;
  /** "Taking snapshot before…": shown with the job's progress while it runs. */
  running: string;
  /** The success notice, from the job's result. */
  done(result: ApiEnvelope): string;
  /** "Snapshot not taken": the error panel's prefix and the failure notice's start. */
  failed: string;
}

export interface SnapshotJob {
  running?: { text: string; jobid?: string };
  error?: ShownError & { prefix: string };
  run(task: SnapshotTask): Promise<boolean>;
  clearError(): void;
}

export function useSnapshotJob(reload: () => void): SnapshotJob {
  const [running, setRunning] = useState<SnapshotJob['running']>();
  const [error, setError] = useState<SnapshotJob['error']>();
  const run = useCallback(
    async (task: SnapshotTask) => {
      const notify = useJobs.getState().notify;
      setError(undefined);
      setRunning({ text: task.running });
      try {
        const result = await runQuietly(task.command, task.params, (jobid) => {
          setRunning({ text: task.running, jobid });
          reload();
        });
        notify('success', task.done(result));
        return true;
      } catch (e) {
        setError({ ...shownError(e), prefix: `${task.failed}:` });
        notify('error', `${task.failed}: ${errorText(e)}`);
        return false;
      } finally {
        setRunning(undefined);
        reload();
        // A revert changes the VM too (its state, its offering): its record arrives over the 'vms' channel.
      }
    },
    [reload],
  );
  return { running, error, run, clearError: useCallback(() => setError(undefined), []) };
}

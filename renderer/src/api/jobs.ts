/**
 * Following an async job to its end: the 'jobs' live channel says when it ended, and
 * queryAsyncJobResult reads its result then (a job costs two reads, not one every few hundred
 * milliseconds: a bulk stop of 20 VMs used to ask about every job until it ended).
 */
import type { ApiEnvelope, JobUpdate, JobsUpdate } from '../../../preload/api';
import { kiln } from '../transport';

export const JOB_IN_PROGRESS = 0;
export const JOB_SUCCEEDED = 1;
export const JOB_FAILED = 2;

/** A failed job, with the same fields as a failed call (errorcode, errortext, the result as details). */
export class JobFailedError extends Error {
  readonly errorcode: number;
  readonly errortext: string;
  constructor(readonly jobid: string, readonly details: Record<string, unknown>) {
    super(String(details['errortext'] ?? 'the job failed'));
    this.errorcode = typeof details['errorcode'] === 'number' ? details['errorcode'] : 530;
    this.errortext = this.message;
  }
}

/**
 * Follows the 'jobs' channel one job update at a time: the engine sends them in batches (the
 * latest update of each job changed in the last moment, main/engine/live/job-feed.ts).
 */
export function subscribeJobs(listener: (update: JobUpdate) => void): () => void {
  return kiln.subscribe('jobs', (message) => {
    for (const update of (message as JobsUpdate).changed) listener(update);
  });
}

/**
 * Resolves with the job's result, or throws JobFailedError. The job is read when the wait begins
 * and again when the 'jobs' channel reports its end; INTERVAL_MS is the safety net for an end the
 * channel did not bring (a socket that was reconnecting, a bridge without the channel).
 */
export async function waitForJob(jobid: string, intervalMs = 5000): Promise<ApiEnvelope> {
  let ended = false;
  let wake: (() => void) | undefined;
  const off = subscribeJobs((update) => {
    if (update.jobid !== jobid || update.status === JOB_IN_PROGRESS) return;
    ended = true;
    wake?.();
  });
  try {
    for (;;) {
      const job = await kiln.invoke('queryAsyncJobResult', { jobid });
      const status = job['jobstatus'];
      if (status === JOB_SUCCEEDED) return (job['jobresult'] as ApiEnvelope | undefined) ?? {};
      if (status !== JOB_IN_PROGRESS) throw new JobFailedError(jobid, (job['jobresult'] as Record<string, unknown> | undefined) ?? {});
      // An end pushed while that read was under way: read again at once.
      if (ended) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    off();
  }
}

/** Calls a command and, when it answers with a job, waits for the job. */
export async function invokeAndWait(command: string, params: Record<string, string | number | boolean | undefined>): Promise<ApiEnvelope> {
  const response = await kiln.invoke(command, params);
  const jobid = response['jobid'];
  return typeof jobid === 'string' ? waitForJob(jobid) : response;
}

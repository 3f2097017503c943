/** Following an async job to its end: queryAsyncJobResult until it is no longer in progress. */
import type { ApiEnvelope } from '../../../preload/api';
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

/** Resolves with the job's result, or throws JobFailedError. */
export async function waitForJob(jobid: string, intervalMs = 400): Promise<ApiEnvelope> {
  for (;;) {
    const job = await kiln.invoke('queryAsyncJobResult', { jobid });
    const status = job['jobstatus'];
    if (status === JOB_SUCCEEDED) return (job['jobresult'] as ApiEnvelope | undefined) ?? {};
    if (status !== JOB_IN_PROGRESS) throw new JobFailedError(jobid, (job['jobresult'] as Record<string, unknown> | undefined) ?? {});
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Calls a command and, when it answers with a job, waits for the job. */
export async function invokeAndWait(command: string, params: Record<string, string | number | boolean | undefined>): Promise<ApiEnvelope> {
  const response = await kiln.invoke(command, params);
  const jobid = response['jobid'];
  return typeof jobid === 'string' ? waitForJob(jobid) : response;
}

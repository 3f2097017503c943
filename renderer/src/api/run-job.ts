/**
 * Calls a command whose outcome the caller shows itself (a dialog, a card): follows its job to
 * the end and keeps the generic "… finished" notification for that job quiet.
 */
import type { ApiParams, ApiEnvelope } from '../../../preload/api';
import { kiln } from '../transport';
import { waitForJob } from './jobs';
import { useJobs } from '../stores/jobs-store';

export async function runQuietly(command: string, params: ApiParams, onJob?: (jobid: string) => void): Promise<ApiEnvelope> {
  const response = await kiln.invoke(command, params);
  const jobid = response['jobid'];
  if (typeof jobid !== 'string') return response;
  useJobs.getState().quiet.add(jobid);
  onJob?.(jobid);
  return waitForJob(jobid);
}

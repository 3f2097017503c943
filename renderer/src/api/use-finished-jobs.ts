/** A key that changes whenever a job of one of COMMANDS ends (in this window or another): a tab's list reloads on it. */
import { useJobs } from '../stores/jobs-store';

export function useFinishedJobsKey(commands: ReadonlySet<string>): string {
  return useJobs((s) =>
    [...s.jobs.values()]
      .filter((j) => j.status !== 0 && commands.has(j.cmd))
      .map((j) => j.jobid)
      .sort()
      .join(','),
  );
}

/**
 * The 'jobs' live channel, batched as the 'vms' channel is (RecordFeed): a job's changes (started,
 * progress, ended) mark it, and the batch carries the latest update of each marked job. A bulk
 * stop of 100 VMs therefore reaches the UI as a handful of messages, not the 200 to 300 single
 * updates its jobs emit. Coalescing keeps a job's last update, so its end (always its last) is
 * never lost; only intermediate progress within one batch window is.
 */
import type { JobManager } from '../jobs.js';
import type { JobUpdate, JobsUpdate } from '../../../preload/api.js';
import { RecordFeed } from './record-feed.js';

export class JobFeed extends RecordFeed<JobUpdate> {
  constructor(jobs: JobManager) {
    /** The latest update of each job marked since the last batch. */
    const latest = new Map<string, JobUpdate>();
    super({
      event: 'jobs',
      attach(mark) {
        const onJob = (update: JobUpdate) => {
          // A progress update without a message keeps the message the job's earlier update had.
          const previous = latest.get(update.jobid);
          latest.set(update.jobid, update.message === undefined && previous?.message !== undefined ? { ...update, message: previous.message } : update);
          mark(update.jobid);
        };
        jobs.updates.on('job', onJob);
        return () => {
          jobs.updates.off('job', onJob);
          latest.clear();
        };
      },
      build(jobids): JobsUpdate {
        const changed: JobUpdate[] = [];
        for (const jobid of jobids) {
          const update = latest.get(jobid);
          latest.delete(jobid);
          if (update) changed.push(update);
        }
        return { changed, removed: [] };
      },
    });
  }
}

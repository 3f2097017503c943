/** Jobs and events: running jobs with their progress, the recent finished ones, and the event log. */
import { useEffect } from 'react';
import { useJobs } from '../stores/jobs-store';
import { jobLabel, useJobNames } from '../stores/job-names-store';
import { useVms } from '../stores/vm-store';
import { JOB_FAILED, JOB_IN_PROGRESS, JOB_SUCCEEDED } from '../api/jobs';
import { EventLog } from './EventLog';

export function ActivityView() {
  return (
    <section className="view activity" aria-labelledby="activity-title">
      <div className="view-header">
        <h1 id="activity-title">Jobs and events</h1>
      </div>
      <JobsList />
      <h2>Event log</h2>
      <EventLog />
    </section>
  );
}

export function JobsList() {
  const jobs = useJobs((s) => s.jobs);
  const loadError = useJobs((s) => s.loadError);
  // The jobs from before this page opened, read once; the 'jobs' channel (App.tsx) brings every change after.
  useEffect(() => void useJobs.getState().load(), []);
  const byId = useVms((s) => s.byId);
  const names = useJobNames((s) => s.names);
  // The jobs read from listAsyncJobs (from before the page opened) are named too, where their objects are still there.
  useEffect(() => {
    for (const j of jobs.values()) void useJobNames.getState().resolve(j);
  }, [jobs]);
  const all = [...jobs.values()].sort((a, b) => b.updated - a.updated);
  const running = all.filter((j) => j.status === JOB_IN_PROGRESS);
  const finished = all.filter((j) => j.status !== JOB_IN_PROGRESS);
  const label = (j: (typeof all)[number]) => jobLabel(j, byId, names);
  return (
    <div className="jobs">
      <h2>Running jobs</h2>
      {loadError && (
        <p role="alert" className="error">
          {loadError}
        </p>
      )}
      {running.length === 0 ? (
        <p className="empty">No job is running.</p>
      ) : (
        <ul className="job-list" aria-label="Running jobs">
          {running.map((j) => (
            <li key={j.jobid} className="job">
              <span className="job-label">{label(j)}</span>
              <progress max={100} value={j.progress} aria-label={`${label(j)} progress`} />
              <span className="job-message">{j.message ?? `${Math.round(j.progress)}%`}</span>
            </li>
          ))}
        </ul>
      )}
      {finished.length > 0 && (
        <>
          <h2>Recently finished</h2>
          <ul className="job-list" aria-label="Finished jobs">
            {finished.map((j) => (
              <li key={j.jobid} className={`job ${j.status === JOB_FAILED ? 'job-failed' : 'job-succeeded'}`}>
                <span className="job-label">{label(j)}</span>
                <span className={`badge ${j.status === JOB_SUCCEEDED ? 'state-running' : 'state-error'}`}>{j.status === JOB_SUCCEEDED ? 'Succeeded' : 'Failed'}</span>
                <span className="job-message">{j.message ?? ''}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

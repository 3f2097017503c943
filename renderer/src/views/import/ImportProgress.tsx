/** The import's results: per VM its job's progress bar (the 'jobs' channel, jobs-store) while it runs, then its result. */
import { useJobs } from '../../stores/jobs-store';
import { hrefOf } from '../../stores/route-store';

export type Run = { state: 'running'; jobid?: string } | { state: 'done'; vmId?: string; note?: string } | { state: 'failed'; text: string };

export function ImportProgress({ runs }: { runs: Record<string, Run> }) {
  const jobs = useJobs((s) => s.jobs);
  return (
    <table className="plain-table" aria-label="Import results">
      <thead>
        <tr>
          <th>VM</th>
          <th>Progress</th>
          <th>Result</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(runs).map(([name, run]) => {
          const job = run.state === 'running' && run.jobid ? jobs.get(run.jobid) : undefined;
          return (
            <tr key={name} data-result={run.state}>
              <td>{name}</td>
              <td>
                {run.state === 'failed' ? (
                  <span className="muted">—</span>
                ) : (
                  <progress max={100} value={run.state === 'running' ? job?.progress ?? undefined : 100} aria-label={`Import progress of ${name}`} />
                )}
              </td>
              <td>
                {run.state === 'running' && <span className="muted">{job?.message ?? 'Importing…'}</span>}
                {run.state === 'done' && (
                  <>
                    <span className="success-text">Imported</span>
                    {run.vmId && (
                      <>
                        {' '}
                        <a href={hrefOf({ view: 'vm', id: run.vmId, tab: 'overview' })}>Open {name}</a>
                      </>
                    )}
                    {run.note && <span className="hint"> ({run.note})</span>}
                  </>
                )}
                {run.state === 'failed' && <span className="error">Failed: {run.text}</span>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

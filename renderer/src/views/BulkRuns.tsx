/** Bulk runs (parent jobs kept in the renderer): progress, and each VM's result, failures included. */
import { progressOf, useBulk } from '../stores/bulk-store';

export function BulkRuns() {
  const { runs, dismiss } = useBulk();
  if (runs.length === 0) return null;
  return (
    <div className="bulk-runs">
      {runs.map((run) => {
        const p = progressOf(run);
        return (
          <section key={run.id} className="bulk-run" aria-label={`Bulk ${run.label}`} data-bulk-run={run.id}>
            <header className="bulk-run-header">
              <strong>
                Bulk {run.label.toLowerCase()} of {p.total} VM{p.total === 1 ? '' : 's'}
              </strong>
              <progress max={p.total} value={p.done} aria-label={`Bulk ${run.label.toLowerCase()} progress`} />
              <span className="bulk-summary" aria-live="polite">
                {run.finished ? 'Done: ' : `${p.done} of ${p.total}: `}
                {p.succeeded} succeeded, {p.failed} failed
              </span>
              {run.finished && (
                <button type="button" className="link-button" onClick={() => dismiss(run.id)}>
                  Dismiss
                </button>
              )}
            </header>
            <ul className="bulk-items">
              {run.items.map((item) => (
                <li key={item.vmId} className={`bulk-item bulk-${item.status}`} data-status={item.status}>
                  <span className="bulk-item-name">{item.name}</span>
                  <span className="bulk-item-status">{item.status}</span>
                  {item.errortext && (
                    <span className="bulk-item-error">
                      {item.errorcode ? `${item.errorcode}: ` : ''}
                      {item.errortext}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

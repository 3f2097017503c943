/**
 * A placement decision as a table: the policy, the host chosen, every host considered with its
 * verdict and reason, and the order the suitable ones are tried in. Used for a deploy's outcome
 * (the job's virtualmachine.placement) and for explainPlacement's dry run.
 */
import type { Placement } from '../api/model';

export function PlacementTable({ placement, chosen, label }: { placement: Placement; chosen?: string; label: string }) {
  const order = placement.order ?? [];
  const hosts = [...(placement.hosts ?? [])].sort((a, b) => rank(a) - rank(b));
  function rank(h: { hostName: string; suitable: boolean }) {
    if (h.hostName === chosen) return -1;
    const at = order.indexOf(h.hostName);
    return h.suitable ? (at >= 0 ? at : order.length) : 10_000;
  }
  const refused = hosts.filter((h) => !h.suitable).length;
  return (
    <div className="placement">
      <p className="placement-summary">
        {chosen ? (
          <>
            Host chosen: <strong data-chosen-host={chosen}>{chosen}</strong>
          </>
        ) : (
          <strong className="error">No host can take this VM</strong>
        )}
        {placement.policy && <span className="muted"> · allocation policy {placement.policy}</span>}
        <span className="muted">
          {' '}
          · {hosts.length} considered, {refused} refused
        </span>
      </p>
      <table className="plain-table placement-table" aria-label={label}>
        <thead>
          <tr>
            <th>Host</th>
            <th>Verdict</th>
            <th>Reason</th>
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => {
            const at = order.indexOf(h.hostName);
            const verdict = h.hostName === chosen ? 'chosen' : h.suitable ? 'suitable' : 'refused';
            return (
              <tr key={h.hostId ?? h.hostName} data-verdict={verdict} className={`verdict-${verdict}`}>
                <td>{h.hostName}</td>
                <td>
                  <span className={`badge verdict-badge verdict-badge-${verdict}`}>
                    {verdict === 'chosen' ? 'Chosen' : verdict === 'suitable' ? `Suitable${at >= 0 ? ` (#${at + 1})` : ''}` : 'Refused'}
                  </span>
                </td>
                <td>{h.suitable && h.reason === 'suitable' ? <span className="muted">passes every filter</span> : h.reason}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

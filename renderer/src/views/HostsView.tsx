/** Hosts (read-only for now: the engine has no addHost command yet): state, capacity, host-key fingerprint. */
import { useEffect, useState } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type Host } from '../api/model';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';

const GiB = 1024 ** 3;

export function HostsView() {
  const [hosts, setHosts] = useState<Host[]>();
  const [error, setError] = useState<string>();
  const apis = useApiCatalog((s) => s.apis);
  const load = () =>
    kiln.invoke('listHosts').then(
      (r) => {
        setHosts(listOf<Host>(r, 'host'));
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e)),
    );
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 10_000);
    return () => clearInterval(timer);
  }, []);
  return (
    <section className="view hosts" aria-labelledby="hosts-title">
      <div className="view-header">
        <h1 id="hosts-title">Hosts</h1>
        <div className="toolbar">
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </div>
      <p className="placeholder" role="note">
        {hasApi(apis, 'addHost') ? (
          <>
            This page is read-only for now: adding a host from here is not built yet. The engine accepts <code>addHost</code> through the API (<code>kiln api addHost …</code>).
          </>
        ) : (
          <>
            Adding hosts is not available yet (the engine has no <code>addHost</code> command); this page is read-only.
          </>
        )}
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {hosts && (
        <table className="plain-table" aria-label="Hosts">
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Hypervisor</th>
              <th>Zone / pod / cluster</th>
              <th>CPU</th>
              <th>Memory allocated</th>
              <th>Host key (SHA256)</th>
            </tr>
          </thead>
          <tbody>
            {hosts.map((h) => {
              const memTotal = h.memorytotal ?? 0;
              const memAlloc = h.memoryallocated ?? 0;
              return (
                <tr key={h.id}>
                  <td>
                    <strong>{h.name}</strong>
                    {h.ipaddress && <div className="muted mono">{h.ipaddress}</div>}
                  </td>
                  <td>
                    <span className={`badge host-${h.state.toLowerCase()}`}>{h.state}</span>
                    {h.resourcestate && h.resourcestate !== 'Enabled' && <div className="muted">{h.resourcestate}</div>}
                    {h.details?.lasterror && <div className="error small">{h.details.lasterror}</div>}
                  </td>
                  <td>{h.hypervisor}</td>
                  <td>
                    {h.zonename} / {h.podname} / {h.clustername}
                  </td>
                  <td>
                    <div>
                      {h.cpunumber ?? '?'} × {h.cpuspeed ?? '?'} MHz
                    </div>
                    <meter min={0} max={100} value={parseFloat(h.cpuallocated ?? '0')} aria-label={`CPU allocated on ${h.name}`} />
                    <span className="muted"> {h.cpuallocated ?? '0%'} allocated</span>
                  </td>
                  <td>
                    <div>
                      {(memAlloc / GiB).toFixed(1)} of {(memTotal / GiB).toFixed(1)} GiB
                    </div>
                    <meter min={0} max={memTotal || 1} value={memAlloc} aria-label={`Memory allocated on ${h.name}`} />
                  </td>
                  <td className="mono small">{h.hostkeyfingerprint ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

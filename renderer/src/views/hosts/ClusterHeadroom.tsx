/**
 * N−1 headroom per cluster (R14), from the engine's checkClusterHeadroom: the per-host VM limit L
 * and where it comes from, the running VMs against (N−1)·L, the engine's warnings, and for a host
 * the admin picks, which VMs could not restart elsewhere if it failed, with the placement reason.
 * The rules live in the engine; this view only shows what it answers.
 */
import { useEffect, useRef, useState } from 'react';
import { kiln } from '../../transport';
import { errorText, type Cluster } from '../../api/model';

export interface HostFailure {
  hostid: string;
  hostname: string;
  vmcount: number;
  canrestartall: boolean;
  unplaceable?: { virtualmachineid: string; name: string; reason: string }[];
}

export interface ClusterHeadroom {
  clusterid: string;
  clustername: string;
  hasheadroom: boolean;
  hostcount: number;
  maxguestsperhost?: number;
  maxguestssource?: 'cluster' | 'hypervisor';
  vmcount: number;
  safevmcount?: number;
  largesthostid?: string;
  largesthostname?: string;
  warning?: string[];
  hostfailure?: HostFailure[];
}

/**
 * How late a headroom read may follow the inventory's changes: the hosts page's inventory changes
 * with every 'hosts' live message (a bulk start of 20 VMs sends a dozen), and each change used to
 * read every cluster's headroom again. The first change reads at once; the changes within this
 * window after it make one more read at its end.
 */
const HEADROOM_WAIT_MS = 1000;

/**
 * A number that grows when VERSION changes, at most once per WAIT_MS: the first change after a
 * quiet spell at once (an admin's Refresh answers now), the changes within the window after it
 * as one more at the window's end.
 */
function useThrottledVersion(version: unknown, waitMs: number): number {
  const [tick, setTick] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const pending = useRef(false);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (timer.current !== undefined) {
      pending.current = true;
      return;
    }
    setTick((t) => t + 1);
    const holdOff = () => {
      timer.current = setTimeout(() => {
        timer.current = undefined;
        if (!pending.current) return;
        pending.current = false;
        setTick((t) => t + 1);
        holdOff();
      }, waitMs);
    };
    holdOff();
  }, [version, waitMs]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return tick;
}

/** Every cluster's headroom, fetched again after the page's inventory changes (`version`): at once, then at most once per HEADROOM_WAIT_MS while changes keep coming. */
function useHeadroom(clusters: Cluster[], version: unknown): { byCluster: Map<string, ClusterHeadroom>; error?: string } {
  const [byCluster, setByCluster] = useState(new Map<string, ClusterHeadroom>());
  const [error, setError] = useState<string>();
  const ids = clusters.map((c) => c.id).join(',');
  const changes = useThrottledVersion(version, HEADROOM_WAIT_MS);
  useEffect(() => {
    let live = true;
    Promise.all(ids.split(',').filter(Boolean).map((id) => kiln.invoke('checkClusterHeadroom', { clusterid: id })))
      .then((answers) => {
        if (!live) return;
        setByCluster(new Map(answers.map((a) => a['clusterheadroom'] as ClusterHeadroom).map((h) => [h.clusterid, h])));
        setError(undefined);
      })
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [ids, changes]);
  return { byCluster, error };
}

export function HeadroomSection({ clusters, version }: { clusters: Cluster[]; version: unknown }) {
  const { byCluster, error } = useHeadroom(clusters, version);
  if (clusters.length === 0) return null;
  return (
    <section className="card headroom" aria-labelledby="headroom-title">
      <h2 id="headroom-title">N−1 headroom</h2>
      <p className="muted small">
        With N hosts and at most L VMs per host, a cluster can lose one host only while it runs at most (N−1)·L VMs and its busiest host&apos;s VMs fit on the others.
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {clusters.map((c) => {
        const h = byCluster.get(c.id);
        return h ? <ClusterHeadroomCard key={c.id} headroom={h} /> : null;
      })}
    </section>
  );
}

function ClusterHeadroomCard({ headroom: h }: { headroom: ClusterHeadroom }) {
  const failures = h.hostfailure ?? [];
  const [chosen, setChosen] = useState<string>();
  const hostId = chosen ?? h.largesthostid ?? failures[0]?.hostid;
  const failure = failures.find((f) => f.hostid === hostId);
  const spare = h.safevmcount !== undefined ? h.safevmcount - h.vmcount : undefined;
  const titleId = `headroom-${h.clusterid}`;
  return (
    <article className={h.hasheadroom ? 'headroom-cluster ok' : 'headroom-cluster lost'} aria-labelledby={titleId} data-cluster={h.clustername}>
      <h3 id={titleId}>
        {h.clustername}{' '}
        <span className={h.hasheadroom ? 'badge headroom-ok' : 'badge headroom-lost'}>{h.hasheadroom ? 'can lose one host' : 'no N−1 headroom'}</span>
      </h3>
      <dl className="headroom-figures">
        <dt>Usable hosts (N)</dt>
        <dd>{h.hostcount}</dd>
        <dt>VMs per host (L)</dt>
        <dd>
          {h.maxguestsperhost ?? 'no limit known'}
          {h.maxguestssource && <span className="muted"> ({h.maxguestssource === 'cluster' ? 'this cluster’s cluster.max.guests.per.host' : 'the hypervisor’s maxguestslimit'})</span>}
        </dd>
        <dt>Running VMs</dt>
        <dd data-figure="vms">
          {h.vmcount}
          {h.safevmcount !== undefined && ` of at most (N−1)·L = ${h.safevmcount}`}
        </dd>
        {spare !== undefined && (
          <>
            <dt>Headroom</dt>
            <dd data-figure="spare">{spare >= 0 ? `${spare} more VM${spare === 1 ? '' : 's'}` : `${-spare} VM${spare === -1 ? '' : 's'} over`}</dd>
          </>
        )}
      </dl>
      {(h.warning ?? []).length > 0 && (
        <div role="alert" className="headroom-warning" aria-label={`Headroom warning for ${h.clustername}`}>
          {(h.warning ?? []).map((w) => (
            <p key={w}>{w}</p>
          ))}
        </div>
      )}
      {failures.length > 0 && (
        <div className="headroom-failure">
          <label className="inline-label">
            If this host failed
            <select value={hostId} onChange={(e) => setChosen(e.target.value)} aria-label={`Failed host in ${h.clustername}`}>
              {failures.map((f) => (
                <option key={f.hostid} value={f.hostid}>
                  {f.hostname} ({f.vmcount} VM{f.vmcount === 1 ? '' : 's'})
                </option>
              ))}
            </select>
          </label>
          {failure && <FailureOutcome failure={failure} />}
        </div>
      )}
    </article>
  );
}

function FailureOutcome({ failure: f }: { failure: HostFailure }) {
  const stranded = f.unplaceable ?? [];
  if (f.vmcount === 0) return <p className="muted">{f.hostname} runs no VMs.</p>;
  if (stranded.length === 0) return <p className="ok-text">All {f.vmcount} VMs of {f.hostname} would restart on the other hosts.</p>;
  return (
    <table className="plain-table" aria-label={`VMs that would not fit if ${f.hostname} failed`}>
      <caption className="error">
        {stranded.length} of {f.vmcount} VMs of {f.hostname} could not restart elsewhere
      </caption>
      <thead>
        <tr>
          <th>VM</th>
          <th>Why no host takes it</th>
        </tr>
      </thead>
      <tbody>
        {stranded.map((u) => (
          <tr key={u.virtualmachineid} data-vm={u.name}>
            <td>
              <strong>{u.name}</strong>
            </td>
            <td className="small">{u.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

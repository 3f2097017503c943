/**
 * Hosts: zones, pods and clusters, and the hosts in them with state, capacity, the pinned SSH
 * host-key fingerprint, tags and OS preference, and each cluster's N−1 headroom. Admins add a
 * zone, pod, KVM cluster or KVM host here, and rename, disable, enable or delete a zone, pod or
 * cluster (hosts/InfraTable.tsx), and delete a host (hosts/HostDeleteDialog.tsx: forced offered
 * for a host that is not Disabled, and forcedestroylocalstorage by the names of the VMs on its
 * local storage; the engine's refusal, a 431 naming the VMs or volumes still there, is shown in the
 * dialog as it comes; the host leaves the table by the live channel); a
 * host whose SSH key changed is shown loudly at the top, with the way to accept the new key after
 * checking it.
 */
import { useState } from 'react';
import type { Host } from '../api/model';
import { hostKeyChange, type HostKeyChange } from '../api/host-key';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useInfra } from './hosts/use-infra';
import { AddClusterDialog, AddHostDialog, AddPodDialog, AddZoneDialog } from './hosts/AddDialogs';
import { AcceptKeyDialog, EditHostDialog } from './hosts/HostDialogs';
import { HostDeleteDialog } from './hosts/HostDeleteDialog';
import { HeadroomSection } from './hosts/ClusterHeadroom';
import { InfraTable } from './hosts/InfraTable';
import { formatBytesOf } from '../api/format-size';
import { AddEndpointClusterDialog, clusterEndpointForms, useConnectionForms } from './hosts/AddEndpointDialog';


type Dialog =
  | { kind: 'zone' | 'pod' | 'cluster' | 'endpoint' | 'host' }
  | { kind: 'edit'; host: Host }
  | { kind: 'delete'; host: Host }
  | { kind: 'accept'; host: Host; change: HostKeyChange };

export function HostsView() {
  const { infra, error, reload } = useInfra();
  const apis = useApiCatalog((s) => s.apis);
  const [dialog, setDialog] = useState<Dialog>();
  const close = () => setDialog(undefined);
  const done = () => {
    setDialog(undefined);
    void reload();
  };
  const hosts = infra?.hosts ?? [];
  const changed = hosts.map((host) => ({ host, change: hostKeyChange(host.details?.lasterror) })).filter((x): x is { host: Host; change: HostKeyChange } => x.change !== undefined);
  const can = (command: string) => hasApi(apis, command);
  // Drivers whose one URL adds a whole cluster (a vCenter), as listHypervisorCapabilities publishes them.
  const endpointForms = clusterEndpointForms(useConnectionForms());

  return (
    <section className="view hosts" aria-labelledby="hosts-title">
      <div className="view-header">
        <h1 id="hosts-title">Hosts</h1>
        <div className="toolbar" role="toolbar" aria-label="Add infrastructure">
          {can('createZone') && (
            <button type="button" onClick={() => setDialog({ kind: 'zone' })}>
              Add zone
            </button>
          )}
          {can('createPod') && (
            <button type="button" onClick={() => setDialog({ kind: 'pod' })} disabled={!infra || infra.zones.length === 0}>
              Add pod
            </button>
          )}
          {can('addCluster') && (
            <button type="button" onClick={() => setDialog({ kind: 'cluster' })} disabled={!infra || infra.pods.length === 0}>
              Add cluster
            </button>
          )}
          {can('addCluster') && can('probeEndpointTrust') && endpointForms.length > 0 && (
            <button type="button" onClick={() => setDialog({ kind: 'endpoint' })} disabled={!infra || infra.pods.length === 0}>
              Add endpoint cluster…
            </button>
          )}
          {can('addHost') && (
            <button type="button" className="primary" onClick={() => setDialog({ kind: 'host' })} disabled={!infra}>
              Add host
            </button>
          )}
          <button type="button" onClick={() => void reload()}>
            Refresh
          </button>
        </div>
      </div>

      {changed.map(({ host, change }) => (
        <HostKeyAlert key={host.id} host={host} change={change} canAccept={can('acceptHostKey')} onAccept={() => setDialog({ kind: 'accept', host, change })} />
      ))}

      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {infra && hosts.length === 0 && <p className="empty">No hosts yet. Add a zone, a pod and a KVM cluster, then add a host to it.</p>}
      {hosts.length > 0 && (
        <div className="table-scroll">
          <table className="plain-table hosts-table" aria-label="Hosts">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th>Zone / pod / cluster</th>
                <th>CPU</th>
                <th>Memory allocated</th>
                <th>Host key or certificate (SHA-256)</th>
                <th>Tags / OS preference</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hosts.map((h) => (
                <HostRow key={h.id} host={h} keyChanged={changed.some((c) => c.host.id === h.id)} canEdit={can('updateHost')} onEdit={() => setDialog({ kind: 'edit', host: h })} onDelete={can('deleteHost') ? () => setDialog({ kind: 'delete', host: h }) : undefined} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {infra && <InfraTable infra={infra} />}
      {/* Headroom follows the hosts (their state and load) and the clusters (new ones are read by id), not a new zone or pod. */}
      {infra && can('checkClusterHeadroom') && <HeadroomSection clusters={infra.clusters} version={infra.hosts} />}

      {infra && dialog?.kind === 'zone' && <AddZoneDialog infra={infra} onClose={close} onDone={done} />}
      {infra && dialog?.kind === 'pod' && <AddPodDialog infra={infra} onClose={close} onDone={done} />}
      {infra && dialog?.kind === 'cluster' && <AddClusterDialog infra={infra} onClose={close} onDone={done} />}
      {infra && dialog?.kind === 'host' && <AddHostDialog infra={infra} onClose={close} onDone={done} />}
      {infra && dialog?.kind === 'endpoint' && <AddEndpointClusterDialog infra={infra} forms={endpointForms} onClose={close} onDone={done} />}
      {infra && dialog?.kind === 'edit' && <EditHostDialog host={dialog.host} osCategories={infra.osCategories} onClose={close} onDone={done} />}
      {dialog?.kind === 'delete' && <HostDeleteDialog host={dialog.host} onClose={close} />}
      {dialog?.kind === 'accept' && <AcceptKeyDialog host={dialog.host} change={dialog.change} onClose={close} onDone={done} />}
    </section>
  );
}

/** The loud warning: Kiln refuses the host until an admin checks and accepts its new key. */
function HostKeyAlert({ host, change, canAccept, onAccept }: { host: Host; change: HostKeyChange; canAccept: boolean; onAccept(): void }) {
  return (
    <div role="alert" className="key-alert" data-host={host.name}>
      <div className="key-alert-icon" aria-hidden="true">
        !
      </div>
      <div className="key-alert-body">
        <h2>
          The SSH host key of {host.name} has changed
        </h2>
        <p>
          Kiln no longer talks to this host ({host.state}). If it was reinstalled or re-keyed on purpose, read its new key on the host itself and accept it.
          If not, someone may be intercepting the connection: do not accept.
        </p>
        <dl className="key-compare">
          <dt>Trusted (pinned)</dt>
          <dd className="mono" data-key="pinned">
            {change.pinned ?? host.hostkeyfingerprint ?? 'unknown'}
          </dd>
          <dt>Presented now</dt>
          <dd className="mono" data-key="presented">
            {change.presented ?? 'unknown'}
          </dd>
        </dl>
      </div>
      {canAccept && (
        <button type="button" className="danger" onClick={onAccept}>
          Accept new key…
        </button>
      )}
    </div>
  );
}

function HostRow({ host: h, keyChanged, canEdit, onEdit, onDelete }: { host: Host; keyChanged: boolean; canEdit: boolean; onEdit(): void; onDelete?: () => void }) {
  const memTotal = h.memorytotal ?? 0;
  const memAlloc = h.memoryallocated ?? 0;
  const cpuAllocated = parseFloat(h.cpuallocated ?? '0');
  return (
    <tr className={keyChanged ? 'row-alert' : undefined} data-host={h.name}>
      <td>
        <strong className="nowrap">{h.name}</strong>
        <div className="muted small">
          {h.hypervisor}
          {h.ipaddress && h.ipaddress !== h.name ? ` · ${h.ipaddress}` : ''}
        </div>
      </td>
      <td>
        <span className={`badge host-${h.state.toLowerCase()}`} data-state={h.state}>
          {h.state}
        </span>
        {h.resourcestate && h.resourcestate !== 'Enabled' && <div className="muted">{h.resourcestate}</div>}
        {h.details?.lasterror && !keyChanged && <div className="error small host-error">{h.details.lasterror}</div>}
        {keyChanged && <div className="error small host-error">SSH host key changed: see above</div>}
      </td>
      <td>
        {h.zonename} / {h.podname} / {h.clustername}
      </td>
      <td className="nowrap">
        <div>
          {h.cpunumber ?? '?'} × {h.cpuspeed ?? '?'} MHz
        </div>
        <meter min={0} max={100} value={Number.isFinite(cpuAllocated) ? cpuAllocated : 0} aria-label={`CPU allocated on ${h.name}`} />
        <span className="muted"> {h.cpuallocated ?? '0%'}</span>
      </td>
      <td className="nowrap">
        <div>
          {formatBytesOf(memAlloc, memTotal)}
        </div>
        <meter min={0} max={memTotal || 1} value={memAlloc} aria-label={`Memory allocated on ${h.name}`} />
      </td>
      <td className="mono small fingerprint-cell" data-fingerprint={h.hostkeyfingerprint ?? ''}>
        {h.hostkeyfingerprint && h.trustkind && <span className="muted">{h.trustkind === 'tls-certificate' ? 'TLS certificate ' : 'SSH host key '}</span>}
        {h.hostkeyfingerprint ?? '—'}
      </td>
      <td className="small">
        <div>{h.hosttags ? h.hosttags.split(',').map((t) => <span key={t} className="tag">{t}</span>) : <span className="muted">no tags</span>}</div>
        {h.oscategoryname && <div className="muted">Prefers {h.oscategoryname}</div>}
      </td>
      <td>
        <div className="button-row">
          {canEdit && (
            <button type="button" onClick={onEdit} aria-label={`Edit host ${h.name}`}>
              Edit
            </button>
          )}
          {onDelete && (
            <button type="button" className="danger" onClick={onDelete} aria-label={`Delete host ${h.name}`}>
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

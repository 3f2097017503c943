/**
 * The Hosts page's "Zones, pods and clusters": each zone with its pods and clusters and how many
 * hosts each cluster has, and for admins the rename, enable/disable and delete of each, a zone's
 * edit (DNS, guest CIDR, domain, sort key: ZoneEditDialog) and a cluster's unmanage/manage (the
 * actions' records: actions/infra-actions.ts). A zone's or pod's actions sit on its first row. No
 * action reloads the page: the changed or removed record arrives on the live channel (use-infra.ts),
 * and a refusal (a delete with something still in the way) is shown above the table as the engine
 * words it.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { kiln } from '../../transport';
import { shownError, type ShownError } from '../../api/model';
import { ApiErrorText, Modal } from '../../components/Modal';
import { TextField } from '../../components/FormFields';
import { useSubmit } from '../../components/use-submit';
import { useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useJobs } from '../../stores/jobs-store';
import { INFRA_COMMANDS, infraActionsFor, infraParamsProblem, type InfraAction, type InfraKind, type InfraRecord, type ZoneRecord } from '../../actions/infra-actions';
import type { Infra } from './use-infra';
import { ZoneEditDialog } from './ZoneEditDialog';

interface Cell {
  kind: InfraKind;
  record: InfraRecord;
  /** The first row of this zone or pod: its actions are shown here. */
  first: boolean;
}

interface Row {
  key: string;
  zone: Cell;
  pod?: Cell;
  cluster?: Cell & { hypervisor?: string; hosts: number };
}

function rowsOf(infra: Infra): Row[] {
  const rows: Row[] = [];
  for (const zone of infra.zones) {
    const pods = infra.pods.filter((p) => p.zoneid === zone.id);
    let zoneFirst = true;
    const zoneCell = () => {
      const cell = { kind: 'zone' as const, record: zone, first: zoneFirst };
      zoneFirst = false;
      return cell;
    };
    if (pods.length === 0) rows.push({ key: zone.id, zone: zoneCell() });
    for (const pod of pods) {
      const clusters = infra.clusters.filter((c) => c.podid === pod.id);
      if (clusters.length === 0) rows.push({ key: pod.id, zone: zoneCell(), pod: { kind: 'pod', record: pod, first: true } });
      clusters.forEach((cluster, i) => {
        rows.push({
          key: cluster.id, zone: zoneCell(), pod: { kind: 'pod', record: pod, first: i === 0 },
          cluster: { kind: 'cluster', record: cluster, first: true, hypervisor: cluster.hypervisortype, hosts: infra.hosts.filter((h) => h.clusterid === cluster.id).length },
        });
      });
    }
  }
  return rows;
}

export function InfraTable({ infra }: { infra: Infra }) {
  const apis = useApiCatalog((s) => s.apis);
  const [refusal, setRefusal] = useState<{ what: string; error: ShownError }>();
  const [renaming, setRenaming] = useState<{ kind: InfraKind; record: InfraRecord; action: InfraAction }>();
  const [editing, setEditing] = useState<string>();
  // The zone as it is now (the live channel may have changed it since the dialog opened).
  const editedZone = editing ? (infra.zones.find((z) => z.id === editing) as ZoneRecord | undefined) : undefined;

  const run = async (action: InfraAction, kind: InfraKind, record: InfraRecord) => {
    if (action.opens === 'rename') {
      setRenaming({ kind, record, action });
      return;
    }
    if (action.opens === 'edit') {
      setEditing(record.id);
      return;
    }
    const verb = action.label.replace('…', '');
    const what = `${verb} ${INFRA_COMMANDS[kind].label} ${record.name}`;
    if (action.confirm) {
      const answer = await useConfirm.getState().ask({
        title: `${what}?`,
        body: action.confirm(kind, record),
        choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: verb, danger: action.danger }],
      });
      if (answer !== 'go') return;
    }
    setRefusal(undefined);
    const params = action.params(kind, record);
    const problem = infraParamsProblem(apis, action, kind, params);
    if (problem) {
      setRefusal({ what, error: { text: problem } });
      return;
    }
    try {
      await kiln.invoke(action.command(kind), params);
      useJobs.getState().notify('success', `${what}: done`);
    } catch (e) {
      setRefusal({ what, error: shownError(e) });
    }
  };

  const cell = (c: Cell | undefined, empty: ReactNode) => {
    if (!c) return empty;
    const actions = c.first ? infraActionsFor(apis, c.kind, c.record) : [];
    const label = INFRA_COMMANDS[c.kind].label;
    return (
      <>
        <span className="cell-name">{c.record.name}</span>
        {c.record.allocationstate === 'Disabled' && (
          <>
            {' '}
            <span className="badge muted small" data-state="Disabled">
              Disabled
            </span>
          </>
        )}
        {c.kind === 'cluster' && c.record.managedstate === 'Unmanaged' && (
          <>
            {' '}
            <span className="badge host-maintenance small" data-state="Unmanaged" title="Kiln does not manage this cluster's hosts (they are Disconnected, no HA) until it is managed again">
              Unmanaged
            </span>
          </>
        )}
        {actions.length > 0 && (
          <span className="row-actions" role="group" aria-label={`Actions for ${label} ${c.record.name}`}>
            {actions.map((a) => (
              <button key={a.id} type="button" className={a.danger ? 'link-button danger small' : 'link-button small'} aria-label={`${a.label.replace('…', '')} ${label} ${c.record.name}`} onClick={() => void run(a, c.kind, c.record)}>
                {a.label}
              </button>
            ))}
          </span>
        )}
      </>
    );
  };

  return (
    <section className="card" aria-labelledby="infra-title">
      <h2 id="infra-title">Zones, pods and clusters</h2>
      <ApiErrorText error={refusal?.error} prefix={refusal ? `${refusal.what}:` : undefined} />
      <table className="plain-table" aria-label="Zones, pods and clusters">
        <thead>
          <tr>
            <th>Zone</th>
            <th>Pod</th>
            <th>Cluster</th>
            <th>Hypervisor</th>
            <th>Hosts</th>
          </tr>
        </thead>
        <tbody>
          {rowsOf(infra).map((r) => (
            <tr key={r.key}>
              <td>{cell(r.zone, '')}</td>
              <td>{cell(r.pod, <span className="muted">no pod yet</span>)}</td>
              <td>{cell(r.cluster, r.pod ? <span className="muted">no cluster yet</span> : '')}</td>
              <td>{r.cluster?.hypervisor ?? ''}</td>
              <td>{r.cluster?.hosts ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {renaming && <RenameDialog {...renaming} onClose={() => setRenaming(undefined)} />}
      {editedZone && <ZoneEditDialog key={editedZone.id} zone={editedZone} onClose={() => setEditing(undefined)} />}
    </section>
  );
}

function RenameDialog({ kind, record, action, onClose }: { kind: InfraKind; record: InfraRecord; action: InfraAction; onClose(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [name, setName] = useState(record.name);
  const { busy, error, run } = useSubmit(onClose);
  const label = INFRA_COMMANDS[kind].label;
  const params = action.params(kind, record, name.trim());
  // Checked as the engine would, from the parameter's published rule (its length), before the call.
  const problem = name === record.name ? undefined : infraParamsProblem(apis, action, kind, params);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke(action.command(kind), params);
      return `Rename ${label} ${record.name}: now ${name.trim()}`;
    });
  };
  return (
    <Modal title={`Rename ${label} ${record.name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <TextField label={`New ${label} name`} value={name} onChange={setName} problem={problem} required />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !!problem || name.trim() === record.name || name.trim() === ''}>
            {busy ? 'Renaming…' : 'Rename'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

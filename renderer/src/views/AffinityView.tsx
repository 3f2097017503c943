/**
 * Affinity groups: each group with its members and the host each member runs on, breaches
 * highlighted (a strict group violated, a non-strict preference not met), creating and deleting
 * groups (both async: the card follows the job), and changing a stopped VM's groups.
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { kiln } from '../transport';
import { listOf, shownError, errorText, type AffinityGroup, type Vm } from '../api/model';
import { runQuietly } from '../api/run-job';
import { checkAffinity, isStrict, type AffinityCheck } from '../affinity/violations';
import { appliesInState, hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useVms } from '../stores/vm-store';
import { useJobs } from '../stores/jobs-store';
import { useConfirm } from '../stores/confirm-store';
import { useAffinityDialog } from '../stores/affinity-dialog-store';
import { hrefOf } from '../stores/route-store';
import { StateBadge } from '../components/StateBadge';
import { Modal, ApiErrorText } from '../components/Modal';
import { useSubmit } from '../components/use-submit';
import { SelectField, TextField } from '../components/FormFields';

export function AffinityView() {
  const apis = useApiCatalog((s) => s.apis);
  const vms = useVms((s) => s.vms);
  const byId = useVms((s) => s.byId);
  const [groups, setGroups] = useState<AffinityGroup[]>();
  const [error, setError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Map<string, string>>(new Map());
  const isAdmin = hasApi(apis, 'listHosts');

  const load = useCallback(async () => {
    try {
      setGroups(listOf<AffinityGroup>(await kiln.invoke('listAffinityGroups', { listall: true }), 'affinitygroup'));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  // Membership changes with deploys, expunges and group edits: reload whenever the VM list does.
  useEffect(() => void load(), [load, vms]);
  useEffect(() => {
    const timer = setInterval(() => void load(), 10_000);
    return () => clearInterval(timer);
  }, [load]);

  const checks = useMemo(() => {
    const out = new Map<string, AffinityCheck>();
    for (const g of groups ?? []) {
      const members = (g.virtualmachineIds ?? []).map((id) => byId.get(id)).filter((vm): vm is Vm => vm !== undefined);
      out.set(g.id, checkAffinity(g.type, members.map((vm) => ({ id: vm.id, name: vm.displayname || vm.name, hostid: vm.hostid, hostname: vm.hostname }))));
    }
    return out;
  }, [groups, byId]);
  const violated = (groups ?? []).filter((g) => checks.get(g.id)?.status === 'violation');
  const unmet = (groups ?? []).filter((g) => checks.get(g.id)?.status === 'preference');

  const remove = async (g: AffinityGroup) => {
    const count = g.virtualmachineIds?.length ?? 0;
    const answer = await useConfirm.getState().ask({
      title: `Delete affinity group ${g.name}?`,
      body: count > 0 ? `Its ${count} member${count === 1 ? '' : 's'} are detached and keep running; their later starts no longer follow the group.` : 'It has no members.',
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
    });
    if (answer !== 'go') return;
    setDeleting((m) => new Map(m).set(g.id, 'Deleting…'));
    try {
      await runQuietly('deleteAffinityGroup', { id: g.id });
      useJobs.getState().notify('success', `Affinity group ${g.name} deleted${count > 0 ? `; ${count} member${count === 1 ? '' : 's'} detached` : ''}`);
      setDeleting((m) => {
        const next = new Map(m);
        next.delete(g.id);
        return next;
      });
    } catch (e) {
      setDeleting((m) => new Map(m).set(g.id, `Delete failed: ${errorText(e)}`));
    }
    void load();
    void useVms.getState().refresh();
  };

  return (
    <section className="view affinity" aria-labelledby="affinity-title">
      <div className="view-header">
        <h1 id="affinity-title">Affinity groups</h1>
        <div className="toolbar">
          {hasApi(apis, 'createAffinityGroup') && (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              New group
            </button>
          )}
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </div>
      {violated.length > 0 && (
        <p role="alert" className="violation-banner">
          <strong>
            {violated.length === 1 ? `Affinity group ${violated[0]!.name} is violated` : `${violated.length} affinity groups are violated`}
          </strong>
          : their members run where the group forbids. Stop and start a member (or migrate it) to place it again.
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!isAdmin && <p className="hint">Hosts are shown to administrators only, so breaches cannot be checked here.</p>}
      {groups?.length === 0 && <p className="empty">No affinity groups yet. A group keeps its members apart (anti-affinity) or together (affinity) on hosts.</p>}
      {unmet.length > 0 && violated.length === 0 && <p className="hint">Non-strict groups are preferences: a member may run elsewhere when no better host was free.</p>}
      <div className="group-list">
        {(groups ?? []).map((g) => (
          <GroupCard key={g.id} group={g} check={checks.get(g.id)} byId={byId} status={deleting.get(g.id)} canDelete={hasApi(apis, 'deleteAffinityGroup')} onDelete={() => void remove(g)} canChange={(vm) => appliesInState(apis, 'updateVMAffinityGroup', vm.state)} />
        ))}
      </div>
      {creating && <CreateGroupDialog onClose={() => setCreating(false)} onDone={() => { setCreating(false); void load(); }} />}
    </section>
  );
}

function GroupCard({ group: g, check, byId, status, canDelete, onDelete, canChange }: {
  group: AffinityGroup; check?: AffinityCheck; byId: Map<string, Vm>; status?: string; canDelete: boolean; onDelete(): void; canChange(vm: Vm): boolean;
}) {
  const members = g.virtualmachineIds ?? [];
  const strict = isStrict(g.type);
  const state = check?.status ?? 'ok';
  const titleId = `group-${g.id}`;
  return (
    <section className={`card group-card group-${state}`} aria-labelledby={titleId} data-group={g.name} data-status={state}>
      <div className="group-header">
        <div>
          <h2 id={titleId}>{g.name}</h2>
          <div className="group-meta">
            <span className={strict ? 'badge type-strict' : 'badge type-soft'}>{g.type}</span>
            {g.account && <span className="muted">account {g.account}</span>}
            {g.description && <span className="muted">· {g.description}</span>}
          </div>
        </div>
        <div className="toolbar">
          {status && (
            <span className={status.startsWith('Delete failed') ? 'error' : 'muted'} role="status">
              {status}
            </span>
          )}
          {canDelete && (
            <button type="button" className="danger" onClick={onDelete} disabled={status === 'Deleting…'} aria-label={`Delete affinity group ${g.name}`}>
              Delete
            </button>
          )}
        </div>
      </div>
      {state === 'violation' && (
        <div className="group-status status-violation" data-check="violation">
          <strong>Violation:</strong> {check!.problems.join('; ')}.
        </div>
      )}
      {state === 'preference' && (
        <div className="group-status status-preference" data-check="preference">
          <strong>Preference not met:</strong> {check!.problems.join('; ')}.
        </div>
      )}
      {members.length === 0 ? (
        <p className="empty">No members. Choose this group when deploying a VM, or add a stopped VM to it.</p>
      ) : (
        <table className="plain-table" aria-label={`Members of ${g.name}`}>
          <thead>
            <tr>
              <th>VM</th>
              <th>State</th>
              <th>Host</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((id) => {
              const vm = byId.get(id);
              const involved = check?.involved.has(id) ?? false;
              return (
                <tr key={id} className={involved ? `member-${state}` : undefined} data-vm={vm?.displayname ?? id} data-involved={involved || undefined}>
                  <td>{vm ? <a href={hrefOf({ view: 'vm', id: vm.id, tab: 'overview' })}>{vm.displayname || vm.name}</a> : <code>{id}</code>}</td>
                  <td>{vm ? <StateBadge state={vm.state} pendingJob={vm.jobid !== undefined} /> : ''}</td>
                  <td className="member-host">
                    {vm?.hostname ?? <span className="muted">{vm && vm.state !== 'Running' ? 'not running' : '—'}</span>}
                    {involved && <span className="visually-hidden"> (breaks the group)</span>}
                  </td>
                  <td className="actions-cell">
                    {vm && canChange(vm) && (
                      <button type="button" onClick={() => useAffinityDialog.getState().open(vm)} aria-label={`Change the groups of ${vm.displayname || vm.name}`}>
                        Change groups…
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreateGroupDialog({ onClose, onDone }: { onClose(): void; onDone(): void }) {
  const [types, setTypes] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [type, setType] = useState('');
  const [description, setDescription] = useState('');
  const { busy, error, setError, run } = useSubmit(onDone);
  useEffect(() => {
    kiln.invoke('listAffinityGroupTypes').then(
      (r) => setTypes(listOf<{ type: string }>(r, 'affinityGroupType').map((t) => t.type)),
      (e: unknown) => setError(shownError(e)),
    );
  }, [setError]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await runQuietly('createAffinityGroup', { name: name.trim(), type, description: description.trim() || undefined });
      return `Affinity group ${name.trim()} created`;
    });
  };
  return (
    <Modal title="New affinity group" onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <TextField label="Name" value={name} onChange={setName} required />
        <SelectField label="Type" value={type} onChange={setType} options={types.map((t) => ({ id: t, name: t }))} required hint={typeHint(type)} />
        <TextField label="Description (optional)" value={description} onChange={setDescription} />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim() || !type}>
            {busy ? 'Creating…' : 'Create group'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function typeHint(type: string): string | undefined {
  switch (type) {
    case 'host anti-affinity':
      return 'Members never share a host; a start with no free host fails.';
    case 'host affinity':
      return 'Members always run on the same host.';
    case 'non-strict host anti-affinity':
      return 'Members prefer different hosts, but may share one.';
    case 'non-strict host affinity':
      return 'Members prefer the same host, but may run elsewhere.';
    default:
      return undefined;
  }
}

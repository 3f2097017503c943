/**
 * Changes a stopped VM's affinity groups (updateVMAffinityGroup, async). The groups offered are
 * the ones of the VM's own account; the change applies at the VM's next start.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type AffinityGroup } from '../../api/model';
import { runQuietly } from '../../api/run-job';
import { useAffinityDialog } from '../../stores/affinity-dialog-store';
import { useVms } from '../../stores/vm-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';

export function AffinityGroupsDialog() {
  const vm = useAffinityDialog((s) => s.vm);
  const close = useAffinityDialog((s) => s.close);
  if (!vm) return null;
  return <ChangeGroups key={vm.id} vmId={vm.id} name={vm.displayname || vm.name} account={vm.account} initial={(vm.affinitygroup ?? []).map((g) => g.id)} onClose={close} />;
}

function ChangeGroups({ vmId, name, account, initial, onClose }: { vmId: string; name: string; account?: string; initial: string[]; onClose(): void }) {
  const [groups, setGroups] = useState<AffinityGroup[]>();
  const [chosen, setChosen] = useState<string[]>(initial);
  const { busy, error, setError, run } = useSubmit(onClose);
  useEffect(() => {
    kiln.invoke('listAffinityGroups', { listall: true }).then(
      (r) => setGroups(listOf<AffinityGroup>(r, 'affinitygroup').filter((g) => !account || !g.account || g.account === account)),
      (e: unknown) => setError(shownError(e)),
    );
  }, [account]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await runQuietly('updateVMAffinityGroup', { id: vmId, affinitygroupids: chosen.join(',') });
      void useVms.getState().reloadOne(vmId);
      return `${name}: affinity groups changed; they apply at its next start`;
    });
  };
  return (
    <Modal title={`Affinity groups of ${name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <p className="hint">The VM joins the groups ticked here and leaves the others. The planner follows them from the VM&apos;s next start.</p>
        {groups === undefined && !error && <p className="muted">Loading groups…</p>}
        {groups?.length === 0 && <p className="empty">{account ? `Account ${account} has no affinity group.` : 'No affinity group yet.'}</p>}
        {groups && groups.length > 0 && (
          <fieldset className="fieldset">
            <legend>Groups</legend>
            {groups.map((g) => (
              <label key={g.id} className="check">
                <input type="checkbox" checked={chosen.includes(g.id)} onChange={(e) => setChosen(e.target.checked ? [...chosen, g.id] : chosen.filter((id) => id !== g.id))} />
                {g.name} <span className="muted">({g.type})</span>
              </label>
            ))}
          </fieldset>
        )}
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || groups === undefined}>
            {busy ? 'Saving…' : 'Save groups'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

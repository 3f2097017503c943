/** The selection's bulk actions: each asks first, naming the VMs for which the action does not apply. */
import type { Vm } from '../api/model';
import { bulkActions, type VmAction } from '../actions/vm-actions';
import { appliesInState, useApiCatalog } from '../stores/api-catalog-store';
import { useVmListView } from '../stores/vm-list-view-store';
import { useConfirm } from '../stores/confirm-store';
import { useBulk, BULK_CONCURRENCY } from '../stores/bulk-store';
import { useVms } from '../stores/vm-store';

export function BulkBar({ rows }: { rows: Vm[] }) {
  const apis = useApiCatalog((s) => s.apis);
  const { selected, clearSelection } = useVmListView();
  const byId = useVms((s) => s.byId);
  const chosen = [...selected].map((id) => byId.get(id)).filter((vm): vm is Vm => vm !== undefined);
  if (chosen.length === 0) return null;
  const hidden = chosen.length - rows.filter((vm) => selected.has(vm.id)).length;

  const run = async (action: VmAction) => {
    const fits = chosen.filter((vm) => appliesInState(apis, action.command, vm.state));
    const misfits = chosen.filter((vm) => !fits.includes(vm));
    const names = chosen.map((vm) => vm.displayname || vm.name);
    const choices = [{ value: 'cancel', label: 'Cancel' }];
    if (misfits.length > 0 && fits.length > 0) choices.push({ value: 'fits', label: `${action.label} the ${fits.length} that apply` });
    choices.push({ value: 'all', label: `${action.label} all ${chosen.length}` });
    const answer = await useConfirm.getState().ask({
      title: `${action.label} ${chosen.length} VM${chosen.length === 1 ? '' : 's'}?`,
      body:
        (action.confirm ? action.confirm(names) + ' ' : '') +
        `Runs ${BULK_CONCURRENCY} at a time; each VM's result is listed.` +
        (misfits.length > 0 ? ` ${action.label} does not apply to ${misfits.length} of them in their current state; the engine will refuse those:` : ''),
      details: misfits.map((vm) => `${vm.displayname || vm.name} is ${vm.state}`),
      choices: choices.map((c) => ({ ...c, danger: c.value !== 'cancel' && action.danger })),
    });
    if (answer !== 'all' && answer !== 'fits') return;
    clearSelection();
    await useBulk.getState().start(action, answer === 'all' ? chosen : fits);
  };

  return (
    <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
      <span>
        {chosen.length} selected{hidden > 0 ? ` (${hidden} hidden by the filter)` : ''}
      </span>
      {bulkActions(apis).map((action) => (
        <button key={action.id} type="button" className={action.danger ? 'danger' : undefined} onClick={() => void run(action)}>
          {action.label}
        </button>
      ))}
      <button type="button" className="link-button" onClick={clearSelection}>
        Clear selection
      </button>
    </div>
  );
}

/**
 * Editing a VM (updateVirtualMachine): display name, group and HA in any state; name (the
 * guest's hostname), OS type and dynamic scaling only while stopped. Only changed fields are
 * sent; if the VM's state changed meanwhile, the engine's 431 says why and is shown.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiParams } from '../../../../preload/api';
import { kiln } from '../../transport';
import { listOf, type Named, type Vm } from '../../api/model';
import { paramAppliesInState, STOPPED_STATES, useApiCatalog } from '../../stores/api-catalog-store';
import { hostnameProblem } from '../../stores/deploy-form-store';
import { useVms } from '../../stores/vm-store';
import { ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';
import { SelectField, TextField } from '../../components/FormFields';

export function VmEditForm({ vm, onDone }: { vm: Vm; onDone(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [displayname, setDisplayname] = useState(vm.displayname ?? '');
  const [name, setName] = useState(vm.name);
  const [group, setGroup] = useState(vm.group ?? '');
  const [haenable, setHaenable] = useState(vm.haenable === true);
  const [ostypeid, setOstypeid] = useState(vm.ostypeid ?? '');
  const [scalable, setScalable] = useState(vm.isdynamicallyscalable === true);
  const [osTypes, setOsTypes] = useState<Named[]>([]);
  const { busy, error, setError, run } = useSubmit(onDone);
  useEffect(() => {
    kiln.invoke('listOsTypes').then(
      (r) => setOsTypes(listOf<{ id: string; description?: string; name?: string }>(r, 'ostype').map((o) => ({ id: o.id, name: o.description ?? o.name ?? o.id }))),
      () => setOsTypes([]),
    );
  }, []);

  const stoppedOnly = !paramAppliesInState(apis, 'updateVirtualMachine', 'name', vm.state, STOPPED_STATES);
  const changes: ApiParams = {};
  // The API ignores empty values, so an emptied display name or group would silently stay: say so instead.
  const displaynameProblem = displayname.trim() === '' && (vm.displayname ?? '') !== '' ? 'cannot be empty' : undefined;
  const groupProblem = group.trim() === '' && (vm.group ?? '') !== '' ? 'the API cannot clear a group yet (an empty value is ignored)' : undefined;
  if (displayname !== (vm.displayname ?? '') && !displaynameProblem) changes['displayname'] = displayname;
  if (name !== vm.name) changes['name'] = name;
  if (group !== (vm.group ?? '') && !groupProblem) changes['group'] = group;
  if (haenable !== (vm.haenable === true)) changes['haenable'] = haenable;
  if (ostypeid && ostypeid !== (vm.ostypeid ?? '')) changes['ostypeid'] = ostypeid;
  if (scalable !== (vm.isdynamicallyscalable === true)) changes['isdynamicallyscalable'] = scalable;
  const nothing = Object.keys(changes).length === 0;
  // An answer about other values than the ones now in the form is stale.
  const changesKey = JSON.stringify(changes);
  useEffect(() => setError(undefined), [changesKey]);
  const nameProblem = name !== vm.name ? (name.trim() === '' ? 'cannot be empty' : hostnameProblem(name)) : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (nothing) return;
    void run(async () => {
      await kiln.invoke('updateVirtualMachine', { id: vm.id, ...changes });
      await useVms.getState().reloadOne(vm.id);
      return `${displayname || name}: saved`;
    });
  };

  return (
    <form className="card edit-form" aria-label={`Edit ${vm.displayname || vm.name}`} onSubmit={(e) => void submit(e)}>
      <h2>Edit</h2>
      <TextField label="Display name" value={displayname} onChange={setDisplayname} problem={displaynameProblem} />
      <TextField label="Group" value={group} onChange={setGroup} problem={groupProblem} />
      <div className="form-row">
        <span>High availability</span>
        <label className="check">
          <input type="checkbox" checked={haenable} onChange={(e) => setHaenable(e.target.checked)} /> Restart the VM elsewhere if it or its host fails
        </label>
      </div>
      <fieldset className="fieldset" disabled={stoppedOnly}>
        <legend>While stopped only</legend>
        {stoppedOnly && <p className="hint">Stop the VM to change its name, OS type or dynamic scaling.</p>}
        <TextField label="Name (hostname)" value={name} onChange={setName} problem={nameProblem} spellCheck={false} />
        <SelectField label="OS type" value={ostypeid} onChange={setOstypeid} options={osTypes} placeholder={vm.osdisplayname ?? 'Choose…'} />
        <div className="form-row">
          <span>Dynamic scaling</span>
          <label className="check">
            <input type="checkbox" checked={scalable} onChange={(e) => setScalable(e.target.checked)} /> The guest has the tools to be scaled while running
          </label>
        </div>
      </fieldset>
      <ApiErrorText error={error} prefix="Not saved:" />
      <div className="button-row">
        <button type="submit" className="primary" disabled={busy || nothing || nameProblem !== undefined || displaynameProblem !== undefined || groupProblem !== undefined}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

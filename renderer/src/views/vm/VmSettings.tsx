/**
 * A VM's settings (details). They change only while the VM is stopped: updateVirtualMachine with
 * details[0].key=value… replaces every key the caller may edit (so the whole set is sent), and
 * cleanupdetails=true clears them. Known keys and their values come from listDetailOptions; any
 * other key may be typed, and the engine's refusal (431) is shown as it words it.
 */
import { useEffect, useState } from 'react';
import type { ApiParams } from '../../../../preload/api';
import { kiln } from '../../transport';
import type { Vm } from '../../api/model';
import { paramAppliesInState, STOPPED_STATES, useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useVms } from '../../stores/vm-store';
import { ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';

const OTHER = '\u0000other';

export function VmSettings({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  const editable = paramAppliesInState(apis, 'updateVirtualMachine', 'details', vm.state, STOPPED_STATES);
  const saved = vm.details ?? {};
  const [draft, setDraft] = useState<[string, string][]>(() => Object.entries(saved));
  const [options, setOptions] = useState<Record<string, string[]>>({});
  const [newKey, setNewKey] = useState('');
  const [otherKey, setOtherKey] = useState('');
  const [newValue, setNewValue] = useState('');
  const { busy, error, setError, run } = useSubmit();
  const savedKey = JSON.stringify(saved);

  // A fresh copy whenever the saved set changes (after a save, or another client's).
  useEffect(() => setDraft(Object.entries(JSON.parse(savedKey) as Record<string, string>)), [savedKey]);
  useEffect(() => {
    kiln.invoke('listDetailOptions', { resourcetype: 'UserVm', resourceid: vm.id }).then(
      (r) => setOptions(((r['detailoptions'] as { details?: Record<string, string[]> } | undefined)?.details) ?? {}),
      () => setOptions({}),
    );
  }, [vm.id]);

  const dirty = draft.length !== Object.keys(saved).length || draft.some(([k, v]) => saved[k] !== v);
  const used = new Set(draft.map(([k]) => k));
  const addable = Object.keys(options).filter((k) => !used.has(k));
  const keyToAdd = newKey === OTHER ? otherKey.trim() : newKey;
  const valuesFor = (key: string) => options[key] ?? [];

  const save = (params: ApiParams, message: string) =>
    run(async () => {
      await kiln.invoke('updateVirtualMachine', { id: vm.id, ...params });
      await useVms.getState().reloadOne(vm.id);
      return message;
    });

  const saveDraft = () => {
    if (draft.length === 0) return void save({ cleanupdetails: true }, `${vm.displayname || vm.name}: settings cleared`);
    const params: ApiParams = {};
    for (const [k, v] of draft) params[`details[0].${k}`] = v;
    void save(params, `${vm.displayname || vm.name}: settings saved`);
  };

  const clearAll = async () => {
    const answer = await useConfirm.getState().ask({
      title: `Remove every setting of ${vm.displayname || vm.name}?`,
      body: 'The settings you may edit are removed (cleanupdetails). Settings Kiln keeps for itself stay.',
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Remove all', danger: true }],
    });
    if (answer === 'go') void save({ cleanupdetails: true }, `${vm.displayname || vm.name}: settings cleared`);
  };

  const add = () => {
    if (!keyToAdd || used.has(keyToAdd)) return;
    setDraft([...draft, [keyToAdd, newValue]]);
    setNewKey('');
    setOtherKey('');
    setNewValue('');
  };

  return (
    <section className="vm-settings" aria-labelledby="vm-settings-title">
      <h2 id="vm-settings-title" className="visually-hidden">
        Settings (details)
      </h2>
      {!editable && (
        <p className="note" role="note">
          Settings can be changed only while the VM is stopped (it is {vm.state}). Stop it first.
        </p>
      )}
      {draft.length === 0 ? (
        <p className="empty">This VM has no details set.</p>
      ) : (
        <table className="plain-table details-table" aria-label="VM settings (details)">
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              {editable && (
                <th>
                  <span className="visually-hidden">Remove</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {draft.map(([k, v], i) => (
              <tr key={k} data-detail={k}>
                <td className="mono">
                  {k}
                  {saved[k] === undefined && <span className="tag new-tag">new</span>}
                </td>
                <td>
                  {editable ? (
                    <ValueInput label={`Value of ${k}`} value={v} values={valuesFor(k)} onChange={(value) => setDraft(draft.map((entry, j) => (j === i ? [k, value] : entry)))} />
                  ) : (
                    <span className="mono">{v}</span>
                  )}
                </td>
                {editable && (
                  <td className="actions-cell">
                    <button type="button" onClick={() => setDraft(draft.filter((_, j) => j !== i))} aria-label={`Remove ${k}`}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editable && (
        <>
          <form
            className="detail-add"
            aria-label="Add a setting"
            onSubmit={(e) => {
              e.preventDefault();
              add();
            }}
          >
            <label className="inline-label">
              Setting
              <select value={newKey} onChange={(e) => { setNewKey(e.target.value); setNewValue(''); }} aria-label="Setting to add">
                <option value="">Choose…</option>
                {addable.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
                <option value={OTHER}>Other key…</option>
              </select>
            </label>
            {newKey === OTHER && <input aria-label="Key" className="mono" placeholder="key" value={otherKey} onChange={(e) => setOtherKey(e.target.value)} spellCheck={false} />}
            <ValueInput label="Value" value={newValue} values={newKey && newKey !== OTHER ? valuesFor(newKey) : []} onChange={setNewValue} />
            <button type="submit" disabled={!keyToAdd || used.has(keyToAdd)}>
              Add
            </button>
            {keyToAdd && used.has(keyToAdd) && <span className="hint error">{keyToAdd} is already set</span>}
          </form>
          <ApiErrorText error={error} prefix="Not saved:" />
          <div className="button-row">
            <button type="button" className="primary" disabled={!dirty || busy} onClick={saveDraft}>
              {busy ? 'Saving…' : 'Save settings'}
            </button>
            <button type="button" disabled={!dirty || busy} onClick={() => { setDraft(Object.entries(saved)); setError(undefined); }}>
              Discard changes
            </button>
            <button type="button" className="danger push-right" disabled={busy || Object.keys(saved).length === 0} onClick={() => void clearAll()}>
              Remove all settings
            </button>
          </div>
        </>
      )}
    </section>
  );
}

function ValueInput({ label, value, values, onChange }: { label: string; value: string; values: string[]; onChange(v: string): void }) {
  if (values.length > 0) {
    return (
      <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
        {!values.includes(value) && <option value={value}>{value || 'Choose…'}</option>}
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  }
  return <input aria-label={label} className="mono" value={value} onChange={(e) => onChange(e.target.value)} spellCheck={false} />;
}

/** Settings: the global and zone configuration editor, and the local API key to copy. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type Configuration, type Named } from '../api/model';
import { useJobs } from '../stores/jobs-store';

export function SettingsView() {
  return (
    <section className="view settings" aria-labelledby="settings-title">
      <div className="view-header">
        <h1 id="settings-title">Settings</h1>
      </div>
      <ApiKeys />
      <ConfigurationEditor />
    </section>
  );
}

interface UserKey {
  username: string;
  account: string;
  apikey: string;
}

function ApiKeys() {
  const [keys, setKeys] = useState<UserKey[]>();
  const [error, setError] = useState<string>();
  const [copied, setCopied] = useState<string>();
  useEffect(() => {
    kiln.invoke('listAccounts', { listall: true }).then(
      (r) => {
        const accounts = listOf<{ name: string; user?: { username: string; apikey?: string }[] }>(r, 'account');
        setKeys(accounts.flatMap((a) => (a.user ?? []).filter((u) => u.apikey).map((u) => ({ username: u.username, account: a.name, apikey: u.apikey! }))));
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, []);
  const copy = async (key: string) => {
    try {
      await navigator.clipboard.writeText(key);
      setCopied(key);
    } catch {
      // No clipboard permission: select the text so Ctrl+C copies it.
      const el = document.getElementById(`key-${key}`);
      if (el) window.getSelection()?.selectAllChildren(el);
      setCopied(undefined);
    }
  };
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="hint">
        CloudStack clients (<code>cs</code>, <code>cmk</code>) sign requests with an API key and its secret key. The secret key is never shown
        here: print it with <code>kiln keys</code> on this machine.
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {keys?.length === 0 && <p className="empty">No user has API keys yet; run <code>kiln keys</code> to create them.</p>}
      {keys && keys.length > 0 && (
        <table className="plain-table" aria-label="API keys">
          <thead>
            <tr>
              <th>User</th>
              <th>Account</th>
              <th>API key</th>
              <th>
                <span className="visually-hidden">Copy</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.apikey}>
                <td>{k.username}</td>
                <td>{k.account}</td>
                <td>
                  <code id={`key-${k.apikey}`} className="api-key">
                    {k.apikey}
                  </code>
                </td>
                <td>
                  <button type="button" onClick={() => void copy(k.apikey)} aria-label={`Copy the API key of ${k.username}`}>
                    {copied === k.apikey ? 'Copied' : 'Copy'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Where settings are read and written: global, one zone, or one cluster (the value is "zone:<id>" or "cluster:<id>"). */
interface ScopeChoice {
  value: string;
  label: string;
  kind: 'zone' | 'cluster';
  id: string;
  name: string;
}

function ConfigurationEditor() {
  const [scopes, setScopes] = useState<ScopeChoice[]>([]);
  const [scopeValue, setScopeValue] = useState('');
  const [configs, setConfigs] = useState<Configuration[]>([]);
  const [filter, setFilter] = useState('');
  const [category, setCategory] = useState('');
  const [error, setError] = useState<string>();
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState<string>();
  const notify = useJobs((s) => s.notify);

  useEffect(() => {
    const choices = (kind: 'zone' | 'cluster', list: Named[]): ScopeChoice[] =>
      list.map((n) => ({ value: `${kind}:${n.id}`, label: `${kind === 'zone' ? 'Zone' : 'Cluster'} ${n.name}`, kind, id: n.id, name: n.name }));
    Promise.all([kiln.invoke('listZones'), kiln.invoke('listClusters')]).then(
      ([z, c]) => setScopes([...choices('zone', listOf<Named>(z, 'zone')), ...choices('cluster', listOf<Named>(c, 'cluster'))]),
      () => undefined,
    );
  }, []);
  const scope = scopes.find((s) => s.value === scopeValue);
  // zoneid=… or clusterid=… on both configuration commands.
  const scopeParams = useMemo<Record<string, string>>(() => (scope ? { [`${scope.kind}id`]: scope.id } : {}), [scope]);

  const load = useCallback(async () => {
    try {
      setConfigs(listOf<Configuration>(await kiln.invoke('listConfigurations', scopeParams), 'configuration'));
      setDrafts({});
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, [scopeParams]);
  useEffect(() => void load(), [load]);

  const categories = useMemo(() => [...new Set(configs.map((c) => c.category))].sort(), [configs]);
  const needle = filter.trim().toLowerCase();
  const shown = configs.filter((c) => (!category || c.category === category) && (!needle || c.name.includes(needle) || c.description.toLowerCase().includes(needle)));

  const save = async (config: Configuration) => {
    const value = drafts[config.name];
    if (value === undefined) return;
    setSaving(config.name);
    try {
      const r = await kiln.invoke('updateConfiguration', { name: config.name, value, ...scopeParams });
      const saved = (r['configuration'] as Configuration | undefined)?.value ?? value;
      setConfigs((list) => list.map((c) => (c.name === config.name ? { ...c, value: saved } : c)));
      setDrafts(({ [config.name]: _, ...rest }) => rest);
      notify('success', `${config.name} set to ${saved}${scope ? ` in ${scope.kind} ${scope.name}` : ''}`);
    } catch (e) {
      // Says it was not saved: the engine's text alone ("value: … takes an integer") read like a hint, the field still holding the draft.
      notify('error', `${config.name} not saved: ${errorText(e)}`);
    } finally {
      setSaving(undefined);
    }
  };

  return (
    <section className="card" aria-labelledby="config-title">
      <h2 id="config-title">Configuration</h2>
      <div className="toolbar filters">
        <label className="inline-label">
          Scope
          <select value={scopeValue} onChange={(e) => setScopeValue(e.target.value)}>
            <option value="">Global</option>
            {scopes.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-label">
          Category
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">All</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <input type="search" className="settings-filter" aria-label="Filter settings" placeholder="Filter by name or description" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <p className="hint">{scope ? `${scope.kind === 'zone' ? 'Zone' : 'Cluster'}-scoped settings as they apply in ${scope.kind} ${scope.name}; a change applies there only.` : 'Global settings.'}</p>
      <table className="plain-table config-table" aria-label="Configuration">
        <thead>
          <tr>
            <th>Name</th>
            <th>Value</th>
            <th>Default</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((c) => {
            const draft = drafts[c.name];
            const dirty = draft !== undefined && draft !== c.value;
            const inputId = `config-${c.name}`;
            return (
              <tr key={c.name} data-config={c.name}>
                <td>
                  <label htmlFor={inputId} className="config-name mono">
                    {c.name}
                  </label>
                  <div className="config-description">{c.description}</div>
                </td>
                <td>
                  <form
                    className="config-form"
                    onSubmit={(e) => {
                      e.preventDefault();
                      void save(c);
                    }}
                  >
                    {c.options ? (
                      <select id={inputId} value={draft ?? c.value} onChange={(e) => setDrafts({ ...drafts, [c.name]: e.target.value })}>
                        {c.options.split(',').map((o) => (
                          <option key={o} value={o}>
                            {o}
                          </option>
                        ))}
                      </select>
                    ) : c.type === 'Boolean' ? (
                      <select id={inputId} value={draft ?? c.value} onChange={(e) => setDrafts({ ...drafts, [c.name]: e.target.value })}>
                        <option value="true">true</option>
                        <option value="false">false</option>
                      </select>
                    ) : (
                      <input id={inputId} value={draft ?? c.value} inputMode={c.type === 'Integer' ? 'numeric' : undefined} onChange={(e) => setDrafts({ ...drafts, [c.name]: e.target.value })} />
                    )}
                    <button type="submit" disabled={!dirty || saving === c.name} aria-label={`Save ${c.name}`}>
                      {saving === c.name ? 'Saving…' : 'Save'}
                    </button>
                  </form>
                </td>
                <td className="mono muted">{c.defaultvalue}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

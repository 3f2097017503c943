/** Per-host changes: tags and the preferred OS category (updateHost), and accepting a changed SSH key (acceptHostKey). */
import { useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import type { Host, Named } from '../../api/model';
import type { HostKeyChange } from '../../api/host-key';
import { paramProblem, useApiCatalog } from '../../stores/api-catalog-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';
import { SelectField, TextField } from '../../components/FormFields';

export function EditHostDialog({ host, osCategories, onClose, onDone }: { host: Host; osCategories: Named[]; onClose(): void; onDone(): void }) {
  const [tags, setTags] = useState(host.hosttags ?? '');
  const [category, setCategory] = useState(host.oscategoryid ?? '');
  const { busy, error, run } = useSubmit(onDone);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const cleaned = tags.split(',').map((t) => t.trim()).filter(Boolean).join(',');
      // The API drops empty parameters, so "no tags" is sent as an empty list (",") to clear them.
      await kiln.invoke('updateHost', { id: host.id, hosttags: cleaned || ',', oscategoryid: category && category !== host.oscategoryid ? category : undefined });
      return `Host ${host.name} updated`;
    });
  };
  return (
    <Modal title={`Edit host ${host.name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <TextField label="Host tags" value={tags} onChange={setTags} placeholder="ssd, gpu" hint="Comma-separated; replaces the current tags. Empty clears them." />
        <SelectField
          label="Preferred OS category"
          value={category}
          onChange={setCategory}
          options={osCategories}
          placeholder={host.oscategoryid ? 'Keep the current one' : 'No preference'}
          hint="Placement prefers this host for VMs whose guest OS is in this category."
        />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function AcceptKeyDialog({ host, change, onClose, onDone }: { host: Host; change: HostKeyChange; onClose(): void; onDone(): void }) {
  const [typed, setTyped] = useState('');
  const { busy, error, run } = useSubmit(onDone);
  const value = typed.trim();
  const apis = useApiCatalog((s) => s.apis);
  // The fingerprint's format is acceptHostKey's, as listApis declares it.
  const formatProblem = paramProblem(apis, 'acceptHostKey', 'fingerprint', value);
  const problem = !value
    ? undefined
    : formatProblem
      ? formatProblem
      : change.presented && value !== change.presented
        ? 'this is not the key the host presents now'
        : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value || problem) return;
    void run(async () => {
      await kiln.invoke('acceptHostKey', { id: host.id, fingerprint: value });
      return `Host ${host.name}: new SSH host key accepted`;
    });
  };
  return (
    <Modal title={`Accept the new SSH key of ${host.name}?`} onClose={onClose} wide>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <p>
          Accept only if you know why the key changed (the host was reinstalled or re-keyed) and you have read the new key <strong>on the host itself</strong>.
          Otherwise someone may be intercepting the connection.
        </p>
        <dl className="key-compare">
          <dt>Trusted until now</dt>
          <dd className="mono">{change.pinned ?? host.hostkeyfingerprint ?? 'unknown'}</dd>
          <dt>Presented now</dt>
          <dd className="mono">{change.presented ?? 'unknown'}</dd>
        </dl>
        <TextField
          label="New key's fingerprint"
          value={typed}
          onChange={setTyped}
          placeholder="SHA256:…"
          mono
          spellCheck={false}
          autoComplete="off"
          problem={problem}
          hint={<>Type or paste the fingerprint printed on the host by <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>.</>}
        />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy || !value || problem !== undefined}>
            {busy ? 'Reconnecting…' : 'Accept new key'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

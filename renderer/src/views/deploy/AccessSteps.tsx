/**
 * The deploy wizard's access steps: the SSH key pairs the VM is given (keypairs=, R60) and its
 * user data (userdata=, R61) typed or read from a file, with a counter against the 32 KB limit.
 */
import { useState, type ChangeEvent } from 'react';
import type { KeyPair } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import type { DeployDraft } from '../../stores/deploy-form-store';

/**
 * The engine's limit on decoded user data (main/engine/vm/user-data.ts, USER_DATA_MAX_DECODED):
 * listApis cannot state a decoded size, so the wizard counts against the same number and the
 * engine's 431 stays the last word.
 */
export const USER_DATA_MAX_BYTES = 32768;

/** Bytes that base64 text decodes to. */
export function decodedSize(base64: string): number {
  if (!base64) return 0;
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function userDataProblem(d: DeployDraft): string | undefined {
  const size = decodedSize(d.userdata);
  return size > USER_DATA_MAX_BYTES ? `User data is ${size.toLocaleString('en')} bytes; the limit is ${USER_DATA_MAX_BYTES.toLocaleString('en')} bytes (32 KB).` : undefined;
}

export function KeyPairStep({ draft, set }: { draft: DeployDraft; set(patch: Partial<DeployDraft>): void }) {
  const keys = useApiList<KeyPair>('listSSHKeyPairs', 'sshkeypair', {});
  const toggle = (name: string, on: boolean) => set({ keypairs: on ? [...draft.keypairs, name] : draft.keypairs.filter((k) => k !== name) });
  return (
    <fieldset className="choice-list">
      <legend>SSH key pairs</legend>
      <p className="hint">The guest puts their public keys in authorized_keys at first boot (cloud-init). None is fine: log in another way.</p>
      {keys.error && <p className="error">{keys.error}</p>}
      {!keys.loading && keys.items.length === 0 && (
        <p className="empty">
          No key pairs yet. <a href="#/keys">Create or register one</a>.
        </p>
      )}
      {keys.items.map((k) => (
        <label key={k.id} className="check">
          <input type="checkbox" checked={draft.keypairs.includes(k.name)} onChange={(e) => toggle(k.name, e.target.checked)} /> {k.name} <code className="muted">{k.fingerprint}</code>
        </label>
      ))}
    </fieldset>
  );
}

export function UserDataStep({ draft, set }: { draft: DeployDraft; set(patch: Partial<DeployDraft>): void }) {
  const [readError, setReadError] = useState<string>();
  const size = decodedSize(draft.userdata);
  const problem = userDataProblem(draft);
  const setText = (text: string) => set({ userdataText: text, userdataFile: '', userdata: text ? toBase64(new TextEncoder().encode(text)) : '' });
  const readFile = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    file.arrayBuffer().then(
      (buf) => {
        const bytes = new Uint8Array(buf);
        // A text file stays editable; anything else (a gzip, a MIME archive with binary parts) is sent as it is.
        let text: string | undefined;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          text = undefined;
        }
        setReadError(undefined);
        set({ userdata: toBase64(bytes), userdataFile: file.name, userdataText: text ?? '' });
      },
      (err: unknown) => setReadError(`Could not read ${file.name}: ${String(err)}`),
    );
  };
  return (
    <>
      <div className="form-row">
        <label htmlFor="field-user-data">User data (cloud-config, a script or a MIME multipart)</label>
        <textarea id="field-user-data" className="mono" rows={10} spellCheck={false} value={draft.userdataText} onChange={(e) => setText(e.target.value)} placeholder={'#cloud-config\nruncmd:\n  - echo hello > /root/hello'} aria-describedby="user-data-size" aria-invalid={problem ? true : undefined} />
      </div>
      <div className="form-row">
        <label htmlFor="field-user-data-file">Or read it from a file</label>
        <input id="field-user-data-file" type="file" onChange={readFile} />
      </div>
      <p id="user-data-size" className={problem ? 'hint error' : 'hint'} aria-live="polite">
        {draft.userdataFile ? `${draft.userdataFile}: ` : ''}
        {size.toLocaleString('en')} of {USER_DATA_MAX_BYTES.toLocaleString('en')} bytes
        {problem ? ` — ${problem}` : ''}
      </p>
      {readError && <p className="error">{readError}</p>}
      {draft.userdata && (
        <button type="button" onClick={() => set({ userdata: '', userdataText: '', userdataFile: '' })}>
          Clear user data
        </button>
      )}
    </>
  );
}

/**
 * SSH key pairs (R59): the account's key pairs with their MD5 fingerprints; creating one (Kiln
 * generates an RSA pair and shows the private key once, to copy or download: it is not kept),
 * registering an existing public key (checked with the engine's rule from listApis), deleting.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type KeyPair } from '../api/model';
import { hasApi, paramProblem, useApiCatalog } from '../stores/api-catalog-store';
import { confirmDelete } from '../api/confirm-delete';
import { Modal, ApiErrorText } from '../components/Modal';
import { useSubmit } from '../components/use-submit';
import { TextAreaField, TextField } from '../components/FormFields';
import { DeleteButton, RecordTable } from '../components/RecordTable';

export function KeyPairsView() {
  const apis = useApiCatalog((s) => s.apis);
  const [keys, setKeys] = useState<KeyPair[]>();
  const [error, setError] = useState<string>();
  const [dialog, setDialog] = useState<'create' | 'register'>();
  const [created, setCreated] = useState<KeyPair>();

  const load = useCallback(async () => {
    try {
      setKeys(listOf<KeyPair>(await kiln.invoke('listSSHKeyPairs', { listall: true }), 'sshkeypair'));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const remove = (k: KeyPair) =>
    confirmDelete(`key pair ${k.name}`, 'VMs that were given it keep the public key they have; new VMs can no longer be given it.', () => kiln.invoke('deleteSSHKeyPair', { name: k.name }), () => void load());

  return (
    <section className="view keypairs" aria-labelledby="keypairs-title">
      <div className="view-header">
        <h1 id="keypairs-title">SSH key pairs</h1>
        <div className="toolbar">
          {hasApi(apis, 'createSSHKeyPair') && (
            <button type="button" className="primary" onClick={() => setDialog('create')}>
              Create key pair
            </button>
          )}
          {hasApi(apis, 'registerSSHKeyPair') && (
            <button type="button" onClick={() => setDialog('register')}>
              Register public key
            </button>
          )}
        </div>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {created?.privatekey && <PrivateKeyOnce keyPair={created} onDismiss={() => setCreated(undefined)} />}
      {keys?.length === 0 && <p className="empty">No key pairs yet. A VM given a key pair lets you log in with its private key (ssh -i).</p>}
      {keys && keys.length > 0 && (
        <RecordTable
          label="SSH key pairs"
          columns={[
            { header: 'Name', cell: (k) => k.name },
            { header: 'Fingerprint (MD5)', cell: (k) => <code>{k.fingerprint}</code> },
            { header: 'Account', cell: (k) => k.account },
          ]}
          rows={keys}
          rowKey={(k) => k.id}
          rowData={(k) => ({ 'data-keypair': k.name })}
          actions={(k) => hasApi(apis, 'deleteSSHKeyPair') && <DeleteButton label={`Delete key pair ${k.name}`} onClick={() => void remove(k)} />}
        />
      )}
      {dialog === 'create' && (
        <CreateKeyPairDialog
          onClose={() => setDialog(undefined)}
          onCreated={(k) => {
            setDialog(undefined);
            setCreated(k);
            void load();
          }}
        />
      )}
      {dialog === 'register' && <RegisterKeyDialog onClose={() => setDialog(undefined)} onDone={() => { setDialog(undefined); void load(); }} />}
    </section>
  );
}

/** The private key of a key pair just created: shown this once, with a download; Kiln does not keep it. */
function PrivateKeyOnce({ keyPair, onDismiss }: { keyPair: KeyPair; onDismiss(): void }) {
  const [href, setHref] = useState<string>();
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([keyPair.privatekey ?? ''], { type: 'application/x-pem-file' }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [keyPair.privatekey]);
  return (
    <section className="card private-key" aria-labelledby="private-key-title">
      <h2 id="private-key-title">Private key of {keyPair.name}</h2>
      <p role="status" className="warning">
        This is the only time the private key is shown: Kiln does not keep it. Download it now and keep it safe (chmod 600, then ssh -i {keyPair.name}.pem).
      </p>
      <p>
        Fingerprint <code>{keyPair.fingerprint}</code>
      </p>
      <textarea className="mono" readOnly rows={8} value={keyPair.privatekey} aria-label={`Private key of ${keyPair.name}`} />
      <div className="toolbar">
        {href && (
          <a className="button primary" href={href} download={`${keyPair.name}.pem`}>
            Download {keyPair.name}.pem
          </a>
        )}
        <button type="button" onClick={onDismiss}>
          I have saved it
        </button>
      </div>
    </section>
  );
}

function CreateKeyPairDialog({ onClose, onCreated }: { onClose(): void; onCreated(k: KeyPair): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [name, setName] = useState('');
  const { busy, error, run } = useSubmit();
  const problem = name ? paramProblem(apis, 'createSSHKeyPair', 'name', name) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const response = await kiln.invoke('createSSHKeyPair', { name: name.trim() });
      onCreated(response['keypair'] as KeyPair);
      return `Key pair ${name.trim()} created`;
    });
  };
  return (
    <Modal title="Create an SSH key pair" onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <TextField label="Name" value={name} onChange={setName} required problem={problem} hint="Kiln generates a 2048-bit RSA key pair and shows you its private key once." />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim() || problem !== undefined}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function RegisterKeyDialog({ onClose, onDone }: { onClose(): void; onDone(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const { busy, error, run } = useSubmit(onDone);
  const keyProblem = publicKey.trim() ? paramProblem(apis, 'registerSSHKeyPair', 'publickey', publicKey.trim()) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const response = await kiln.invoke('registerSSHKeyPair', { name: name.trim(), publickey: publicKey.trim() });
      return `Key pair ${name.trim()} registered (${(response['keypair'] as KeyPair).fingerprint})`;
    });
  };
  return (
    <Modal title="Register a public key" onClose={onClose} wide>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <TextField label="Name" value={name} onChange={setName} required />
        <TextAreaField label="Public key" value={publicKey} onChange={setPublicKey} rows={5} placeholder="ssh-ed25519 AAAAC3Nz… you@laptop" hint={keyProblem ? undefined : 'The contents of a .pub file: ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521.'} />
        {keyProblem && (
          <p className="hint error" role="alert">
            {keyProblem}
          </p>
        )}
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim() || !publicKey.trim() || keyProblem !== undefined}>
            {busy ? 'Registering…' : 'Register'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * Backup repositories, for admins (CloudStack 4.20's, for the nas provider): SSH accounts on
 * backup hosts that hold a zone's backups in Kiln's own directory there. Adding one connects from
 * a host of the zone and pins the repository's host key (shown here); each repository is then an
 * offering of the nas provider to import (Backup offerings above: `onChanged` reloads them).
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { errorText, listOf, type Named } from '../../api/model';
import { hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { confirmDelete } from '../../api/confirm-delete';
import { ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';
import { SelectField, TextAreaField, TextField } from '../../components/FormFields';
import { DeleteButton, RecordTable } from '../../components/RecordTable';

interface Repository {
  id: string;
  name: string;
  address: string;
  username: string;
  zonename: string;
  hostkeyfingerprint?: string;
}

export function BackupRepositories({ onChanged }: { onChanged?: () => void } = {}) {
  const apis = useApiCatalog((s) => s.apis);
  const [zones, setZones] = useState<Named[]>([]);
  const [repositories, setRepositories] = useState<Repository[]>([]);
  const [loadError, setLoadError] = useState<string>();
  const [zoneid, setZoneid] = useState('');
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [username, setUsername] = useState('root');
  const [privatekey, setPrivatekey] = useState('');

  const load = useCallback(async () => {
    try {
      setZones(listOf<Named>(await kiln.invoke('listZones', {}), 'zone'));
      setRepositories(listOf<Repository>(await kiln.invoke('listBackupRepositories', {}), 'backuprepository'));
      setLoadError(undefined);
    } catch (e) {
      setLoadError(errorText(e));
    }
  }, []);
  useEffect(() => void load(), [load]);
  const { busy, error, run } = useSubmit(() => {
    void load();
    onChanged?.();
  });

  if (!hasApi(apis, 'listBackupRepositories')) return null;
  const add = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const added = (await kiln.invoke('addBackupRepository', { zoneid, name: name.trim(), address: address.trim(), username: username.trim(), privatekey })) as { backuprepository: Repository };
      setName('');
      setAddress('');
      setPrivatekey('');
      return `Backup repository ${added.backuprepository.name} added; its host key ${added.backuprepository.hostkeyfingerprint ?? ''} is pinned`;
    });
  };
  const remove = (r: Repository) =>
    confirmDelete(`backup repository ${r.name}`, 'Only a repository no backup offering uses can be deleted; the backups on the backup host stay there.', () => kiln.invoke('deleteBackupRepository', { id: r.id }), () => {
      void load();
      onChanged?.();
    });

  return (
    <section className="view backup-repositories" aria-labelledby="backup-repositories-title">
      <h2 id="backup-repositories-title">Backup repositories</h2>
      <p className="note">
        A backup host reached over SSH (a host of the zone or a separate one). Kiln writes the backups into its own directory in the account&apos;s home there; the VM&apos;s host streams
        them through Kiln&apos;s SSH connections and holds no key for the backup host. The host key is trusted when you add it and must not change afterwards.
      </p>
      {loadError && (
        <p role="alert" className="error">
          {loadError}
        </p>
      )}
      {repositories.length === 0 ? (
        <p className="empty">None yet: backups of the nas provider go to the backup store of each VM&apos;s own host.</p>
      ) : (
        <RecordTable
          label="Backup repositories"
          columns={[
            { header: 'Name', cell: (r) => r.name },
            { header: 'Zone', cell: (r) => r.zonename },
            { header: 'Account', cell: (r) => `${r.username}@${r.address.replace(/^ssh:\/\//, '')}` },
            { header: 'Pinned host key', cell: (r) => <code>{r.hostkeyfingerprint}</code> },
          ]}
          rows={repositories}
          rowKey={(r) => r.id}
          rowData={(r) => ({ 'data-repository': r.name })}
          actions={(r) => hasApi(apis, 'deleteBackupRepository') && <DeleteButton label={`Delete backup repository ${r.name}`} onClick={() => void remove(r)} />}
        />
      )}
      {hasApi(apis, 'addBackupRepository') && (
        <form className="dialog-form card" aria-label="Add a backup repository" onSubmit={add}>
          <SelectField label="Zone" value={zoneid} onChange={setZoneid} options={zones} required />
          <TextField label="Name" value={name} onChange={setName} required />
          <TextField label="Address" value={address} onChange={setAddress} placeholder="ssh://backup.example.lan:22" hint="ssh://address[:port], no path" required />
          <TextField label="Username" value={username} onChange={setUsername} required />
          <TextAreaField label="Private key" value={privatekey} onChange={setPrivatekey} rows={4} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" />
          <ApiErrorText error={error} />
          <div className="dialog-buttons">
            <button type="submit" className="primary" disabled={busy || !zoneid || !name.trim() || !address.trim() || !privatekey.trim()}>
              {busy ? 'Adding…' : 'Add repository'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

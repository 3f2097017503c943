/**
 * Primary storage (admins): the storage pools the engine records per cluster from what its hosts
 * report (listStoragePools), with their state, scope, use and storage tags; a pool's tags and
 * whether new volumes may go there are edited in place (updateStoragePool), the tags checked with
 * the engine's rule from listApis before the call. A pool is deleted (deleteStoragePool, asked
 * first, forced offered for the volumes of Destroyed VMs) when no host reports it any more (Down);
 * the engine's refusal, a 431 naming the hosts that still report it or the volumes on it, is shown
 * above the table as it comes.
 */
import { useState, type FormEvent } from 'react';
import { kiln } from '../transport';
import { useApiList } from '../api/use-api-list';
import { shownError, type ShownError } from '../api/model';
import { hasApi, hasParam, paramProblem, useApiCatalog } from '../stores/api-catalog-store';
import { useConfirm } from '../stores/confirm-store';
import { useJobs } from '../stores/jobs-store';
import { Modal, ApiErrorText } from '../components/Modal';
import { useSubmit } from '../components/use-submit';
import { TextField } from '../components/FormFields';
import { RecordTable } from '../components/RecordTable';
import { ViewSection } from '../components/ViewSection';
import { formatBytes } from '../api/format-size';

export interface StoragePool {
  id: string;
  name: string;
  clustername: string;
  hostname?: string;
  type: string;
  scope: string;
  state: string;
  hypervisor: string;
  disksizetotal: number;
  disksizeused: number;
  disksizeallocated: number;
  tags?: string;
}

export function StoragePoolsView() {
  const apis = useApiCatalog((s) => s.apis);
  const [generation, setGeneration] = useState(0);
  const [editing, setEditing] = useState<StoragePool>();
  const { items: pools, loading, error } = useApiList<StoragePool>('listStoragePools', 'storagepool', {}, generation);
  const [refusal, setRefusal] = useState<{ what: string; error: ShownError }>();
  const deletePool = async (pool: StoragePool) => {
    const answer = await useConfirm.getState().ask({
      title: `Delete storage pool ${pool.name}?`,
      body: `Kiln records the pools its hosts report, so it deletes only a pool none of them reports any more (Down); ${pool.name} is ${pool.state}. Volumes recorded on it refuse the delete; forced lets those of Destroyed VMs go with it.`,
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }, ...(hasParam(apis, 'deleteStoragePool', 'forced') ? [{ value: 'forced', label: 'Delete (forced)', danger: true }] : [])],
    });
    if (answer !== 'go' && answer !== 'forced') return;
    const what = `Delete storage pool ${pool.name}`;
    setRefusal(undefined);
    try {
      await kiln.invoke('deleteStoragePool', { id: pool.id, ...(answer === 'forced' ? { forced: true } : {}) });
      useJobs.getState().notify('success', `${what}: done`);
      setGeneration((g) => g + 1);
    } catch (e) {
      setRefusal({ what, error: shownError(e) });
    }
  };

  return (
    <ViewSection name="storage-pools" title="Primary storage" error={error}>
      <ApiErrorText error={refusal?.error} prefix={refusal ? `${refusal.what}:` : undefined} />
      {!loading && !error && pools.length === 0 && <p className="empty">No storage pools: the hosts Kiln has report none yet.</p>}
      {pools.length > 0 && (
        <RecordTable
          label="Storage pools"
          columns={[
            { header: 'Name', cell: (p) => p.name },
            { header: 'Cluster', cell: (p) => p.clustername },
            { header: 'Scope', cell: (p) => (p.scope === 'HOST' ? `Host ${p.hostname ?? ''}` : 'Cluster') },
            { header: 'Type', cell: (p) => p.type },
            { header: 'State', cell: (p) => <span className={`badge host-${p.state.toLowerCase()}`} data-state={p.state}>{p.state}</span> },
            { header: 'Used / total', cell: (p) => `${formatBytes(p.disksizeused)} / ${formatBytes(p.disksizetotal)}`, className: 'num', headerClassName: 'num' },
            { header: 'Allocated', cell: (p) => formatBytes(p.disksizeallocated), className: 'num', headerClassName: 'num' },
            { header: 'Storage tags', cell: (p) => (p.tags ? p.tags.split(',').flatMap((t, i) => [...(i ? [' '] : []), <span key={t} className="tag">{t}</span>]) : <span className="muted">none</span>) },
          ]}
          rows={pools}
          rowKey={(p) => p.id}
          rowData={(p) => ({ 'data-pool': p.name })}
          actions={(p) => (
            <span className="button-row">
              {hasApi(apis, 'updateStoragePool') && (
                <button type="button" onClick={() => setEditing(p)} aria-label={`Edit storage pool ${p.name}`}>
                  Edit
                </button>
              )}
              {hasApi(apis, 'deleteStoragePool') && (
                <button type="button" className="danger" onClick={() => void deletePool(p)} aria-label={`Delete storage pool ${p.name}`}>
                  Delete
                </button>
              )}
            </span>
          )}
        />
      )}
      {editing && (
        <EditPoolDialog
          pool={editing}
          onClose={() => setEditing(undefined)}
          onDone={() => {
            setEditing(undefined);
            setGeneration((g) => g + 1);
          }}
        />
      )}
    </ViewSection>
  );
}

function EditPoolDialog({ pool, onClose, onDone }: { pool: StoragePool; onClose(): void; onDone(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [tags, setTags] = useState(pool.tags ?? '');
  const [enabled, setEnabled] = useState(pool.state !== 'Disabled');
  const { busy, error, run } = useSubmit(onDone);
  const problem = paramProblem(apis, 'updateStoragePool', 'tags', tags);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke('updateStoragePool', { id: pool.id, tags: tags.trim(), enabled });
      return `Storage pool ${pool.name} updated`;
    });
  };
  return (
    <Modal title={`Storage pool ${pool.name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <TextField
          label="Storage tags" value={tags} onChange={setTags} problem={problem} placeholder="ssd, fast"
          hint="Comma-separated. A volume whose disk offering (or, for a root disk, service offering) has storage tags goes only on a pool that has them all. Empty clears them."
        />
        <div className="form-row checkbox-row">
          <label>
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled: new volumes may be placed on this pool
          </label>
        </div>
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || problem !== undefined}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

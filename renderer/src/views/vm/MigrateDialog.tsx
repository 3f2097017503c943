/**
 * Live migration of a running VM to a host the admin picks (R20). The hosts are the engine's
 * findHostsForMigration answer: the suitable ones can be chosen, every other one is shown with
 * the engine's reason (its own host, another cluster, no room, a tag, …). A host that needs storage
 * motion (findHostsForMigration's requiresstoragemotion: it reaches other storage than the VM's)
 * also asks for the pool there (listStoragePools hostid=…) and migrates with the volumes
 * (migrateVirtualMachineWithVolume). The outcome shows the new host and the placement the job explains.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type Placement, type Vm } from '../../api/model';
import { runVmChange } from './run-vm-change';
import { migrateParams, migrationChoices, outcomeOf, storageMotionParams, type ChangeOutcome, type MigrationHost, refusalSummary } from '../../actions/vm-changes';
import type { StoragePool } from '../StoragePoolsView';
import { formatBytes, formatBytesOf } from '../../api/format-size';
import { Modal, ApiErrorText } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';
import { PlacementTable } from '../../components/PlacementTable';
import { useSubmit } from '../../components/use-submit';

/** "0.5 of 16.0 GiB", as the Hosts page shows a host's memory. */
const memoryOf = (allocated: number | undefined, total: number | undefined) => (allocated === undefined || total === undefined ? '?' : formatBytesOf(allocated, total));

export function MigrateDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const [hosts, setHosts] = useState<MigrationHost[]>();
  const [hostId, setHostId] = useState('');
  const [outcome, setOutcome] = useState<ChangeOutcome>();
  const [refused, setRefused] = useState<Placement>();
  const { busy, error, setError, run } = useSubmit();
  useEffect(() => {
    kiln.invoke('findHostsForMigration', { id: vm.id }).then(
      (r) => setHosts(listOf<MigrationHost>(r, 'host')),
      (e: unknown) => setError(shownError(e)),
    );
  }, [vm.id]);
  const { suitable, refused: unsuitable } = migrationChoices(hosts ?? []);
  const needsStorage = hosts?.find((h) => h.id === hostId)?.requiresstoragemotion === true;
  const [pools, setPools] = useState<StoragePool[]>();
  const [pool, setPool] = useState('');
  useEffect(() => {
    setPool('');
    setPools(undefined);
    if (!needsStorage) return;
    kiln.invoke('listStoragePools', { hostid: hostId }).then(
      (r) => setPools(listOf<StoragePool>(r, 'storagepool').filter((p) => p.state === 'Up')),
      (e: unknown) => setError(shownError(e)),
    );
  }, [hostId, needsStorage]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!hostId) return;
    setRefused(undefined);
    void run(async () => {
      const volumes = needsStorage ? listOf<{ id: string }>(await kiln.invoke('listVolumes', { virtualmachineid: vm.id }), 'volume').map((v) => v.id) : [];
      const after = needsStorage
        ? await runVmChange(vm, 'migrateVirtualMachineWithVolume', storageMotionParams(vm, hostId, volumes, pool), setRefused)
        : await runVmChange(vm, 'migrateVirtualMachine', migrateParams(vm, hostId), setRefused);
      const result = outcomeOf(vm, after);
      setOutcome(result);
      return `${name} was migrated live from ${result.from ?? '?'} to ${after.hostname ?? '?'}`;
    });
  };

  if (outcome) {
    return (
      <OutcomeModal title={`Migrate ${name}`} onClose={onClose} wide more={outcome.vm.placement && <PlacementTable placement={outcome.vm.placement} chosen={outcome.vm.hostname} label="Placement explained" />}>
        {name} was migrated live from {outcome.from ?? '?'} to <strong>{outcome.vm.hostname ?? '?'}</strong>; it is {outcome.vm.state}.
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`Migrate ${name}`} onClose={onClose} wide>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">
          {name} runs on <strong>{vm.hostname ?? '?'}</strong>. It keeps running while its memory is copied to the host chosen here.
        </p>
        {hosts === undefined && !error && <p className="muted">Asking the engine which hosts can take it…</p>}
        {hosts && suitable.length === 0 && <p className="empty">No host can take {name} now; the reasons are below.</p>}
        {suitable.length > 0 && (
          <fieldset className="fieldset offering-list">
            <legend>Destination host</legend>
            {suitable.map((h) => (
              <label key={h.id} className={hostId === h.id ? 'offering chosen' : 'offering'}>
                <input type="radio" name="migrate-host" value={h.id} checked={hostId === h.id} onChange={() => setHostId(h.id)} />
                <span className="offering-name">{h.name}</span>
                <span className="offering-text muted">
                  {h.clustername ? `${h.clustername} · ` : ''}CPU {h.cpuallocated ?? '?'} allocated · memory {memoryOf(h.memoryallocated, h.memorytotal)} allocated
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {needsStorage && pools === undefined && <p className="muted">Asking the engine which storage pools the host reaches…</p>}
        {needsStorage && pools?.length === 0 && <p className="empty">The host reaches no storage pool that is Up; {name}&apos;s disks could not move there.</p>}
        {needsStorage && pools && pools.length > 0 && (
          <fieldset className="fieldset offering-list">
            <legend>Storage pool for its disks (the host needs storage motion)</legend>
            {pools.map((p) => (
              <label key={p.id} className={pool === p.name ? 'offering chosen' : 'offering'}>
                <input type="radio" name="migrate-pool" value={p.name} checked={pool === p.name} onChange={() => setPool(p.name)} />
                <span className="offering-name">{p.name}</span>
                <span className="offering-text muted">
                  {p.type} · {formatBytes(p.disksizetotal - p.disksizeused)} free{p.tags ? ` · tags ${p.tags}` : ''}
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {unsuitable.length > 0 && (
          <table className="plain-table" aria-label="Hosts that cannot take it">
            <thead>
              <tr>
                <th>Host</th>
                <th>Why not</th>
              </tr>
            </thead>
            <tbody>
              {unsuitable.map((h) => (
                <tr key={h.id}>
                  <td>{h.name}</td>
                  <td>{h.reason ?? 'not suitable'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <ApiErrorText error={refusalSummary(error, refused)} />
        {refused && <PlacementTable placement={refused} label="Hosts refused" />}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !hostId || (needsStorage && !pool)}>
            {busy ? 'Migrating…' : 'Migrate'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

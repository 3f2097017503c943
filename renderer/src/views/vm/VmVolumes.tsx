/**
 * A VM's disks (listVolumes): root first, then data disks by device id; where each lives for the
 * root admin. Actions, each shown only when the caller has its command and (attach, detach) the
 * VM's state is among the command's listApis `vmstates`: add a new disk (createVolume with
 * virtualmachineid), attach one of the account's detached data disks, detach, resize (a smaller
 * size only with "allow shrinking": shrinkok), move a stopped VM's disk (a running one's where its host can: liveStorageMotion) to another storage pool
 * (admins: findStoragePoolsForMigration's pools, migrateVolume), and delete a detached disk. Fields are checked
 * with the engine's published parameter rules (paramProblem) before the call; the engine's 431
 * stays the final word and is shown as it came.
 *
 * While the VM's volumes may not change (VM snapshots, R35; backups, R57), add, attach and detach
 * are disabled with the engine's own reason: the VM response's `volumechangeblocked`, the text the
 * volume commands refuse with (engine volumes/volume-change-rule.ts), read again whenever a volume,
 * VM snapshot or backup job ends. The renderer has no copy of the rule.
 */
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import type { Vm } from '../../api/model';
import { errorText, listOf } from '../../api/model';
import { kiln } from '../../transport';
import { appliesInState, hasApi, paramProblem, useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useHostCapabilityMap } from '../../stores/host-capabilities-store';
import { vmHasCapability } from '../../actions/vm-actions';
import { useFinishedJobsKey } from '../../api/use-finished-jobs';
import { ApiErrorText, Modal } from '../../components/Modal';
import { StateBadge } from '../../components/StateBadge';
import { RecordTable, type RecordColumn } from '../../components/RecordTable';
import { useSnapshotJob, type SnapshotJob } from './use-snapshot-job';
import { formatBytes, formatGiB, GiB } from '../../api/format-size';

/** One item of listVolumes' `volume` list (the fields the UI reads; path and storage for the root admin only). */
interface Volume {
  id: string;
  name: string;
  type: string;
  deviceid?: number;
  size?: number;
  state: string;
  path?: string;
  storage?: string;
  account?: string;
  zoneid?: string;
  virtualmachineid?: string;
  diskofferingname?: string;
}

interface DiskOffering {
  id: string;
  name: string;
  disksize: number;
  iscustomized: boolean;
}

const VOLUME_COMMANDS = new Set(['createVolume', 'attachVolume', 'detachVolume', 'resizeVolume', 'migrateVolume']);
/** Jobs after which the VM's volume rule may have changed (VOLUME_COMMANDS' too). */
const RULE_COMMANDS = new Set([...VOLUME_COMMANDS, 'createVMSnapshot', 'deleteVMSnapshot', 'revertToVMSnapshot', 'createBackup', 'deleteBackup', 'restoreVolumeFromBackupAndAttachToVM', 'removeVirtualMachineFromBackupOffering']);
/** Transient volume states: no action on a volume in one of them. */
const SETTLED = new Set(['Allocated', 'Ready']);


/** The VM's volumes and the account's detached data disks in its zone, reloaded on demand and when a volume job ends. */
function useVolumes(vm: Vm, enabled: boolean) {
  const [state, setState] = useState<{ mine: Volume[]; spare: Volume[]; loaded: boolean; error?: string; blocked?: string }>({ mine: [], spare: [], loaded: false });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const finishedJobs = useFinishedJobsKey(RULE_COMMANDS);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    Promise.all([
      kiln.invoke('listVolumes', { virtualmachineid: vm.id }),
      kiln.invoke('listVolumes', { zoneid: vm.zoneid, type: 'DATADISK', listall: true }),
      // The engine's volume rule for this VM now (the VM in the store may predate a snapshot or backup).
      kiln.invoke('listVirtualMachines', { id: vm.id, details: 'min,volume', listall: true }),
    ]).then(
      ([own, zone, self]) => {
        if (!live) return;
        // A volume joins only a VM of its own account: only those are offered.
        const spare = listOf<Volume>(zone, 'volume').filter((v) => !v.virtualmachineid && (!vm.account || v.account === vm.account));
        const blocked = listOf<{ volumechangeblocked?: string }>(self, 'virtualmachine')[0]?.volumechangeblocked;
        setState({ mine: listOf<Volume>(own, 'volume'), spare, loaded: true, blocked });
      },
      (e: unknown) => live && setState((s) => ({ ...s, loaded: true, error: errorText(e) })),
    );
    return () => {
      live = false;
    };
  }, [vm.id, vm.zoneid, vm.account, enabled, generation, finishedJobs]);
  return { ...state, reload };
}

const nameColumn: RecordColumn<Volume> = { header: 'Name', className: 'volume-name', cell: (v) => v.name };
const sizeColumn: RecordColumn<Volume> = { header: 'Size', className: 'num nowrap', headerClassName: 'num', cell: (v) => formatBytes(v.size) };
const stateColumn: RecordColumn<Volume> = { header: 'State', cell: (v) => <StateBadge state={v.state} pendingJob={!SETTLED.has(v.state)} /> };
/** The VM's own disks; the storage column is added for the root admin, who alone gets path and storage. */
const attachedColumns: RecordColumn<Volume>[] = [nameColumn, { header: 'Type', cell: (v) => v.type }, { header: 'Device ID', cell: (v) => v.deviceid ?? '—' }, sizeColumn, stateColumn];
const storageColumn: RecordColumn<Volume> = {
  header: 'Storage',
  className: 'volume-storage',
  cell: (v) => (
    <div>
      {v.storage && <span className="nowrap">{v.storage}</span>}
      {v.path && <span className="mono volume-path">{v.path}</span>}
    </div>
  ),
};
/** The account's detached data disks in the VM's zone. */
const spareColumns: RecordColumn<Volume>[] = [nameColumn, sizeColumn, stateColumn];

export function VmVolumes({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  const { mine, spare, loaded, error, reload, blocked } = useVolumes(vm, hasApi(apis, 'listVolumes'));
  const job = useSnapshotJob(reload);
  const [resizing, setResizing] = useState<Volume>();
  const [moving, setMoving] = useState<Volume>();
  const gates = {
    create: hasApi(apis, 'createVolume') && appliesInState(apis, 'attachVolume', vm.state),
    attach: appliesInState(apis, 'attachVolume', vm.state),
    detach: appliesInState(apis, 'detachVolume', vm.state),
    resize: hasApi(apis, 'resizeVolume'),
    remove: hasApi(apis, 'deleteVolume'),
    // Admins: migrateVolume moves a stopped VM's disk to another pool (the engine says why not otherwise).
    move: hasApi(apis, 'migrateVolume') && hasApi(apis, 'findStoragePoolsForMigration'),
  };
  // A running VM's disks resize live only where its host says so (listHosts liveVolumeResize); the engine refuses the rest with 431.
  const hostCapabilities = useHostCapabilityMap(vm.hostid, hasApi(apis, 'listHosts'));
  const resizeWhenStopped = vm.state === 'Running' && vmHasCapability(vm, 'liveVolumeResize', hostCapabilities) === false ? `the host of ${vm.displayname || vm.name} cannot resize the disks of a running VM; stop it to resize them` : undefined;
  // A running VM's disk moves live (migrateVolume livemigrate=true) only where its host says it can (listHosts liveStorageMotion).
  const moveLive = vm.state === 'Running' && vmHasCapability(vm, 'liveStorageMotion', hostCapabilities) === true;
  const moveRefused = vm.state === 'Stopped' || moveLive ? undefined : `stop ${vm.displayname || vm.name} to move its disks to another storage pool`;
  const attachStates = apis.get('attachvolume')?.vmstates;
  const showStorage = mine.some((v) => v.storage || v.path);
  const vmName = vm.displayname || vm.name;
  const busy = job.running !== undefined;
  const blockedId = useId();
  const moveRefusedId = useId();
  /** One action on one volume: named for it (aria-label), off while a job runs or the volume is not settled; CHANGES: off while the VM's volumes may not change, saying why; REFUSED: off, saying why. */
  const action = (verb: string, v: Volume, run: () => void, danger = false, changes = false, refused?: string) => (
    <button
      type="button"
      className={danger ? 'danger' : undefined}
      disabled={busy || !SETTLED.has(v.state) || (changes && !!blocked) || !!refused}
      title={refused ?? (changes && blocked ? blocked : undefined)}
      aria-describedby={changes && blocked ? blockedId : refused && refused === moveRefused ? moveRefusedId : undefined}
      aria-label={`${verb} ${v.name}`}
      onClick={run}
    >
      {verb}
    </button>
  );

  return (
    <section className="vm-volumes" aria-labelledby="vm-volumes-title">
      <h2 id="vm-volumes-title" className="visually-hidden">
        Volumes
      </h2>
      {blocked && (gates.create || gates.attach || gates.detach) && (
        <p id={blockedId} className="note volume-rule" role="note">
          Disks cannot be added, attached or detached now: {blocked}.
        </p>
      )}
      {gates.resize && resizeWhenStopped && (
        <p className="note volume-resize-rule" role="note">
          Disks can be resized while the VM is stopped: {resizeWhenStopped.split('; ')[0]}.
        </p>
      )}
      {gates.move && moveRefused && mine.length > 0 && (
        <p id={moveRefusedId} className="note volume-move-rule" role="note">
          Move is off while {vmName} is {vm.state}: stop it to move its disks to another storage pool.
        </p>
      )}
      {gates.create && <AddDiskForm vm={vm} job={job} blocked={blocked} />}
      {!gates.attach && hasApi(apis, 'attachVolume') && attachStates && (
        <p className="note" role="note">
          Disks can be attached and detached while the VM is {attachStates.join(', ')} (it is {vm.state}).
        </p>
      )}
      {job.running && (
        <p className="snapshot-job" role="status">
          {job.running.text}
        </p>
      )}
      <ApiErrorText error={job.error} prefix={job.error?.prefix} />
      {error && (
        <p className="error" role="alert">
          Could not list the volumes: {error}
        </p>
      )}
      {mine.length === 0 ? (
        <p className="empty">{loaded || !hasApi(apis, 'listVolumes') ? 'No volumes.' : 'Loading…'}</p>
      ) : (
        <div className="table-scroll volumes">
          <RecordTable
            label="Volumes"
            columns={showStorage ? [...attachedColumns, storageColumn] : attachedColumns}
            rows={mine}
            rowKey={(v) => v.id}
            rowData={(v) => ({ 'data-volume-type': v.type, 'data-volume': v.name })}
            actionsClassName="volume-actions nowrap"
            actions={(v) => (
              <>
                {gates.resize && action('Resize', v, () => setResizing(v), false, false, resizeWhenStopped)}
                {gates.move && action('Move', v, () => setMoving(v), false, false, moveRefused)}
                {gates.detach && v.type === 'DATADISK' && action('Detach', v, () => void detach(v, vmName, job), false, true)}
              </>
            )}
          />
        </div>
      )}
      {spare.length > 0 && (
        <div className="table-scroll volumes">
          <RecordTable
            label="Detached volumes"
            caption={`Detached data disks of this account in ${vm.zonename ?? 'the zone'}`}
            columns={spareColumns}
            rows={spare}
            rowKey={(v) => v.id}
            rowData={(v) => ({ 'data-volume': v.name })}
            actionsClassName="volume-actions nowrap"
            actions={(v) => (
              <>
                {gates.attach && action('Attach', v, () => void attach(v, vm, job), false, true)}
                {gates.resize && action('Resize', v, () => setResizing(v))}
                {gates.remove && action('Delete', v, () => void remove(v, job, reload), true)}
              </>
            )}
          />
        </div>
      )}
      {resizing && <ResizeDialog volume={resizing} job={job} onClose={() => setResizing(undefined)} />}
      {moving && <MoveVolumeDialog volume={moving} live={moveLive} job={job} onClose={() => setMoving(undefined)} />}
    </section>
  );
}

/** "Add a disk": a disk offering (a size for a custom one) and an optional name; createVolume attaches it to the VM. */
function AddDiskForm({ vm, job, blocked }: { vm: Vm; job: SnapshotJob; blocked?: string }) {
  const id = useId();
  const apis = useApiCatalog((s) => s.apis);
  const [offerings, setOfferings] = useState<DiskOffering[]>([]);
  const [offeringId, setOfferingId] = useState('');
  const [size, setSize] = useState('');
  const [name, setName] = useState('');
  useEffect(() => {
    kiln.invoke('listDiskOfferings', {}).then(
      (r) => setOfferings(listOf<DiskOffering>(r, 'diskoffering')),
      () => setOfferings([]),
    );
  }, []);
  const offering = offerings.find((o) => o.id === offeringId);
  const sizeProblem = offering?.iscustomized ? (size === '' ? 'size: give the size in GiB' : paramProblem(apis, 'createVolume', 'size', size)) : undefined;
  const nameProblem = paramProblem(apis, 'createVolume', 'name', name);
  const vmName = vm.displayname || vm.name;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!offering || sizeProblem || nameProblem || blocked) return;
    const label = name.trim();
    const ok = await job.run({
      command: 'createVolume',
      params: { virtualmachineid: vm.id, zoneid: vm.zoneid, diskofferingid: offering.id, size: offering.iscustomized ? size : undefined, name: label || undefined },
      running: `Adding a disk to ${vmName}…`,
      done: (result) => {
        const made = result['volume'] as Volume | undefined;
        return `${vmName}: disk ${made?.name ?? label} (${formatBytes(made?.size)}) attached as device ${made?.deviceid ?? '?'}`;
      },
      failed: 'Disk not added',
    });
    if (ok) {
      setName('');
      setSize('');
    }
  };

  return (
    <form className="snapshot-form volume-form" aria-label="Add a disk" onSubmit={(e) => void submit(e)}>
      <label className="inline-label" htmlFor={`${id}-offering`}>
        Disk offering
      </label>
      <select id={`${id}-offering`} value={offeringId} onChange={(e) => setOfferingId(e.target.value)}>
        <option value="">Choose…</option>
        {offerings.map((o) => (
          <option key={o.id} value={o.id}>
            {o.iscustomized ? `${o.name} (custom size)` : `${o.name} (${formatGiB(o.disksize)})`}
          </option>
        ))}
      </select>
      {offering?.iscustomized && (
        <>
          <label className="inline-label" htmlFor={`${id}-size`}>
            Size (GiB)
          </label>
          <input id={`${id}-size`} className="volume-size" inputMode="numeric" value={size} onChange={(e) => setSize(e.target.value.trim())} aria-invalid={sizeProblem && size !== '' ? true : undefined} aria-describedby={`${id}-problem`} />
        </>
      )}
      <label className="inline-label" htmlFor={`${id}-name`}>
        Name
      </label>
      <input id={`${id}-name`} value={name} placeholder="(generated)" onChange={(e) => setName(e.target.value)} aria-invalid={nameProblem ? true : undefined} aria-describedby={`${id}-problem`} />
      <button type="submit" className="primary" disabled={job.running !== undefined || !offering || !!sizeProblem || !!nameProblem || !!blocked} title={blocked}>
        {job.running ? 'Working…' : 'Add disk'}
      </button>
      {((sizeProblem && size !== '') || nameProblem) && (
        <span id={`${id}-problem`} className="hint error snapshot-form-hint" role="alert">
          {nameProblem ?? sizeProblem}
        </span>
      )}
    </form>
  );
}

/** Resize: the new size in GiB (resizeVolume multiplies it by 1024³, as createVolume does); a smaller one needs "allow shrinking" (shrinkok), as the engine does. */
function ResizeDialog({ volume, job, onClose }: { volume: Volume; job: SnapshotJob; onClose(): void }) {
  const id = useId();
  const apis = useApiCatalog((s) => s.apis);
  const current = volume.size ? Math.round(volume.size / GiB) : undefined;
  const [size, setSize] = useState(current ? String(current + 1) : '');
  const [shrink, setShrink] = useState(false);
  const smaller = current !== undefined && Number(size) < current;
  const problem = size === '' ? 'size: give the new size in GiB' : paramProblem(apis, 'resizeVolume', 'size', size) ?? (smaller && !shrink ? `size: ${size} GiB is smaller than ${current} GiB; shrinking loses data, allow it below` : undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (problem) return;
    onClose();
    await job.run({
      command: 'resizeVolume',
      params: { id: volume.id, size, shrinkok: smaller ? true : undefined },
      running: `Resizing ${volume.name} to ${size} GiB…`,
      done: (result) => `${volume.name} resized to ${formatBytes((result['volume'] as Volume | undefined)?.size)}`,
      failed: `Resize of ${volume.name} failed`,
    });
  };

  return (
    <Modal title={`Resize ${volume.name}`} onClose={onClose}>
      <form className="dialog-form" aria-label={`Resize ${volume.name}`} onSubmit={(e) => void submit(e)}>
        <p>It is {formatBytes(volume.size)} now.</p>
        <div className="form-row">
          <label htmlFor={`${id}-size`}>New size (GiB)</label>
          <input id={`${id}-size`} inputMode="numeric" value={size} onChange={(e) => setSize(e.target.value.trim())} aria-invalid={problem ? true : undefined} aria-describedby={`${id}-hint`} />
          {problem && (
            <span id={`${id}-hint`} className="hint error" role="alert">
              {problem}
            </span>
          )}
        </div>
        {smaller && (
          <label className="check">
            <input type="checkbox" checked={shrink} onChange={(e) => setShrink(e.target.checked)} />
            Allow shrinking (data beyond the new size is lost)
          </label>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!!problem}>
            Resize
          </button>
        </div>
      </form>
    </Modal>
  );
}

interface MigrationPool {
  id: string;
  name: string;
  type?: string;
  scope?: string;
  tags?: string;
  suitableformigration: boolean;
  notsuitablereason?: string;
}

/** Move: the pools findStoragePoolsForMigration lists for the volume, the unsuitable ones shown with why and not choosable; migrateVolume to the one chosen. */
function MoveVolumeDialog({ volume, live, job, onClose }: { volume: Volume; live: boolean; job: SnapshotJob; onClose(): void }) {
  const id = useId();
  const [pools, setPools] = useState<{ list: MigrationPool[]; error?: string; loaded: boolean }>({ list: [], loaded: false });
  const [poolId, setPoolId] = useState('');
  useEffect(() => {
    let live = true;
    kiln.invoke('findStoragePoolsForMigration', { id: volume.id }).then(
      (r) => live && setPools({ list: listOf<MigrationPool>(r, 'storagepool'), loaded: true }),
      (e: unknown) => live && setPools({ list: [], loaded: true, error: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [volume.id]);
  const chosen = pools.list.find((p) => p.id === poolId && p.suitableformigration);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return;
    onClose();
    await job.run({
      command: 'migrateVolume',
      params: { volumeid: volume.id, storageid: chosen.id, ...(live ? { livemigrate: 'true' } : {}) },
      running: `Moving ${volume.name} to ${chosen.name}…`,
      done: (result) => `${volume.name} moved to storage pool ${(result['volume'] as Volume | undefined)?.storage ?? chosen.name}`,
      failed: `${volume.name} not moved`,
    });
  };

  return (
    <Modal title={`Move ${volume.name}`} onClose={onClose}>
      <form className="dialog-form" aria-label={`Move ${volume.name}`} onSubmit={(e) => void submit(e)}>
        <p>
          It is on {volume.storage ?? 'its pool'} now.{' '}
          {live ? 'The disk is copied to the pool chosen while the VM runs, the VM switches over to the copy, then the disk is deleted here.' : 'The disk is copied to the pool chosen, then deleted here.'}
        </p>
        {pools.error && (
          <p className="error" role="alert">
            Could not list the storage pools: {pools.error}
          </p>
        )}
        {pools.loaded && !pools.error && pools.list.length === 0 && <p className="empty">No other storage pool in this cluster.</p>}
        {!pools.loaded && <p className="empty">Loading…</p>}
        {pools.list.length > 0 && (
          <fieldset>
            <legend>Storage pool</legend>
            {pools.list.map((p) => (
              <label key={p.id} className="check" htmlFor={`${id}-${p.id}`}>
                <input id={`${id}-${p.id}`} type="radio" name={`${id}-pool`} value={p.id} checked={poolId === p.id} disabled={!p.suitableformigration} onChange={() => setPoolId(p.id)} />
                {p.name}
                {p.tags ? ` (tags ${p.tags})` : ''}
                {!p.suitableformigration && p.notsuitablereason && <span className="hint"> — not suitable: {p.notsuitablereason}</span>}
              </label>
            ))}
          </fieldset>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!chosen}>
            Move
          </button>
        </div>
      </form>
    </Modal>
  );
}

async function attach(v: Volume, vm: Vm, job: SnapshotJob): Promise<void> {
  const vmName = vm.displayname || vm.name;
  await job.run({
    command: 'attachVolume',
    params: { id: v.id, virtualmachineid: vm.id },
    running: `Attaching ${v.name} to ${vmName}…`,
    done: (result) => `${v.name} attached to ${vmName} as device ${(result['volume'] as Volume | undefined)?.deviceid ?? '?'}`,
    failed: `${v.name} not attached`,
  });
}

async function detach(v: Volume, vmName: string, job: SnapshotJob): Promise<void> {
  const answer = await useConfirm.getState().ask({
    title: `Detach ${v.name} from ${vmName}?`,
    body: `The disk leaves ${vmName}${v.state === 'Ready' ? ' (at once, if it runs: unmount it in the guest first)' : ''}. It is kept, to attach again or delete.`,
    choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Detach', danger: true }],
  });
  if (answer !== 'go') return;
  await job.run({ command: 'detachVolume', params: { id: v.id }, running: `Detaching ${v.name}…`, done: () => `${v.name} detached from ${vmName}`, failed: `${v.name} not detached` });
}

async function remove(v: Volume, job: SnapshotJob, reload: () => void): Promise<void> {
  const answer = await useConfirm.getState().ask({
    title: `Delete ${v.name}?`,
    body: `The disk ${v.name} and its data are deleted; this cannot be undone.`,
    choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
  });
  if (answer !== 'go') return;
  await job.run({ command: 'deleteVolume', params: { id: v.id }, running: `Deleting ${v.name}…`, done: () => `${v.name} deleted`, failed: `${v.name} not deleted` });
  reload();
}

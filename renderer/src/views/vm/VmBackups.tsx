/**
 * A VM's backups (R53–R58): its offering (assign, remove), the backups with type, size, time and
 * the progress of one that runs, "Back up now", restore (the VM must be stopped: the reason is
 * shown, not just a greyed button), one volume restored onto another VM, delete; and its
 * schedules with an editor that shows the next runs before saving, and when each ran last.
 */
import { useCallback, useEffect, useState } from 'react';
import type { Vm } from '../../api/model';
import { errorText, listOf, shownError, type ShownError } from '../../api/model';
import { kiln } from '../../transport';
import { runQuietly } from '../../api/run-job';
import { appliesInState, hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useJobs } from '../../stores/jobs-store';
import { useVms } from '../../stores/vm-store';
import { ApiErrorText, Modal } from '../../components/Modal';
import { SelectField, TextField } from '../../components/FormFields';
import { DeleteButton, RecordTable } from '../../components/RecordTable';
import { formatTime } from '../EventLog';
import { providerNote, scheduleString, volumesOf, type Backup, type BackupOffering, type BackupSchedule } from '../backup/backup-model';
import { formatBytes } from '../../api/format-size';

const BACKUP_COMMANDS = new Set(['createBackup', 'restoreBackup', 'deleteBackup', 'restoreVolumeFromBackupAndAttachToVM', 'assignVirtualMachineToBackupOffering', 'removeVirtualMachineFromBackupOffering']);

interface BackupData {
  offering?: BackupOffering;
  offerings: BackupOffering[];
  backups: Backup[];
  schedules: BackupSchedule[];
  loaded: boolean;
  error?: string;
}

/** Everything the tab shows, reloaded on demand and whenever a backup job (from any window) ends or moves. */
function useBackupData(vm: Vm) {
  const [data, setData] = useState<BackupData>({ offerings: [], backups: [], schedules: [], loaded: false });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const jobs = useJobs((s) =>
    [...s.jobs.values()]
      .filter((j) => BACKUP_COMMANDS.has(j.cmd))
      .map((j) => `${j.jobid}:${j.status}`)
      .sort()
      .join(','),
  );
  useEffect(() => {
    let live = true;
    (async () => {
      // The VM's own offering first, alone: with backups off in the zone every backup read fails
      // with the same 530 (backup.framework.enabled), so that one answer is enough to say so.
      const mine = await kiln.invoke('listBackupOfferings', { virtualmachineid: vm.id });
      if (!live) return;
      const [all, backups, schedules] = await Promise.all([
        kiln.invoke('listBackupOfferings', { zoneid: vm.zoneid }),
        kiln.invoke('listBackups', { virtualmachineid: vm.id }),
        kiln.invoke('listBackupSchedule', { virtualmachineid: vm.id }),
      ]);
      if (!live) return;
      setData({
        offering: listOf<BackupOffering>(mine, 'backupoffering')[0],
        offerings: listOf<BackupOffering>(all, 'backupoffering'),
        backups: listOf<Backup>(backups, 'backup').reverse(),
        schedules: listOf<BackupSchedule>(schedules, 'backupschedule'),
        loaded: true,
      });
    })().catch((e: unknown) => live && setData((d) => ({ ...d, loaded: true, error: errorText(e) })));
    return () => {
      live = false;
    };
  }, [vm.id, vm.zoneid, generation, jobs]);
  return { ...data, reload };
}

export function VmBackups({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  const data = useBackupData(vm);
  const [error, setError] = useState<ShownError>();
  const [running, setRunning] = useState<{ text: string; jobid?: string }>();
  const [restoreVolume, setRestoreVolume] = useState<Backup>();
  const name = vm.displayname || vm.name;
  const canRestore = appliesInState(apis, 'restoreBackup', vm.state);

  const act = async (text: string, command: string, params: Record<string, string>, done: string) => {
    setError(undefined);
    setRunning({ text });
    try {
      await runQuietly(command, params, (jobid) => setRunning({ text, jobid }));
      useJobs.getState().notify('success', done);
    } catch (e) {
      setError(shownError(e));
    } finally {
      setRunning(undefined);
      data.reload();
    }
  };

  if (data.error) {
    // Backups off in the zone (the engine's 530 names the setting) is a state to switch, not a failure: said as a note, with the way to the page that switches it.
    if (data.error.includes('backup.framework.enabled')) {
      return (
        <p className="note" role="note">
          {data.error}.
          {hasApi(apis, 'importBackupOffering') && (
            <>
              {' '}
              <a href="#/backups">Backup offerings</a> turns them on per zone.
            </>
          )}
        </p>
      );
    }
    return (
      <p className="error" role="alert">
        Backups: {data.error}
      </p>
    );
  }
  if (!data.loaded) return <p className="empty">Loading…</p>;

  const restore = async (b: Backup) => {
    const answer = await useConfirm.getState().ask({
      title: `Restore ${name} from ${b.name}?`,
      body: `Every volume of ${name} is written back as it was on ${formatTime(b.created)}; what was written since is lost.${vm.state === 'Destroyed' ? ' The destroyed VM is recovered first; its NICs and networks are not restored from the backup.' : ''}`,
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Restore', danger: true }],
    });
    if (answer === 'go') await act(`Restoring ${name} from ${b.name}…`, 'restoreBackup', { id: b.id }, `${name} restored from ${b.name}`);
  };
  const remove = async (b: Backup) => {
    const base = data.backups.some((x) => x.parentid === b.id);
    const answer = await useConfirm.getState().ask({
      title: `Delete backup ${b.name}?`,
      body: base ? `${b.name} is the base of an incremental backup: deleting it merges its data into that one first.` : 'Its data is removed from the backup store.',
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
    });
    if (answer === 'go') await act(`Deleting ${b.name}…`, 'deleteBackup', { id: b.id, ...(base ? { forced: 'true' } : {}) }, `Backup ${b.name} deleted`);
  };

  return (
    <section className="vm-backups" aria-labelledby="vm-backups-title">
      <h2 id="vm-backups-title" className="visually-hidden">
        Backups
      </h2>
      <OfferingPanel vm={vm} data={data} act={act} />
      {running && <JobLine text={running.text} jobid={running.jobid} />}
      <ApiErrorText error={error} />
      {data.offering && (
        <>
          <div className="panel-actions">
            {appliesInState(apis, 'createBackup', vm.state) && data.offering.allowuserdrivenbackups && (
              <button type="button" className="primary" disabled={running !== undefined} onClick={() => void act(`Backing up ${name}…`, 'createBackup', { virtualmachineid: vm.id }, `${name} backed up`)}>
                Back up now
              </button>
            )}
          </div>
          {!canRestore && hasApi(apis, 'restoreBackup') && (
            <p className="note" role="note" data-restore-note>
              Restoring needs the VM stopped (it is {vm.state}): a restore writes over its disks. Stop it first, or restore one volume onto another VM.
            </p>
          )}
        </>
      )}
      {data.backups.length === 0 ? (
        <p className="empty">{data.offering ? 'No backups yet.' : 'No backups.'}</p>
      ) : (
        <RecordTable
          label={`Backups of ${name}`}
          columns={[
            {
              header: 'Backup',
              cell: (b) => (
                <>
                  <strong>{b.name}</strong>
                  {b.intervaltype !== 'MANUAL' && <span className="badge">{b.intervaltype.toLowerCase()}</span>}
                  {b.note && <div className="hint">{b.note}</div>}
                </>
              ),
            },
            { header: 'Type', cell: (b) => (b.type === 'INCREMENTAL' ? `Incremental on ${data.backups.find((x) => x.id === b.parentid)?.name ?? 'an earlier backup'}` : 'Full') },
            { header: 'Size', className: 'nowrap', cell: (b) => (b.status === 'BackedUp' ? `${formatBytes(b.size)} of ${formatBytes(b.virtualsize)}` : '—') },
            { header: 'Status', cell: (b) => (b.status === 'BackingUp' || b.status === 'Restoring' ? <JobLine text={b.status === 'BackingUp' ? 'Backing up' : 'Restoring'} jobid={b.jobid} /> : b.status) },
            { header: 'Taken', className: 'nowrap', cell: (b) => formatTime(b.created) },
          ]}
          rows={data.backups}
          rowKey={(b) => b.id}
          rowData={(b) => ({ 'data-backup': b.name })}
          actions={(b) => (
            <>
              {b.status === 'BackedUp' && canRestore && (
                <button type="button" onClick={() => void restore(b)} disabled={running !== undefined}>
                  Restore
                </button>
              )}
              {b.status === 'BackedUp' && hasApi(apis, 'restoreVolumeFromBackupAndAttachToVM') && (
                <button type="button" onClick={() => setRestoreVolume(b)} disabled={running !== undefined}>
                  Restore a volume…
                </button>
              )}
              {hasApi(apis, 'deleteBackup') && b.status !== 'BackingUp' && b.status !== 'Restoring' && (
                <DeleteButton label={`Delete backup ${b.name}`} onClick={() => void remove(b)} disabled={running !== undefined} />
              )}
            </>
          )}
        />
      )}
      {data.offering?.allowuserdrivenbackups && hasApi(apis, 'createBackupSchedule') && <Schedules vm={vm} schedules={data.schedules} onChange={data.reload} />}
      {restoreVolume && (
        <RestoreVolumeDialog
          backup={restoreVolume}
          vm={vm}
          onClose={() => setRestoreVolume(undefined)}
          onRestore={(params, target) => {
            setRestoreVolume(undefined);
            void act(`Restoring a volume of ${restoreVolume.name} onto ${target}…`, 'restoreVolumeFromBackupAndAttachToVM', params, `Volume restored onto ${target}`);
          }}
        />
      )}
    </section>
  );
}

/** The VM's offering and its provider; assigning one, or removing the VM from it. */
function OfferingPanel({ vm, data, act }: { vm: Vm; data: BackupData; act(text: string, command: string, params: Record<string, string>, done: string): Promise<void> }) {
  const apis = useApiCatalog((s) => s.apis);
  const [chosen, setChosen] = useState('');
  if (data.offering) {
    const remove = async () => {
      const answer = await useConfirm.getState().ask({
        title: `Remove ${vm.displayname || vm.name} from ${data.offering!.name}?`,
        body: 'Its schedules go. Keep its backups (they stay restorable), or delete them too.',
        choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'keep', label: 'Remove, keep backups' }, { value: 'forced', label: 'Remove and delete backups', danger: true }],
      });
      if (answer === 'keep' || answer === 'forced') await act('Removing from the offering…', 'removeVirtualMachineFromBackupOffering', { virtualmachineid: vm.id, ...(answer === 'forced' ? { forced: 'true' } : {}) }, `Removed from ${data.offering!.name}`);
    };
    return (
      <div className="card backup-offering">
        <p>
          Backup offering: <strong data-offering>{data.offering.name}</strong> ({data.offering.allowuserdrivenbackups ? 'backups on demand and on schedules' : 'the provider backs it up on its own schedule'})
        </p>
        <p className="hint" data-provider-note>
          Provider {providerNote(data.offering.provider)}
        </p>
        {hasApi(apis, 'removeVirtualMachineFromBackupOffering') && (
          <button type="button" onClick={() => void remove()}>
            Remove from offering…
          </button>
        )}
      </div>
    );
  }
  if (data.offerings.length === 0) return <p className="note">No backup offering in this zone yet: an admin imports one on the Backup offerings page.</p>;
  return (
    <div className="card backup-offering">
      <SelectField label="Backup offering" value={chosen} onChange={setChosen} options={data.offerings.map((o) => ({ id: o.id, name: `${o.name} (${o.provider})` }))} />
      <button type="button" className="primary" disabled={!chosen} onClick={() => void act('Assigning the offering…', 'assignVirtualMachineToBackupOffering', { virtualmachineid: vm.id, backupofferingid: chosen }, 'Backup offering assigned')}>
        Assign
      </button>
    </div>
  );
}

function JobLine({ text, jobid }: { text: string; jobid?: string }) {
  const progress = useJobs((s) => (jobid ? s.jobs.get(jobid)?.progress : undefined));
  return (
    <span className="backup-job" role="status">
      <span>{text}</span>
      <progress max={100} value={progress} aria-label="Progress" />
    </span>
  );
}

/** One backed-up volume onto another VM of the zone, as its next data disk. */
function RestoreVolumeDialog({ backup, vm, onClose, onRestore }: { backup: Backup; vm: Vm; onClose(): void; onRestore(params: Record<string, string>, target: string): void }) {
  const volumes = volumesOf(backup);
  const all = useVms((s) => s.vms);
  const vms = all.filter((v) => v.id !== vm.id && v.zoneid === vm.zoneid && !['Destroyed', 'Expunging', 'Error'].includes(v.state));
  const [volume, setVolume] = useState(volumes[0]?.uuid ?? '');
  const [target, setTarget] = useState('');
  const targetName = vms.find((v) => v.id === target)?.displayname ?? '';
  return (
    <Modal title={`Restore a volume of ${backup.name}`} onClose={onClose}>
      <div className="dialog-form">
      <SelectField label="Volume" value={volume} onChange={setVolume} options={volumes.map((v) => ({ id: v.uuid, name: `${v.type} (${formatBytes(v.size)})` }))} />
      <SelectField label="Onto VM" value={target} onChange={setTarget} options={vms.map((v) => ({ id: v.id, name: `${v.displayname || v.name} (${v.state})` }))} hint="It gets the volume as its next data disk. A VM that has backups itself cannot: its volumes are fixed while they exist." />
      <div className="dialog-buttons">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="primary" disabled={!volume || !target} onClick={() => onRestore({ backupid: backup.id, volumeid: volume, virtualmachineid: target }, targetName)}>
          Restore volume
        </button>
      </div>
      </div>
    </Modal>
  );
}

/** The VM's schedules, each with its next and last run, and the editor with the next runs it would have. */
function Schedules({ vm, schedules, onChange }: { vm: Vm; schedules: BackupSchedule[]; onChange(): void }) {
  const [type, setType] = useState('DAILY');
  const [minute, setMinute] = useState('0');
  const [hour, setHour] = useState('2');
  const [day, setDay] = useState('1');
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [max, setMax] = useState('7');
  const [preview, setPreview] = useState<{ runs?: string[]; error?: string }>({});
  const [error, setError] = useState<ShownError>();
  const schedule = scheduleString(type, minute, hour, day);

  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      kiln.invoke('previewBackupSchedule', { intervaltype: type, schedule, timezone }).then(
        (r) => live && setPreview({ runs: ((r['backupschedule'] as { nextruns?: string[] } | undefined)?.nextruns) ?? [] }),
        (e: unknown) => live && setPreview({ error: errorText(e) }),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [type, schedule, timezone]);

  const save = async () => {
    setError(undefined);
    try {
      await kiln.invoke('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: type, schedule, timezone, maxbackups: max });
      useJobs.getState().notify('success', `${type.toLowerCase()} backup schedule saved`);
      onChange();
    } catch (e) {
      setError(shownError(e));
    }
  };
  const remove = async (s: BackupSchedule) => {
    try {
      await kiln.invoke('deleteBackupSchedule', { id: s.id });
      onChange();
    } catch (e) {
      setError(shownError(e));
    }
  };

  return (
    <section className="backup-schedules" aria-labelledby="backup-schedules-title">
      <h3 id="backup-schedules-title">Schedules</h3>
      <p className="hint">Kiln runs schedules while it is open; a run missed while it was closed runs once when it starts again.</p>
      {schedules.length === 0 ? (
        <p className="empty">No schedules.</p>
      ) : (
        <RecordTable
          label="Backup schedules"
          columns={[
            { header: 'Interval', cell: (s) => s.intervaltype },
            { header: 'Schedule', className: 'mono', cell: (s) => s.schedule },
            { header: 'Time zone', cell: (s) => s.timezone },
            { header: 'Keeps', cell: (s) => (s.maxbackups > 0 ? `${s.maxbackups} backups` : 'all') },
            { header: 'Next run', className: 'nowrap', cell: (s) => (s.scheduled ? formatTime(s.scheduled) : '—') },
            { header: 'Last run', cell: (s) => (s.lastrun ? `${formatTime(s.lastrun)}${s.lastresult ? ` (${s.lastresult})` : ''}` : 'not yet') },
          ]}
          rows={schedules}
          rowKey={(s) => s.id}
          rowData={(s) => ({ 'data-schedule': s.intervaltype })}
          actions={(s) => <DeleteButton label={`Delete the ${s.intervaltype} schedule`} onClick={() => void remove(s)} />}
        />
      )}
      <div className="card schedule-editor" aria-label="New schedule">
        <SelectField label="Interval" value={type} onChange={setType} options={['HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY'].map((t) => ({ id: t, name: t.toLowerCase() }))} />
        <TextField label="Minute" value={minute} onChange={setMinute} />
        {type !== 'HOURLY' && <TextField label="Hour (0-23)" value={hour} onChange={setHour} />}
        {type === 'WEEKLY' && <SelectField label="Day of the week" value={day} onChange={setDay} options={['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'].map((d, i) => ({ id: String(i + 1), name: d }))} />}
        {type === 'MONTHLY' && <TextField label="Day of the month (1-28)" value={day} onChange={setDay} />}
        <TextField label="Time zone" value={timezone} onChange={setTimezone} hint="An IANA name, e.g. Asia/Seoul or UTC" />
        <TextField label="Keep at most (0: all)" value={max} onChange={setMax} />
        <div className="schedule-preview" role="status" aria-label="Next runs">
          {preview.error ? <span className="hint error">{preview.error}</span> : preview.runs && <span>Next runs: {preview.runs.slice(0, 3).map(formatTime).join(' · ')}</span>}
        </div>
        <button type="button" className="primary" onClick={() => void save()} disabled={preview.error !== undefined}>
          Save schedule
        </button>
        <ApiErrorText error={error} />
      </div>
    </section>
  );
}

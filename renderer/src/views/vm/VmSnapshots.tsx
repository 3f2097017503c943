/**
 * A VM's snapshots as their tree (listVMSnapshot), the current one marked, with "Take snapshot",
 * and Revert and Delete per snapshot after a confirmation. Each action shows only when the caller
 * has its command and the VM's state is among the command's listApis `vmstates`.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { Vm } from '../../api/model';
import { errorText, listOf } from '../../api/model';
import { kiln } from '../../transport';
import { appliesInState, hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useJobs } from '../../stores/jobs-store';
import { useFinishedJobsKey } from '../../api/use-finished-jobs';
import { ApiErrorText } from '../../components/Modal';
import { StateBadge } from '../../components/StateBadge';
import { formatTime } from '../EventLog';
import { buildSnapshotTree, snapshotLabel, snapshotTypeLabel, type SnapshotNode, type VmSnapshot } from './snapshot-tree';
import { useSnapshotJob, type SnapshotJob } from './use-snapshot-job';
import { TakeSnapshotForm } from './TakeSnapshotForm';
import { TagEditor } from '../../components/TagEditor';

const SNAPSHOT_COMMANDS = new Set(['createVMSnapshot', 'revertToVMSnapshot', 'deleteVMSnapshot']);

/** The VM's snapshots, reloaded on demand and whenever a snapshot job (from any window) ends. */
function useSnapshots(vmId: string, enabled: boolean) {
  const [state, setState] = useState<{ items: VmSnapshot[]; loaded: boolean; error?: string }>({ items: [], loaded: false });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const finishedJobs = useFinishedJobsKey(SNAPSHOT_COMMANDS);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    kiln.invoke('listVMSnapshot', { virtualmachineid: vmId }).then(
      (r) => live && setState({ items: listOf<VmSnapshot>(r, 'vmSnapshot'), loaded: true }),
      (e: unknown) => live && setState((s) => ({ ...s, loaded: true, error: errorText(e) })),
    );
    return () => {
      live = false;
    };
  }, [vmId, enabled, generation, finishedJobs]);
  return { ...state, reload };
}

export function VmSnapshots({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  const { items, loaded, error, reload } = useSnapshots(vm.id, hasApi(apis, 'listVMSnapshot'));
  const job = useSnapshotJob(reload);
  const tree = useMemo(() => buildSnapshotTree(items), [items]);
  const canTake = appliesInState(apis, 'createVMSnapshot', vm.state);
  const takeStates = apis.get('createvmsnapshot')?.vmstates;
  const gates = { revert: appliesInState(apis, 'revertToVMSnapshot', vm.state), remove: appliesInState(apis, 'deleteVMSnapshot', vm.state) };

  return (
    <section className="vm-snapshots" aria-labelledby="vm-snapshots-title">
      <h2 id="vm-snapshots-title" className="visually-hidden">
        Snapshots
      </h2>
      {canTake && <TakeSnapshotForm vm={vm} job={job} />}
      {!canTake && hasApi(apis, 'createVMSnapshot') && takeStates && (
        <p className="note" role="note">
          Snapshots can be taken while the VM is {takeStates.join(' or ')} (it is {vm.state}).
        </p>
      )}
      {job.running && <JobLine text={job.running.text} jobid={job.running.jobid} />}
      <ApiErrorText error={job.error} prefix={job.error?.prefix} />
      {error && (
        <p className="error" role="alert">
          Could not list the snapshots: {error}
        </p>
      )}
      {tree.length === 0 ? (
        <p className="empty">{loaded || !hasApi(apis, 'listVMSnapshot') ? 'This VM has no snapshots.' : 'Loading…'}</p>
      ) : (
        <div className="snapshot-table">
          <div className="snapshot-row snapshot-head" aria-hidden="true">
            <span>Snapshot</span>
            <span>Type</span>
            <span>State</span>
            <span>Created</span>
            <span className="snapshot-actions" />
          </div>
          <ul className="snapshot-tree" aria-label={`Snapshots of ${vm.displayname || vm.name}`}>
            {tree.map((node) => (
              <SnapshotItem key={node.snapshot.id} node={node} vm={vm} job={job} gates={gates} />
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

/** The running snapshot job: its text and, once the jobs subscription reports it, its progress. */
function JobLine({ text, jobid }: { text: string; jobid?: string }) {
  const progress = useJobs((s) => (jobid ? s.jobs.get(jobid)?.progress : undefined));
  return (
    <p className="snapshot-job" role="status">
      <span>{text}</span>
      <progress max={100} value={progress} aria-label="Progress" />
    </p>
  );
}

interface Gates {
  revert: boolean;
  remove: boolean;
}

function SnapshotItem({ node, vm, job, gates }: { node: SnapshotNode; vm: Vm; job: SnapshotJob; gates: Gates }) {
  const s = node.snapshot;
  const label = snapshotLabel(s);
  const busy = job.running !== undefined || s.state !== 'Ready';
  const [showTags, setShowTags] = useState(false);
  return (
    <li className={s.current ? 'snapshot current' : 'snapshot'} aria-current={s.current ? 'true' : undefined} data-snapshot={label}>
      <div className="snapshot-row">
        <div className="snapshot-name">
          <span className="snapshot-title">
            <strong>{label}</strong>
            {s.current && <span className="badge snapshot-current">current</span>}
          </span>
          {s.description && <span className="snapshot-description">{s.description}</span>}
        </div>
        <span>
          <span className="visually-hidden">Type: </span>
          {snapshotTypeLabel(s.type)}
        </span>
        <span>
          <StateBadge state={s.state} pendingJob={s.state !== 'Ready' && s.state !== 'Error'} />
        </span>
        <span className="nowrap">
          <span className="visually-hidden">Created: </span>
          {s.created ? formatTime(s.created) : '—'}
        </span>
        <span className="snapshot-actions">
          <button type="button" aria-expanded={showTags} aria-label={`Tags of ${label}`} onClick={() => setShowTags((v) => !v)}>
            Tags
          </button>
          {gates.revert && (
            <button type="button" disabled={busy} aria-label={`Revert to ${label}`} onClick={() => void revert(s, vm, job)}>
              Revert
            </button>
          )}
          {gates.remove && (
            <button type="button" className="danger" disabled={busy} aria-label={`Delete ${label}`} onClick={() => void remove(node, vm, job)}>
              Delete
            </button>
          )}
        </span>
      </div>
      {showTags && <TagEditor resourceType="VMSnapshot" resourceId={s.id} label={`snapshot ${label}`} />}
      {node.children.length > 0 && (
        <ul className="snapshot-children">
          {node.children.map((child) => (
            <SnapshotItem key={child.snapshot.id} node={child} vm={vm} job={job} gates={gates} />
          ))}
        </ul>
      )}
    </li>
  );
}

async function revert(s: VmSnapshot, vm: Vm, job: SnapshotJob): Promise<void> {
  const label = snapshotLabel(s);
  const vmName = vm.displayname || vm.name;
  const answer = await useConfirm.getState().ask({
    title: `Revert ${vmName} to ${label}?`,
    body:
      s.type === 'DiskAndMemory'
        ? `${vmName} goes back to the running state it was in when ${label} was taken: its disks and memory. Changes made since are lost unless a later snapshot holds them.`
        : `${vmName}'s disks go back to ${label}; the VM stays stopped. Changes made since are lost unless a later snapshot holds them.`,
    choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Revert', danger: true }],
  });
  if (answer !== 'go') return;
  await job.run({
    command: 'revertToVMSnapshot',
    params: { vmsnapshotid: s.id },
    running: `Reverting ${vmName} to ${label}…`,
    done: () => `${vmName} reverted to snapshot ${label}`,
    failed: `Revert to ${label} failed`,
  });
}

async function remove(node: SnapshotNode, vm: Vm, job: SnapshotJob): Promise<void> {
  const s = node.snapshot;
  const label = snapshotLabel(s);
  const vmName = vm.displayname || vm.name;
  const kids = node.children.length;
  const answer = await useConfirm.getState().ask({
    title: `Delete snapshot ${label}?`,
    body: `The snapshot ${label} of ${vmName} is deleted; this cannot be undone. The VM itself does not change.${
      kids > 0 ? ` Its ${kids === 1 ? 'child moves' : `${kids} children move`} up to ${s.parentName ? `${s.parentName}` : 'the top of the tree'}.` : ''
    }`,
    choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
  });
  if (answer !== 'go') return;
  await job.run({
    command: 'deleteVMSnapshot',
    params: { vmsnapshotid: s.id },
    running: `Deleting snapshot ${label}…`,
    done: () => `${vmName}: snapshot ${label} deleted`,
    failed: `Delete of ${label} failed`,
  });
}

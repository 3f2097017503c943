/**
 * The name of the object a job works on, for its label ("Create VM snapshot before-upgrade of
 * web-1", "Delete affinity group apart"): a VM's comes from the VM list; any other object's is
 * taken from any list answer that showed it (kiln.observe), else read once by its list command
 * when the job is first seen, and kept: a delete's object is gone by the time its job finishes.
 */
import { create } from 'zustand';
import { listOf, type JobUpdate } from '../api/model';
import { kiln } from '../transport';
import { useVms } from './vm-store';
import { describeCommand } from './jobs-store';

/** How each non-VM instance type is read by id: the command, its parameters and the list name. */
const READERS: Record<string, { command: string; params?: Record<string, string>; list: string; idParam?: string }> = {
  VMSnapshot: { command: 'listVMSnapshot', list: 'vmSnapshot', idParam: 'vmsnapshotid' },
  AffinityGroup: { command: 'listAffinityGroups', list: 'affinitygroup' },
  Volume: { command: 'listVolumes', list: 'volume' },
  Template: { command: 'listTemplates', params: { templatefilter: 'all' }, list: 'template' },
  Iso: { command: 'listIsos', params: { isofilter: 'all' }, list: 'iso' },
  ISO: { command: 'listIsos', params: { isofilter: 'all' }, list: 'iso' },
  Backup: { command: 'listBackups', list: 'backup' },
  BackupOffering: { command: 'listBackupOfferings', list: 'backupoffering' },
  Cluster: { command: 'listClusters', list: 'cluster' },
  Host: { command: 'listHosts', list: 'host' },
};

const VM_TYPES = new Set(['VirtualMachine', 'UserVm']);

/** The name a list record gives its object, with the VM it belongs to where it has one. */
function nameOf(type: string, record: Record<string, unknown>): string | undefined {
  const own = String(record['displayname'] ?? record['name'] ?? '') || undefined;
  if (!own) return undefined;
  const vmId = typeof record['virtualmachineid'] === 'string' ? record['virtualmachineid'] : undefined;
  const vmName = (vmId && useVms.getState().byId.get(vmId)?.displayname) || record['virtualmachinename'] || record['vmdisplayname'];
  return (type === 'VMSnapshot' || type === 'Backup') && typeof vmName === 'string' && vmName ? `${own} of ${vmName}` : own;
}

interface JobNamesStore {
  /** Names by instance id, once read. */
  names: Map<string, string>;
  /**
   * Reads the name of JOB's object when it is not known yet (a VM's is the VM list's); resolves
   * when it is known or cannot be. An object not found is not asked for again unless AGAIN (a
   * finished job's object, which its job may have just made).
   */
  resolve(job: Pick<JobUpdate, 'instanceType' | 'instanceId'>, again?: boolean): Promise<void>;
}

const reading = new Map<string, Promise<void>>();
const missed = new Set<string>();
const TYPE_OF_LIST = new Map(Object.entries(READERS).map(([type, r]) => [r.command, { type, list: r.list }]));

export const useJobNames = create<JobNamesStore>((set, get) => ({
  names: new Map(),
  resolve({ instanceType, instanceId }, again = false) {
    if (!instanceType || !instanceId || VM_TYPES.has(instanceType) || get().names.has(instanceId) || (missed.has(instanceId) && !again)) return Promise.resolve();
    const reader = READERS[instanceType];
    if (!reader) return Promise.resolve();
    let pending = reading.get(instanceId);
    if (!pending) {
      pending = kiln
        .invoke(reader.command, { ...reader.params, [reader.idParam ?? 'id']: instanceId })
        .then(
          (response) => {
            const record = listOf<Record<string, unknown>>(response, reader.list).find((r) => r['id'] === instanceId);
            const name = record && nameOf(instanceType, record);
            if (name) set({ names: new Map(get().names).set(instanceId, name) });
            else missed.add(instanceId);
          },
          // Gone already (a job seen only after its delete finished) or not readable by this user: the label goes without a name.
          () => void missed.add(instanceId),
        )
        .finally(() => reading.delete(instanceId));
      reading.set(instanceId, pending);
    }
    return pending;
  },
}));

// Every object a list answer showed keeps its name here, so a job on it is named even when the
// job deletes it before its own read could (a snapshot deleted from the tab that lists it).
kiln.observe((command, response) => {
  const kind = TYPE_OF_LIST.get(command);
  if (!kind) return;
  const { names } = useJobNames.getState();
  let next: Map<string, string> | undefined;
  for (const record of listOf<Record<string, unknown>>(response, kind.list)) {
    const id = record['id'];
    const name = typeof id === 'string' ? nameOf(kind.type, record) : undefined;
    if (typeof id === 'string' && name && names.get(id) !== name) (next ??= new Map(names)).set(id, name);
  }
  if (next) useJobNames.setState({ names: next });
});

/** The label of JOB: its command in words and the name of its object, when known. */
export function jobLabel(job: Pick<JobUpdate, 'cmd' | 'instanceType' | 'instanceId'>, vms: Map<string, { displayname: string }>, names: Map<string, string>): string {
  const name = job.instanceId ? (vms.get(job.instanceId)?.displayname ?? names.get(job.instanceId)) : undefined;
  return describeCommand(job.cmd, name);
}

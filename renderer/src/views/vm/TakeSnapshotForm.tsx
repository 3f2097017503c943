/**
 * "Take snapshot": createVMSnapshot with a name, a description and, for a VM in a state where
 * memory can be saved, its memory. An empty name lets the engine name it.
 */
import { useId, useState, type FormEvent } from 'react';
import type { Vm } from '../../api/model';
import { appliesInState, paramAppliesInState, useApiCatalog, type ApiInfo } from '../../stores/api-catalog-store';
import type { SnapshotJob } from './use-snapshot-job';

/**
 * Kiln declares snapshotmemory's own `vmstates` in listApis; a server that does not (stock
 * CloudStack) gets memory offered for a running VM only, as there is no memory to save otherwise.
 * The engine's 431 stays the final word.
 */
const MEMORY_STATES_FALLBACK = ['Running'];

export function memoryApplies(apis: Map<string, ApiInfo>, state: string): boolean {
  return appliesInState(apis, 'createVMSnapshot', state) && paramAppliesInState(apis, 'createVMSnapshot', 'snapshotmemory', state, MEMORY_STATES_FALLBACK);
}

export function TakeSnapshotForm({ vm, job }: { vm: Vm; job: SnapshotJob }) {
  const id = useId();
  const canSaveMemory = useApiCatalog((s) => memoryApplies(s.apis, vm.state));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  // Memory is the default where it can be saved: a hypervisor may take disk-only snapshots of stopped VMs only.
  const [memory, setMemory] = useState(true);
  const vmName = vm.displayname || vm.name;
  const withMemory = canSaveMemory && memory;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const label = name.trim();
    const ok = await job.run({
      command: 'createVMSnapshot',
      params: { virtualmachineid: vm.id, name: label || undefined, description: description.trim() || undefined, snapshotmemory: withMemory },
      running: `Taking snapshot${label ? ` ${label}` : ''} of ${vmName}…`,
      done: (result) => {
        const taken = result['vmsnapshot'] as { displayname?: string } | undefined;
        return `${vmName}: snapshot ${taken?.displayname ?? label} taken`;
      },
      failed: 'Snapshot not taken',
    });
    if (ok) {
      setName('');
      setDescription('');
    }
  };

  return (
    <form className="snapshot-form" aria-label="Take a snapshot" onSubmit={(e) => void submit(e)}>
      <label className="inline-label" htmlFor={`${id}-name`}>
        Name
      </label>
      <input id={`${id}-name`} value={name} maxLength={255} placeholder="(generated)" onChange={(e) => setName(e.target.value)} />
      <label className="inline-label" htmlFor={`${id}-description`}>
        Description
      </label>
      <input id={`${id}-description`} className="snapshot-form-description" value={description} maxLength={255} onChange={(e) => setDescription(e.target.value)} />
      <label className="check">
        <input type="checkbox" checked={withMemory} disabled={!canSaveMemory} onChange={(e) => setMemory(e.target.checked)} aria-describedby={canSaveMemory ? undefined : `${id}-memory-hint`} />
        Include memory
      </label>
      <button type="submit" className="primary" disabled={job.running !== undefined}>
        {job.running ? 'Working…' : 'Take snapshot'}
      </button>
      {!canSaveMemory && (
        <span id={`${id}-memory-hint`} className="hint snapshot-form-hint">
          Memory can be saved only while the VM runs (it is {vm.state}); this snapshot holds the disks.
        </span>
      )}
    </form>
  );
}

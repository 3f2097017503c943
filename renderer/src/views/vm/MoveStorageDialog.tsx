/**
 * Move a stopped VM to another cluster with its volumes (migrateVirtualMachine storageid, admins):
 * a storage pool of the VM's zone outside its own cluster (which the engine refuses), shown with its
 * cluster. The engine's 431 (e.g. a running VM) is shown as it came; done, the dialog says where the VM's
 * next start will be.
 */
import { useState, type FormEvent } from 'react';
import type { Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { runVmChange } from './run-vm-change';
import type { VmResult } from '../../actions/vm-changes';
import { Modal, ApiErrorText } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';
import { SelectField } from '../../components/FormFields';
import { useSubmit } from '../../components/use-submit';

interface StoragePool {
  id: string;
  name: string;
  clusterid?: string;
  clustername?: string;
  state?: string;
}

export function MoveStorageDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const pools = useApiList<StoragePool>('listStoragePools', 'storagepool', vm.zoneid ? { zoneid: vm.zoneid } : undefined);
  const [poolId, setPoolId] = useState('');
  const [done, setDone] = useState<VmResult>();
  const { busy, error, run } = useSubmit();
  // A pool of the VM's own cluster is no move to another cluster: the engine refuses it (431), so it is not offered.
  const elsewhere = pools.items.filter((p) => !vm.clusterid || p.clusterid !== vm.clusterid);
  const pool = elsewhere.find((p) => p.id === poolId);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!pool) return;
    void run(async () => {
      setDone(await runVmChange(vm, 'migrateVirtualMachine', { virtualmachineid: vm.id, storageid: pool.id }, () => undefined));
      return `${name} moved to ${pool.name}`;
    });
  };

  if (done && pool) {
    return (
      <OutcomeModal title={`Move ${name}`} onClose={onClose}>
        {name} is {done.state}, its volumes on <strong>{pool.name}</strong>{pool.clustername ? ` (cluster ${pool.clustername})` : ''}; it starts there next.
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`Move ${name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">The stopped VM and its volumes move to a storage pool of another cluster; its next start is in that cluster.</p>
        <SelectField
          label="Storage pool"
          value={poolId}
          onChange={setPoolId}
          options={elsewhere.map((p) => ({ id: p.id, name: `${p.name}${p.clustername ? ` (cluster ${p.clustername})` : ''}` }))}
          required
          disabled={!pools.loading && elsewhere.length === 0}
          hint={!pools.loading && elsewhere.length === 0 ? `No storage pool of another cluster in zone ${vm.zonename ?? ''}: ${name} can only start in its own cluster.` : undefined}
        />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !pool}>
            {busy ? 'Moving…' : 'Move'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

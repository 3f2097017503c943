/**
 * Start a VM on a pod, cluster or host the admin chooses (startVirtualMachine podid / clusterid /
 * hostid, R10, R25). The fields are the placement parameters listApis gives this caller (admins
 * only), so a user never sees the action. The outcome shows the host the planner took and its
 * explanation; a refusal (533) lists each host and why.
 */
import { useState, type FormEvent } from 'react';
import type { Named, Placement, Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { runVmChange } from './run-vm-change';
import { startOnParams, startPlacementOffered, type StartPlacement, type VmResult, refusalSummary } from '../../actions/vm-changes';
import { useApiCatalog } from '../../stores/api-catalog-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';
import { SelectField } from '../../components/FormFields';
import { PlacementTable } from '../../components/PlacementTable';
import { useSubmit } from '../../components/use-submit';

export function StartOnDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const offered = startPlacementOffered(useApiCatalog((s) => s.apis));
  const [chosen, setChosen] = useState<StartPlacement>({});
  const [done, setDone] = useState<VmResult>();
  const [refused, setRefused] = useState<Placement>();
  const { busy, error, run } = useSubmit();
  const zone = vm.zoneid ? { zoneid: vm.zoneid } : undefined;
  const pods = useApiList<Named>('listPods', 'pod', offered.includes('podid') ? zone : undefined);
  const clusters = useApiList<Named>('listClusters', 'cluster', offered.includes('clusterid') && zone ? { ...zone, podid: chosen.podid } : undefined);
  const hosts = useApiList<Named & { state?: string }>('listHosts', 'host', offered.includes('hostid') && zone ? { ...zone, podid: chosen.podid, clusterid: chosen.clusterid } : undefined);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setRefused(undefined);
    void run(async () => {
      const after = await runVmChange(vm, 'startVirtualMachine', startOnParams(vm, chosen), setRefused);
      setDone(after);
      return `${name} started on ${after.hostname ?? '?'}`;
    });
  };

  if (done) {
    return (
      <OutcomeModal title={`Start ${name} on…`} onClose={onClose} wide more={done.placement && <PlacementTable placement={done.placement} chosen={done.hostname} label="Placement explained" />}>
        {name} is {done.state} on <strong>{done.hostname ?? '?'}</strong>.
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`Start ${name} on…`} onClose={onClose} wide={refused !== undefined}>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">Leave a field on Any to let the planner choose within what is set. The planner still checks capacity, tags and affinity on the place chosen.</p>
        {offered.includes('podid') && (
          <SelectField label="Pod" value={chosen.podid ?? ''} onChange={(podid) => setChosen({ podid: podid || undefined })} options={pods.items} placeholder="Any" />
        )}
        {offered.includes('clusterid') && (
          <SelectField label="Cluster" value={chosen.clusterid ?? ''} onChange={(clusterid) => setChosen({ podid: chosen.podid, clusterid: clusterid || undefined })} options={clusters.items} placeholder="Any" />
        )}
        {offered.includes('hostid') && (
          <SelectField
            label="Host"
            value={chosen.hostid ?? ''}
            onChange={(hostid) => setChosen({ ...chosen, hostid: hostid || undefined })}
            options={hosts.items.map((h) => ({ id: h.id, name: `${h.name}${h.state && h.state !== 'Up' ? ` (${h.state})` : ''}${h.id === vm.hostid ? ' (its last host)' : ''}` }))}
            placeholder="Any"
          />
        )}
        <ApiErrorText error={refusalSummary(error, refused)} />
        {refused && <PlacementTable placement={refused} label="Hosts refused" />}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

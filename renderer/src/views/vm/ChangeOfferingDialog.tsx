/**
 * A new service offering for a VM: on a stopped VM changeServiceForVirtualMachine (applies at
 * the next start, R15), on a running one scaleVirtualMachine (live, R16), which migrates the VM
 * within its cluster first when its host lacks room (R17): the outcome then says so and shows
 * the engine's placement explanation. The offerings offered are the engine's answer to
 * listServiceOfferings virtualmachineid: never the current one, and for a running VM only those
 * a live scale accepts.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type Placement, type ServiceOffering, type Vm } from '../../api/model';
import { runVmChange } from './run-vm-change';
import { customSizeParams, customSizeProblems, asksCpuSpeed, rangeHint, type CustomSize } from '../../api/custom-offering';
import { offeringOutcomeText, outcomeOf, type ChangeOutcome, refusalSummary } from '../../actions/vm-changes';
import { Modal, ApiErrorText } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';
import { SelectField, TextField } from '../../components/FormFields';
import { PlacementTable } from '../../components/PlacementTable';
import { useSubmit } from '../../components/use-submit';

const sizeOf = (o: ServiceOffering) => (o.iscustomized ? 'custom size' : `${o.cpunumber ?? '?'} vCPU, ${o.memory ?? '?'} MB`);

export function ChangeOfferingDialog({ vm, live, onClose }: { vm: Vm; live: boolean; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const [offerings, setOfferings] = useState<ServiceOffering[]>();
  const [offeringId, setOfferingId] = useState('');
  const [size, setSize] = useState<CustomSize>({ cpuNumber: String(vm.cpunumber ?? ''), memory: String(vm.memory ?? ''), cpuSpeed: String(vm.cpuspeed ?? '') });
  const [outcome, setOutcome] = useState<ChangeOutcome>();
  const [refused, setRefused] = useState<Placement>();
  const { busy, error, setError, run } = useSubmit();
  useEffect(() => {
    kiln.invoke('listServiceOfferings', { virtualmachineid: vm.id }).then(
      (r) => setOfferings(listOf<ServiceOffering>(r, 'serviceoffering')),
      (e: unknown) => setError(shownError(e)),
    );
  }, [vm.id]);
  const offering = offerings?.find((o) => o.id === offeringId);
  const problems = customSizeProblems(offering, size);
  const verb = live ? 'Scale' : 'Change offering';

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!offering || problems.length > 0) return;
    setRefused(undefined);
    void run(async () => {
      const after = await runVmChange(vm, live ? 'scaleVirtualMachine' : 'changeServiceForVirtualMachine', { id: vm.id, serviceofferingid: offering.id, ...customSizeParams(offering, size) }, setRefused);
      const result = outcomeOf(vm, after);
      setOutcome(result);
      return offeringOutcomeText(result, live);
    });
  };

  if (outcome) {
    return (
      <OutcomeModal title={`${verb}: ${name}`} onClose={onClose} wide={outcome.moved} more={outcome.moved && outcome.vm.placement && <PlacementTable placement={outcome.vm.placement} chosen={outcome.vm.hostname} label="Why it moved" />}>
        {offeringOutcomeText(outcome, live)}
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`${verb}: ${name}`} onClose={onClose} wide={refused !== undefined}>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">
          Now: <strong>{vm.serviceofferingname ?? '?'}</strong> ({vm.cpunumber ?? '?'} vCPU, {vm.memory ?? '?'} MB).{' '}
          {live
            ? `${name} keeps running. If its host lacks room for the new size, it is first migrated live to a host in its cluster that has it.`
            : 'The new CPU and memory apply at the next start. Memory snapshots of the VM are deleted.'}
        </p>
        {offerings === undefined && !error && <p className="muted">Loading offerings…</p>}
        {offerings?.length === 0 && (
          <p className="empty">
            {live
              ? `The engine offers no offering ${name} can be scaled to while running. Live scaling needs enable.dynamic.scale.vm in the zone and a dynamically scalable VM, and only grows a VM; stop it to change its offering freely.`
              : `There is no other offering for ${name}.`}
          </p>
        )}
        {offerings && offerings.length > 0 && (
          <SelectField
            label="New offering"
            value={offeringId}
            onChange={setOfferingId}
            required
            options={offerings.map((o) => ({ id: o.id, name: `${o.name} (${sizeOf(o)})` }))}
          />
        )}
        {offering?.iscustomized && (
          <fieldset className="fieldset">
            <legend>Size (custom offering)</legend>
            <TextField label={`CPU cores${rangeHint(offering, 'cpunumber')}`} value={size.cpuNumber} onChange={(cpuNumber) => setSize({ ...size, cpuNumber })} />
            <TextField label={`Memory (MiB)${rangeHint(offering, 'memory')}`} value={size.memory} onChange={(memory) => setSize({ ...size, memory })} />
            {asksCpuSpeed(offering) && <TextField label="CPU speed (MHz)" value={size.cpuSpeed} onChange={(cpuSpeed) => setSize({ ...size, cpuSpeed })} />}
          </fieldset>
        )}
        {offering && problems.length > 0 && <p className="hint error">{problems.join(' ')}</p>}
        <ApiErrorText error={refusalSummary(error, refused)} />
        {refused && <PlacementTable placement={refused} label="Hosts refused" />}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !offering || problems.length > 0}>
            {busy ? (live ? 'Scaling…' : 'Changing…') : verb}
          </button>
        </div>
      </form>
    </Modal>
  );
}

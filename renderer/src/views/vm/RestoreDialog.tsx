/**
 * Reinstall a VM (restoreVirtualMachine, R29; CloudStack's UI says "Reinstall Instance"): its root disk is destroyed and made again, from
 * the image it has (no templateid) or from another one of the same kind: a VM made from a
 * template takes a template, one made from an ISO an ISO (the engine refuses the other with 431).
 */
import { useState, type FormEvent } from 'react';
import type { Named, Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { runQuietly } from '../../api/run-job';
import { restoreParams, vmOf, type VmResult } from '../../actions/vm-changes';
import { useVms } from '../../stores/vm-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';
import { SelectField } from '../../components/FormFields';
import { useSubmit } from '../../components/use-submit';

export function RestoreDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  // The engine's own test for "made from an ISO": no template (the ISO may have been detached since).
  const fromIso = vm.templateid === undefined;
  const kind = fromIso ? 'ISO' : 'template';
  const current = fromIso ? vm.isoname : vm.templatename;
  const currentId = fromIso ? vm.isoid : vm.templateid;
  const images = useApiList<Named>(fromIso ? 'listIsos' : 'listTemplates', fromIso ? 'iso' : 'template', fromIso ? { isofilter: 'executable', zoneid: vm.zoneid } : { templatefilter: 'executable', zoneid: vm.zoneid });
  const [source, setSource] = useState<'same' | 'other'>('same');
  const [imageId, setImageId] = useState('');
  const [done, setDone] = useState<VmResult>();
  const { busy, error, run } = useSubmit();
  const others = images.items.filter((i) => i.id !== currentId);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      try {
        const after = vmOf(await runQuietly('restoreVirtualMachine', restoreParams(vm, source === 'other' ? imageId : undefined))) ?? vm;
        setDone(after);
        return `${name} was reinstalled from ${(fromIso ? after.isoname : after.templatename) ?? '?'}`;
      } finally {
        void useVms.getState().reloadOne(vm.id);
      }
    });
  };

  if (done) {
    return (
      <OutcomeModal title={`Reinstall ${name}`} onClose={onClose}>
        {name} has a new root disk from {kind} <strong>{(fromIso ? done.isoname : done.templatename) ?? '?'}</strong>; it is {done.state}.
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`Reinstall ${name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">
          The root disk of {name} is destroyed and made again; everything written to it is lost. Data disks stay.
          {vm.state === 'Running' ? ` ${name} is stopped for it and started again.` : ''}
        </p>
        <fieldset className="fieldset">
          <legend>Reinstall from</legend>
          <label className="check">
            <input type="radio" name="restore-source" checked={source === 'same'} onChange={() => setSource('same')} />
            Its current {kind}: {current ?? 'unknown'}
          </label>
          <label className="check">
            <input type="radio" name="restore-source" checked={source === 'other'} onChange={() => setSource('other')} disabled={others.length === 0 && !images.loading} />
            Another {kind}
          </label>
        </fieldset>
        {source === 'other' && (
          <SelectField label={fromIso ? 'ISO' : 'Template'} value={imageId} onChange={setImageId} options={others} required placeholder={images.loading ? 'Loading…' : 'Choose…'} />
        )}
        {images.error && <p className="hint error">{images.error}</p>}
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy || (source === 'other' && !imageId)}>
            {busy ? 'Reinstalling…' : 'Reinstall'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

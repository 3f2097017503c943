/**
 * Attach an ISO to a VM (attachIso): one of the ISOs of the VM's zone that are ready (downloaded
 * into the image store). A running VM gets it in its CD-ROM drive at once, a stopped one at its
 * next start. Offered while the drive is empty, in the states listApis gives attachIso.
 */
import { useState, type FormEvent } from 'react';
import type { Named, Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { runQuietly } from '../../api/run-job';
import { useVms } from '../../stores/vm-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { SelectField } from '../../components/FormFields';
import { useSubmit } from '../../components/use-submit';

export function AttachIsoDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const isos = useApiList<Named & { isready?: boolean }>('listIsos', 'iso', { isofilter: 'executable', zoneid: vm.zoneid });
  const ready = isos.items.filter((i) => i.isready);
  const [isoId, setIsoId] = useState('');
  const { busy, error, run } = useSubmit(onClose);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const iso = ready.find((i) => i.id === isoId);
    void run(async () => {
      try {
        await runQuietly('attachIso', { id: isoId, virtualmachineid: vm.id });
      } finally {
        void useVms.getState().reloadOne(vm.id);
      }
      return `ISO ${iso?.name ?? isoId} attached to ${name}${vm.state === 'Running' ? '' : '; it is in the drive from the next start'}`;
    });
  };
  return (
    <Modal title={`Attach an ISO to ${name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <p className="hint">{vm.state === 'Running' ? `The ISO goes into the CD-ROM drive of ${name} now.` : `The ISO is in the CD-ROM drive of ${name} from its next start.`}</p>
        {ready.length === 0 && !isos.loading && <p className="empty">No ISO of this zone is ready. Register one on the <a href="#/images">Images</a> page and wait for its download.</p>}
        <SelectField label="ISO" value={isoId} onChange={setIsoId} options={ready} required placeholder={isos.loading ? 'Loading…' : 'Choose…'} />
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || isoId === ''}>
            {busy ? 'Attaching…' : 'Attach ISO'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * Reset a stopped VM's SSH keys (resetSSHKeyForVirtualMachine, R60): choose one or more of the
 * account's key pairs; the guest reads them at its next boot. Offered only in the states the
 * engine's listApis gives the command (Stopped).
 */
import { useState, type FormEvent } from 'react';
import type { KeyPair, Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { runQuietly } from '../../api/run-job';
import { useVms } from '../../stores/vm-store';
import { Modal, ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';

export function ResetSshKeyDialog({ vm, onClose }: { vm: Vm; onClose(): void }) {
  const name = vm.displayname || vm.name;
  const keys = useApiList<KeyPair>('listSSHKeyPairs', 'sshkeypair', {});
  const current = vm.keypairs ? vm.keypairs.split(',') : [];
  const [chosen, setChosen] = useState<string[]>([]);
  const { busy, error, run } = useSubmit(onClose);
  // Only the VM's own account's key pairs can be given to it.
  const offered = keys.items.filter((k) => !vm.account || !k.account || k.account === vm.account);
  const toggle = (key: string, on: boolean) => setChosen((c) => (on ? [...c, key] : c.filter((x) => x !== key)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await runQuietly('resetSSHKeyForVirtualMachine', { id: vm.id, keypairs: chosen.join(',') });
      void useVms.getState().reloadOne(vm.id);
      return `SSH keys of ${name} reset to ${chosen.join(', ')}; the guest gets them at its next boot`;
    });
  };
  return (
    <Modal title={`Reset the SSH keys of ${name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <p className="hint">Now: {current.length > 0 ? current.join(', ') : 'no key pair'}.</p>
        {offered.length === 0 && !keys.loading && <p className="empty">The account has no key pairs. Create or register one on the SSH keys page.</p>}
        <fieldset className="choice-list">
          <legend>Key pairs to give the VM</legend>
          {offered.map((k) => (
            <label key={k.id} className="check">
              <input type="checkbox" checked={chosen.includes(k.name)} onChange={(e) => toggle(k.name, e.target.checked)} /> {k.name} <code className="muted">{k.fingerprint}</code>
            </label>
          ))}
        </fieldset>
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || chosen.length === 0}>
            {busy ? 'Resetting…' : 'Reset SSH keys'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** The one open VM change dialog (offering or scale, migrate, restore, start on…), rendered once in the frame. */
import { useVmDialog } from '../../stores/vm-dialog-store';
import { ChangeOfferingDialog } from './ChangeOfferingDialog';
import { MigrateDialog } from './MigrateDialog';
import { RestoreDialog } from './RestoreDialog';
import { StartOnDialog } from './StartOnDialog';
import { ResetSshKeyDialog } from './ResetSshKeyDialog';
import { AttachIsoDialog } from './AttachIsoDialog';
import { MoveStorageDialog } from './MoveStorageDialog';

export function VmDialogs() {
  const { vm, kind, close } = useVmDialog();
  if (!vm || !kind) return null;
  const key = `${kind}:${vm.id}`;
  if (kind === 'offering' || kind === 'scale') return <ChangeOfferingDialog key={key} vm={vm} live={kind === 'scale'} onClose={close} />;
  if (kind === 'migrate') return <MigrateDialog key={key} vm={vm} onClose={close} />;
  if (kind === 'restore') return <RestoreDialog key={key} vm={vm} onClose={close} />;
  if (kind === 'reset-ssh-key') return <ResetSshKeyDialog key={key} vm={vm} onClose={close} />;
  if (kind === 'attach-iso') return <AttachIsoDialog key={key} vm={vm} onClose={close} />;
  if (kind === 'move-storage') return <MoveStorageDialog key={key} vm={vm} onClose={close} />;
  return <StartOnDialog key={key} vm={vm} onClose={close} />;
}

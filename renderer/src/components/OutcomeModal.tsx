/**
 * A VM dialog's last page once its job has finished: what happened, as one status line the
 * screen reader announces, anything that explains it (e.g. the placement table), and Close.
 * The change-offering, migrate, start-on and restore dialogs end with it.
 */
import type { ReactNode } from 'react';
import { Modal } from './Modal';

export function OutcomeModal({ title, onClose, wide, children, more }: { title: string; onClose(): void; wide?: boolean; children: ReactNode; more?: ReactNode }) {
  return (
    <Modal title={title} onClose={onClose} wide={wide}>
      <div className="dialog-form">
        <p role="status" className="change-outcome">
          {children}
        </p>
        {more}
        <div className="dialog-buttons">
          <button type="button" className="primary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </Modal>
  );
}

/**
 * A modal form (a native <dialog> opened with showModal: focus stays inside, Escape closes).
 * Rendered only while open; the caller owns the open state.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react';

export function Modal({ title, onClose, children, wide }: { title: string; onClose(): void; children: ReactNode; wide?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const el = dialog.current!;
    if (!el.open) el.showModal();
    return () => {
      if (el.open) el.close();
    };
  }, []);
  return (
    <dialog
      ref={dialog}
      className={wide ? 'dialog modal wide' : 'dialog modal'}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <div className="modal-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="link-button modal-close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** An API refusal inside a form: the code (534, 431, …) and the engine's words. */
export function ApiErrorText({ error, prefix }: { error?: { code?: number; text: string }; prefix?: string }) {
  if (!error) return null;
  return (
    <div role="alert" className="error-panel form-error">
      <p>
        {prefix && <strong>{prefix} </strong>}
        {error.code !== undefined && <span className="error-code">{error.code}: </span>}
        {error.text}
      </p>
    </div>
  );
}

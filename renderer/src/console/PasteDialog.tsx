/**
 * Types text into the console as keystrokes (a serial line has no clipboard): in small chunks,
 * newlines as Enter. A console that types at its own pace returns a promise per chunk.
 */
import { useEffect, useRef, useState } from 'react';

export function PasteDialog({ onClose, onType }: { onClose(): void; onType(data: string): void | Promise<void> }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState('');
  const [typing, setTyping] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const type = async () => {
    setTyping(true);
    const keys = text.replace(/\r?\n/g, '\r');
    for (let i = 0; i < keys.length; i += 32) {
      await onType(keys.slice(i, i + 32));
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    setTyping(false);
    onClose();
  };
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="paste-title" onCancel={onClose}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); void type(); }}>
        <h2 id="paste-title">Paste as keystrokes</h2>
        <label htmlFor="paste-text">Text to type into the console</label>
        <textarea id="paste-text" rows={6} cols={60} value={text} onChange={(e) => setText(e.target.value)} autoFocus />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={typing || text === ''}>
            {typing ? 'Typing…' : 'Type it'}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * The "Send keys" menu: key combinations a browser would keep for itself. The serial console's
 * are the bytes a terminal sends: Ctrl+C is ETX, Ctrl+] is GS (virsh's detach key on a KVM
 * host), and Ctrl+Alt+Del is the xterm sequence for Delete with Ctrl and Alt (a serial line has
 * no keyboard reset). The graphical console passes its own (key presses, graphical-keys.ts).
 */
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

export const KEY_COMBOS = [
  { label: 'Ctrl+Alt+Del', bytes: '\x1b[3;7~' },
  { label: 'Ctrl+C', bytes: '\x03' },
  { label: 'Ctrl+]', bytes: '\x1d' },
];

export function KeyComboMenu<Combo extends { label: string }>({ combos, disabled, onSend }: { combos: readonly Combo[]; disabled: boolean; onSend(combo: Combo): void }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open) menu.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
  }, [open]);
  useEffect(() => {
    if (!open) return;
    const close = (event: PointerEvent) => {
      if (!menu.current?.contains(event.target as Node) && !button.current?.contains(event.target as Node)) setOpen(false);
    };
    window.addEventListener('pointerdown', close);
    return () => window.removeEventListener('pointerdown', close);
  }, [open]);
  const onKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      items[(at + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length]?.focus();
    } else if (event.key === 'Escape') {
      setOpen(false);
      button.current?.focus();
    }
  };
  return (
    <div className="menu-anchor">
      <button ref={button} type="button" aria-haspopup="menu" aria-expanded={open} disabled={disabled} onClick={() => setOpen(!open)}>
        Send keys <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div ref={menu} className="menu menu-inline" role="menu" aria-label="Send keys" onKeyDown={onKey}>
          {combos.map((combo) => (
            <button
              key={combo.label}
              type="button"
              role="menuitem"
              tabIndex={-1}
              onClick={() => {
                setOpen(false);
                onSend(combo);
              }}
            >
              {combo.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

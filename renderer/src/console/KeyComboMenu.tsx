/**
 * The "Send keys" menu: key combinations a browser would keep for itself. The serial console's
 * are the bytes a terminal sends: Ctrl+C is ETX, Ctrl+] is GS (virsh's detach key on a KVM
 * host), and Ctrl+Alt+Del is the xterm sequence for Delete with Ctrl and Alt (a serial line has
 * no keyboard reset). The graphical console passes its own (key presses, graphical-keys.ts).
 * The menu itself is the shared MenuButton, under its button in the console's toolbar.
 */
import { MenuButton, MenuItem } from '../components/MenuButton';

export const KEY_COMBOS = [
  { label: 'Ctrl+Alt+Del', bytes: '\x1b[3;7~' },
  { label: 'Ctrl+C', bytes: '\x03' },
  { label: 'Ctrl+]', bytes: '\x1d' },
];

export function KeyComboMenu<Combo extends { label: string }>({ combos, disabled, onSend }: { combos: readonly Combo[]; disabled: boolean; onSend(combo: Combo): void }) {
  return (
    <MenuButton
      placement="inline"
      menuLabel="Send keys"
      disabled={disabled}
      items={() =>
        combos.map((combo) => (
          <MenuItem key={combo.label} onSelect={() => onSend(combo)}>
            {combo.label}
          </MenuItem>
        ))
      }
    >
      Send keys <span aria-hidden="true">▾</span>
    </MenuButton>
  );
}

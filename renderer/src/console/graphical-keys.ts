/**
 * Keys for the graphical console, as RFB key events (X11 keysyms, plus the physical key's
 * KeyboardEvent.code so noVNC can send QEMU's exact scancodes): the combinations a browser or the
 * desktop would keep for itself, and text pasted as typed keys (a VNC display has no clipboard the
 * guest's console reads).
 */

/** One RFB key event: keysym, the physical key (or null: the server maps the keysym), pressed or released. */
export type KeyEvent = [keysym: number, code: string | null, down: boolean];

const KEY = {
  Control: [0xffe3, 'ControlLeft'],
  Alt: [0xffe9, 'AltLeft'],
  Shift: [0xffe1, 'ShiftLeft'],
  Super: [0xffeb, 'MetaLeft'],
  Delete: [0xffff, 'Delete'],
  Backspace: [0xff08, 'Backspace'],
  Tab: [0xff09, 'Tab'],
  Enter: [0xff0d, 'Enter'],
  Escape: [0xff1b, 'Escape'],
  F1: [0xffbe, 'F1'],
  F2: [0xffbf, 'F2'],
  F4: [0xffc1, 'F4'],
  F7: [0xffc4, 'F7'],
} as const satisfies Record<string, readonly [number, string]>;

type KeyName = keyof typeof KEY;

/** Presses KEYS in order and releases them in reverse, as a hand on a keyboard does. */
function chord(...keys: KeyName[]): KeyEvent[] {
  return [...keys.map((k): KeyEvent => [KEY[k][0], KEY[k][1], true]), ...[...keys].reverse().map((k): KeyEvent => [KEY[k][0], KEY[k][1], false])];
}

export interface GraphicalCombo {
  label: string;
  events: KeyEvent[];
}

export const GRAPHICAL_COMBOS: readonly GraphicalCombo[] = [
  { label: 'Ctrl+Alt+Del', events: chord('Control', 'Alt', 'Delete') },
  { label: 'Ctrl+Alt+Backspace', events: chord('Control', 'Alt', 'Backspace') },
  { label: 'Ctrl+Alt+F1', events: chord('Control', 'Alt', 'F1') },
  { label: 'Ctrl+Alt+F2', events: chord('Control', 'Alt', 'F2') },
  { label: 'Ctrl+Alt+F7', events: chord('Control', 'Alt', 'F7') },
  { label: 'Alt+Tab', events: chord('Alt', 'Tab') },
  { label: 'Alt+F4', events: chord('Alt', 'F4') },
  { label: 'Windows key', events: chord('Super') },
  { label: 'Escape', events: chord('Escape') },
];

/** Characters a US keyboard types with Shift held: the server maps the keysym to the key, not the Shift. */
const SHIFTED = /[A-Z~!@#$%^&*()_+{}|:"<>?]/;

/** The key events that type TEXT, one group per character: newlines as Enter, tabs as Tab, others by their keysym. */
export function typedKeys(text: string): KeyEvent[][] {
  const keys: KeyEvent[][] = [];
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    if (ch === '\n') keys.push(chord('Enter'));
    else if (ch === '\t') keys.push(chord('Tab'));
    else {
      const point = ch.codePointAt(0)!;
      if (point < 0x20 || point === 0x7f) continue;
      // Latin-1 keysyms are the code point; any other character is 0x01000000 + its code point (X11).
      const keysym = point < 0x100 ? point : 0x01000000 + point;
      const press: KeyEvent[] = [[keysym, null, true], [keysym, null, false]];
      keys.push(SHIFTED.test(ch) ? [[KEY.Shift[0], KEY.Shift[1], true], ...press, [KEY.Shift[0], KEY.Shift[1], false]] : press);
    }
  }
  return keys;
}

/**
 * The graphical console's keys (renderer/src/console/graphical-keys.ts): pasted text becomes one
 * group of RFB key events per character, with Shift held around the characters a US keyboard
 * types with Shift (the server maps a keysym to its key, not to the Shift), newlines as Enter and
 * non-Latin-1 characters as X11 Unicode keysyms; the menu's chords press in order and release in
 * reverse.
 */
import { describe, expect, it } from 'vitest';
import { GRAPHICAL_COMBOS, typedKeys } from '../../renderer/src/console/graphical-keys.js';

const SHIFT_DOWN = [0xffe1, 'ShiftLeft', true];
const SHIFT_UP = [0xffe1, 'ShiftLeft', false];

describe('graphical console keys', () => {
  it('types text as keysyms, one group per character, with Shift around capitals and shifted symbols', () => {
    expect(typedKeys('a$\nП')).toEqual([
      [[0x61, null, true], [0x61, null, false]],
      [SHIFT_DOWN, [0x24, null, true], [0x24, null, false], SHIFT_UP],
      [[0xff0d, 'Enter', true], [0xff0d, 'Enter', false]],
      [[0x0100041f, null, true], [0x0100041f, null, false]],
    ]);
    expect(typedKeys('K')[0]).toEqual([SHIFT_DOWN, [0x4b, null, true], [0x4b, null, false], SHIFT_UP]);
    // The paste dialog sends \r for a newline; CRLF is one Enter, and other control characters are dropped.
    expect(typedKeys('x\r\ny\r\u0007')).toHaveLength(4);
  });

  it('offers Ctrl+Alt+Del and other chords, pressed in order and released in reverse', () => {
    const cad = GRAPHICAL_COMBOS.find((c) => c.label === 'Ctrl+Alt+Del')!;
    expect(cad.events).toEqual([
      [0xffe3, 'ControlLeft', true], [0xffe9, 'AltLeft', true], [0xffff, 'Delete', true],
      [0xffff, 'Delete', false], [0xffe9, 'AltLeft', false], [0xffe3, 'ControlLeft', false],
    ]);
    expect(GRAPHICAL_COMBOS.map((c) => c.label)).toEqual(expect.arrayContaining(['Ctrl+Alt+Backspace', 'Ctrl+Alt+F1', 'Ctrl+Alt+F2', 'Alt+Tab']));
  });
});

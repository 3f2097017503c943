/**
 * Every remote command line is built by drivers/kvm/shell.ts. These tests run the quoted lines
 * through real shells and check that each argument arrives byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { command, script, shellQuote } from '../../drivers/kvm/shell.js';
import { DriverError } from '../../drivers/types.js';
import { HOSTILE_WORDS } from '../helpers/hostile-words.js';

/** The words both quotings must carry, and what only a shell line can: newlines, tabs, control characters, globs, unicode. */
const HOSTILE = [
  ...HOSTILE_WORDS,
  '`touch /tmp/kiln-pwned`',
  '${HOME}',
  '$HOME',
  'a && b || c',
  'a | b',
  'a > /tmp/x',
  '< /etc/passwd',
  'line1\nline2',
  '\n',
  'tab\there',
  'carriage\rreturn',
  '-rf',
  '*',
  '?',
  '[a-z]',
  '~',
  '~root',
  '!event',
  '\\\\\'',
  'trailing\\',
  'ünïcödé ✓ 日本語 🚀',
  '\u00a0nbsp\u00a0',
  'a\u0001b\u007f',
  "'; rm -rf / #",
  '"; rm -rf / #',
  "$'\\x41'",
  '%s %n',
  '{a,b}',
  'x=1',
];

const SHELLS = ['/bin/sh', '/bin/bash', '/bin/dash', '/bin/busybox'].filter((s) => existsSync(s));

/** Runs `printf '%s\0' ARGS…` through SHELL and returns the arguments it received. */
function roundTrip(shell: string, args: string[]): string[] {
  const line = command(['printf', '%s\\0', ...args]);
  const argv = shell === '/bin/busybox' ? ['sh', '-c', line] : ['-c', line];
  const out = execFileSync(shell, argv, { encoding: 'buffer' });
  const parts = out.toString('utf8').split('\0');
  parts.pop(); // after the last NUL
  return parts;
}

describe('shellQuote / command', () => {
  for (const shell of SHELLS) {
    it(`passes hostile arguments through ${shell} unchanged`, () => {
      expect(roundTrip(shell, HOSTILE)).toEqual(HOSTILE);
      expect(existsSync('/tmp/kiln-pwned')).toBe(false);
    });
  }

  it('passes each hostile argument alone, too (no reliance on neighbours)', () => {
    for (const arg of HOSTILE) expect(roundTrip('/bin/sh', [arg])).toEqual([arg]);
  });

  it('leaves plain words readable and quotes everything else', () => {
    expect(shellQuote('virsh')).toBe('virsh');
    expect(shellQuote('qemu:///system')).toBe('qemu:///system');
    expect(shellQuote('/var/lib/x.qcow2')).toBe('/var/lib/x.qcow2');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(command(['virsh', 'domstate', '--domain', 'x y'])).toBe("virsh domstate --domain 'x y'");
  });

  it('refuses NUL bytes and empty commands', () => {
    expect(() => shellQuote('a\0b')).toThrow(DriverError);
    expect(() => command([])).toThrow(DriverError);
  });

  it('hands script parameters over as "$1"… without re-parsing them', () => {
    const line = script('for a in "$@"; do printf "%s\\0" "$a"; done', HOSTILE);
    const out = execFileSync('/bin/sh', ['-c', line], { encoding: 'buffer' }).toString('utf8').split('\0');
    out.pop();
    expect(out).toEqual(HOSTILE);
  });
});

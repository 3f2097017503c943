/** The Electron master key: safeStorage wraps it, and a Linux basic_text backend does not count as protection. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SafeStorage } from 'electron';
import { SafeStorageMasterKey } from '../../main/electron/master-key.js';

/** A stand-in for Electron's safeStorage: "encrypts" by reversing and tagging, so wrapped bytes differ from the key. */
function fakeSafeStorage(backend: string, available = true): SafeStorage {
  return {
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: () => backend,
    encryptString: (plain: string) => Buffer.from(`wrapped:${[...plain].reverse().join('')}`),
    decryptString: (wrapped: Buffer) => [...wrapped.toString().replace(/^wrapped:/, '')].reverse().join(''),
  } as unknown as SafeStorage;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('SafeStorageMasterKey', () => {
  it.skipIf(process.platform !== 'linux')('is not used on a Linux basic_text backend, nor when encryption is unavailable', () => {
    expect(SafeStorageMasterKey.usable(fakeSafeStorage('basic_text'))).toBe(false);
    expect(SafeStorageMasterKey.usable(fakeSafeStorage('gnome_libsecret', false))).toBe(false);
    expect(SafeStorageMasterKey.usable(fakeSafeStorage('gnome_libsecret'))).toBe(true);
  });

  it('keeps only the wrapped key on disk (mode 0600) and gives back the same key on the next start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-key-'));
    dirs.push(dir);
    const file = join(dir, 'master.key.safe');
    const first = new SafeStorageMasterKey(fakeSafeStorage('gnome_libsecret'), file).load();
    expect(first).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const onDisk = readFileSync(file);
    expect(onDisk.toString()).toMatch(/^wrapped:/);
    expect(onDisk.includes(first.toString('base64'))).toBe(false);
    const again = new SafeStorageMasterKey(fakeSafeStorage('gnome_libsecret'), file).load();
    expect(again.equals(first)).toBe(true);
  });
});

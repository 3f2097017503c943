/** The Electron shell without Electron: the master key wrapped by safeStorage (a Linux basic_text backend is not trusted), and the main window's options. */
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

describe('the main window', () => {
  it('isolates and sandboxes the renderer, without Node, and keeps the saved bounds', async () => {
    const { mainWindowOptions } = await import('../../main/electron/window-options.js');
    const options = mainWindowOptions({ width: 1400, height: 900, x: 10, y: 20, maximized: true }, '/app/preload.cjs');
    expect(options.webPreferences).toEqual({ preload: '/app/preload.cjs', contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(options).toMatchObject({ width: 1400, height: 900, x: 10, y: 20, show: false });
    expect(options).not.toHaveProperty('maximized');
  });
});

/**
 * The master key under Electron: wrapped by safeStorage (Keychain, DPAPI, libsecret/kwallet).
 * On Linux without a keyring safeStorage falls back to `basic_text`, which is not protection;
 * then the key is kept only if the user agrees, as a 0600 file like the plain-Node one.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { SafeStorage } from 'electron';
import { FileMasterKey, type MasterKeySource } from '../engine/secrets.js';

export class SafeStorageMasterKey implements MasterKeySource {
  readonly description = 'OS keychain (Electron safeStorage)';

  constructor(
    private readonly safeStorage: SafeStorage,
    private readonly wrappedFile: string,
  ) {}

  static usable(safeStorage: SafeStorage): boolean {
    if (!safeStorage.isEncryptionAvailable()) return false;
    return process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text';
  }

  load(): Buffer {
    if (existsSync(this.wrappedFile)) {
      return Buffer.from(this.safeStorage.decryptString(readFileSync(this.wrappedFile)), 'base64');
    }
    const key = randomBytes(32);
    writeFileSync(this.wrappedFile, this.safeStorage.encryptString(key.toString('base64')), { mode: 0o600 });
    return key;
  }
}

export { FileMasterKey };

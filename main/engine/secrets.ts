/**
 * Secrets at rest (API secret keys, host passwords, private keys) are sealed with AES-256-GCM
 * under a master key; the database never holds them in plain text. Where the master key comes
 * from is the platform's business: Electron wraps it with safeStorage (the OS keychain), plain
 * Node keeps it in a 0600 file beside the database or takes KILN_MASTER_KEY, the way CloudStack
 * keeps its database key in a root-only file.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface MasterKeySource {
  /** Returns the 32-byte master key, creating it on first use. */
  load(): Buffer;
  readonly description: string;
}

export class FileMasterKey implements MasterKeySource {
  constructor(private readonly file: string) {}

  get description(): string {
    return process.env['KILN_MASTER_KEY'] ? 'KILN_MASTER_KEY environment variable' : `key file ${this.file} (mode 0600)`;
  }

  load(): Buffer {
    const fromEnv = process.env['KILN_MASTER_KEY'];
    if (fromEnv) {
      const key = Buffer.from(fromEnv, 'base64');
      if (key.length !== 32) throw new Error('KILN_MASTER_KEY must be 32 bytes, base64-encoded');
      return key;
    }
    if (existsSync(this.file)) {
      const key = Buffer.from(readFileSync(this.file, 'utf8').trim(), 'base64');
      if (key.length !== 32) throw new Error(`master key file ${this.file} is damaged`);
      return key;
    }
    const key = randomBytes(32);
    writeFileSync(this.file, key.toString('base64') + '\n', { mode: 0o600 });
    chmodSync(this.file, 0o600);
    return key;
  }
}

const PREFIX = 'v1:';

export class SecretBox {
  private readonly key: Buffer;

  constructor(source: MasterKeySource) {
    this.key = source.load();
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string): string {
    if (!sealed.startsWith(PREFIX)) throw new Error('not a sealed secret');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

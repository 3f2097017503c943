/**
 * OpenSSH public keys (R59): generating an RSA pair, reading and checking the `type base64 [comment]`
 * line users register, and the colon-hex MD5 fingerprint CloudStack shows (what
 * `ssh-keygen -l -E md5` prints after `MD5:`). Each key is checked by node:crypto itself, so a
 * point off its curve or a broken modulus is refused, not just a bad line.
 */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ApiError } from '../registry/errors.js';
import type { ParamRule } from '../registry/param-rules.js';

const ECDSA_CURVES: Record<string, { curve: string; jwk: string; bytes: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', jwk: 'P-256', bytes: 32 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', jwk: 'P-384', bytes: 48 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', jwk: 'P-521', bytes: 66 },
};
export const PUBLIC_KEY_TYPES = ['ssh-rsa', 'ssh-ed25519', ...Object.keys(ECDSA_CURVES)];
const MIN_RSA_BITS = 1024;

/**
 * The shape of an OpenSSH public key line, published by listApis so the UI refuses a pasted PEM
 * or private key with the engine's words; parsePublicKey then checks the key itself.
 */
export const OPENSSH_PUBLIC_KEY_RULE: ParamRule = {
  pattern: '^\\s*(?:ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521))\\s+[A-Za-z0-9+/]+={0,2}(?:\\s[^\\r\\n]*)?\\s*$',
  message: 'Public key is invalid: not an OpenSSH public key line (ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521, then the base64 key data, as in a .pub file)',
};
export const GENERATED_RSA_BITS = 2048;

/** A parsed OpenSSH public key: its type and wire blob, and the line Kiln stores and hands guests. */
export interface PublicKey {
  type: string;
  blob: Buffer;
  /** `type base64`, without the comment: comments are free text and not part of the key. */
  line: string;
}

/** Reads SSH wire-format strings (uint32 length, bytes) from a key blob. */
class WireReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  string(): Buffer {
    if (this.at + 4 > this.buf.length) throw new Error('the key data ends early');
    const len = this.buf.readUInt32BE(this.at);
    this.at += 4;
    if (this.at + len > this.buf.length) throw new Error('the key data ends early');
    const out = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return out;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new Error('the key data has bytes past its end');
  }
}

function wireString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** An SSH mpint from an unsigned big-endian integer: no leading zeros, one zero byte if the top bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const trimmed = unsigned.subarray(i);
  return wireString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function unsignedOf(mp: Buffer): Buffer {
  if (mp.length > 0 && (mp[0]! & 0x80) !== 0) throw new Error('a negative integer in an RSA key');
  let i = 0;
  while (i < mp.length - 1 && mp[i] === 0) i++;
  return mp.subarray(i);
}

const b64url = (b: Buffer) => b.toString('base64url');

/** Checks the blob of TYPE with node:crypto; throws an Error saying what is wrong. */
function checkBlob(type: string, blob: Buffer): void {
  const r = new WireReader(blob);
  const inner = r.string().toString('latin1');
  if (inner !== type) throw new Error(`the key data says ${inner.slice(0, 40)}, the line says ${type}`);
  if (type === 'ssh-rsa') {
    const e = unsignedOf(r.string());
    const n = unsignedOf(r.string());
    r.end();
    const bits = n.length * 8 - Math.clz32(n[0] ?? 0) + 24;
    if (bits < MIN_RSA_BITS) throw new Error(`an RSA key of ${bits} bits; at least ${MIN_RSA_BITS}`);
    createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
  } else if (type === 'ssh-ed25519') {
    const x = r.string();
    r.end();
    if (x.length !== 32) throw new Error('an Ed25519 key is 32 bytes');
    createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(x) }, format: 'jwk' });
  } else {
    const curve = ECDSA_CURVES[type]!;
    const name = r.string().toString('latin1');
    if (name !== curve.curve) throw new Error(`curve ${name.slice(0, 20)} does not match ${type}`);
    const q = r.string();
    r.end();
    if (q.length !== 1 + 2 * curve.bytes || q[0] !== 4) throw new Error('the ECDSA point is not an uncompressed point of its curve');
    createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x: b64url(q.subarray(1, 1 + curve.bytes)), y: b64url(q.subarray(1 + curve.bytes)) }, format: 'jwk' });
  }
}

/** Parses an OpenSSH public key line, or throws a 431 naming PARAM. */
export function parsePublicKey(text: string, param = 'publickey'): PublicKey {
  const fields = text.trim().split(/\s+/);
  const [type = '', data = ''] = fields;
  if (!PUBLIC_KEY_TYPES.includes(type)) {
    throw ApiError.param(`${param}: Public key is invalid: not an OpenSSH public key of a known type (${PUBLIC_KEY_TYPES.join(', ')}): it starts with "${type.slice(0, 24)}"`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) throw ApiError.param(`${param}: Public key is invalid: the key data is not base64`);
  const blob = Buffer.from(data, 'base64');
  try {
    checkBlob(type, blob);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw ApiError.param(`${param}: Public key is invalid: ${why}`);
  }
  return { type, blob, line: `${type} ${data}` };
}

/** Colon-hex MD5 of the key blob, as CloudStack's fingerprint and `ssh-keygen -l -E md5` show it. */
export function fingerprintOf(key: Pick<PublicKey, 'blob'>): string {
  return createHash('md5').update(key.blob).digest('hex').match(/../g)!.join(':');
}

/**
 * A new RSA pair: the OpenSSH public line and the PEM (PKCS#1) private key, as CloudStack returns it.
 *
 * The pair comes out of the generation already encoded, and the public half is read back into a
 * key object of its own: never export() a KeyObject that generateKeyPair(Sync) returned. Node 20's
 * export holds the key's mutex while it allocates; a garbage collection then may run the
 * destructor of the finished key-generation job, which shares that mutex and waits on it: the
 * whole process hangs (seen in CI: a test worker stopped on a futex in ~KeyGenJob under
 * ExportJWK; test/unit/rsa-keygen-hang reproduces it). The encoding inside the generation runs
 * while that job is still referenced, and the key object read back shares no mutex with any job.
 */
export function generateRsaKeyPair(bits = GENERATED_RSA_BITS): { publicKey: PublicKey; privateKey: string } {
  const { publicKey: der, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'pkcs1', format: 'der' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const jwk = createPublicKey({ key: der, format: 'der', type: 'pkcs1' }).export({ format: 'jwk' });
  const blob = Buffer.concat([wireString('ssh-rsa'), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
  return { publicKey: { type: 'ssh-rsa', blob, line: `ssh-rsa ${blob.toString('base64')}` }, privateKey };
}

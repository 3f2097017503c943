/**
 * CloudStack request signing, both directions (the server verifies, `kiln api` signs).
 *
 * Canonical form: every parameter but `signature`, sorted by key (code-point order, as Java's
 * Collections.sort), each `key=value` with the value encoded the way Java's URLEncoder does
 * (bytes of a-z A-Z 0-9 . - _ * kept, every other byte %XX uppercase, space as %20), joined
 * with &, the whole string lower-cased; then HMAC (SHA-256 as Mold signs, SHA-1 as upstream
 * CloudStack signs), Base64.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureAlgorithm = 'HmacSHA256' | 'HmacSHA1';

const KEEP = /[A-Za-z0-9._*-]/;

/** Java URLEncoder.encode(value, "UTF-8").replace("+", "%20"). */
export function javaUrlEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && KEEP.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Python's urllib quote(value, safe="*") as Debian's `cs` client uses it: the same as Java's
 * rule except that `~` stays literal. Accepted so that a stock client signing a value with `~`
 * is not refused.
 */
function pythonQuote(value: string): string {
  return javaUrlEncode(value).replace(/%7E/g, '~');
}

export function canonicalString(params: Record<string, string>, encode: (value: string) => string = javaUrlEncode): string {
  return Object.keys(params)
    .filter((key) => key.toLowerCase() !== 'signature')
    .sort()
    .map((key) => `${key}=${encode(params[key] ?? '')}`)
    .join('&')
    .toLowerCase();
}

export function computeSignature(params: Record<string, string>, secret: string, algorithm: SignatureAlgorithm, encode?: (value: string) => string): string {
  const hash = algorithm === 'HmacSHA256' ? 'sha256' : 'sha1';
  return createHmac(hash, secret).update(canonicalString(params, encode), 'utf8').digest('base64');
}

/** Returns the algorithm that produced `signature`, or undefined when none of the allowed ones did. */
export function verifySignature(params: Record<string, string>, signature: string, secret: string, allowed: SignatureAlgorithm[]): SignatureAlgorithm | undefined {
  const given = Buffer.from(signature, 'utf8');
  const hasTilde = Object.values(params).some((value) => value.includes('~'));
  for (const algorithm of allowed) {
    for (const encode of hasTilde ? [javaUrlEncode, pythonQuote] : [javaUrlEncode]) {
      const expected = Buffer.from(computeSignature(params, secret, algorithm, encode), 'utf8');
      if (expected.length === given.length && timingSafeEqual(expected, given)) return algorithm;
    }
  }
  return undefined;
}

/** Parses `expires` as clients send it: ISO-8601 with a zone (`+0000`, `+00:00` or `Z`). */
export function parseExpires(value: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})$/.exec(value.trim());
  if (!m) return undefined;
  const zone = m[2] === 'Z' ? 'Z' : `${m[2]!.slice(0, 3)}:${m[2]!.slice(-2)}`;
  const t = Date.parse(`${m[1]}${zone}`);
  return Number.isNaN(t) ? undefined : t;
}

/** Signs a request the way a client does, for `kiln api` and tests. Returns the params with `signature`. */
export function signRequest(params: Record<string, string>, secret: string, algorithm: SignatureAlgorithm = 'HmacSHA256'): Record<string, string> {
  return { ...params, signature: computeSignature(params, secret, algorithm) };
}

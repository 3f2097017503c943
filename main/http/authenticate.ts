/**
 * Who is calling /client/api: a signed request (apiKey + signature, HMAC-SHA256 or HMAC-SHA1,
 * with signature version 3 `expires` checked), a login session (sessionkey), or the serve-mode
 * UI session. Anything else is 401.
 */
import type { Engine } from '../engine/engine.js';
import { ApiError } from '../engine/registry/errors.js';
import type { Caller } from '../engine/registry/types.js';
import { parseExpires, verifySignature, type SignatureAlgorithm } from '../engine/auth/signing.js';

export interface RequestCredentials {
  params: Record<string, string>;
  cookies: Record<string, string>;
  /** The serve-mode UI session, already checked by the server. */
  uiCaller?: Caller;
}

const MAX_EXPIRES_AHEAD_MS = 15 * 60 * 1000;

function param(params: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(params).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : params[key];
}

export function authenticate(engine: Engine, { params, cookies, uiCaller }: RequestCredentials): Caller {
  const apiKey = param(params, 'apikey');
  const signature = param(params, 'signature');
  if (apiKey !== undefined || signature !== undefined) {
    if (!apiKey || !signature) throw ApiError.unauthorized();
    const found = engine.accounts.byApiKey(apiKey);
    if (!found) throw ApiError.unauthorized();
    const version = param(params, 'signatureversion');
    const expires = param(params, 'expires');
    const enforce = engine.settings.bool('enforce.post.requests.and.timestamps');
    if (version === '3' || enforce) {
      if (version !== '3' || !expires) throw ApiError.unauthorized('signature version 3 with expires is required');
      const at = parseExpires(expires);
      if (at === undefined) throw ApiError.unauthorized(`expires: cannot read "${expires}" as an ISO-8601 time with a zone`);
      if (at < Date.now()) throw ApiError.unauthorized('the request has expired (expires is in the past)');
      if (enforce && at - Date.now() > MAX_EXPIRES_AHEAD_MS) throw ApiError.unauthorized('expires is more than 15 minutes ahead');
    }
    const allowed = engine.settings.list('api.signature.algorithms').filter((a): a is SignatureAlgorithm => a === 'HmacSHA256' || a === 'HmacSHA1');
    const unsigned = Object.fromEntries(Object.entries(params).filter(([k]) => k.toLowerCase() !== 'signature'));
    if (!verifySignature(unsigned, signature, found.secretKey, allowed)) throw ApiError.unauthorized();
    return found.caller;
  }
  const sessionKey = param(params, 'sessionkey') ?? cookies['sessionkey'];
  if (sessionKey) {
    const caller = engine.accounts.bySession(sessionKey, engine.settings.int('session.timeout'));
    if (!caller) throw ApiError.unauthorized('session expired or unknown; log in again');
    return caller;
  }
  if (uiCaller) return uiCaller;
  throw ApiError.unauthorized();
}

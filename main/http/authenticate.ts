/**
 * Who is calling /client/api: a signed request (apiKey + signature, HMAC-SHA256 or HMAC-SHA1,
 * with signature version 3 `expires` checked), a login session (the sessionkey parameter and
 * the sessionkey cookie login set), or the serve-mode UI session. Anything else is 401.
 */
import { timingSafeEqual } from 'node:crypto';
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

const SESSION_NEEDS_BOTH = 'unable to verify user credentials: a login session needs the sessionkey parameter as well as its cookie';

const MAX_EXPIRES_AHEAD_MS = 15 * 60 * 1000;

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

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
  // As CloudStack: a login session needs the key as a parameter and the session's cookie, both.
  // The cookie alone would let any page the browser opens call the API (CSRF); the parameter
  // alone would make a key leaked through a URL, a log or a referrer a working credential.
  const sessionKey = param(params, 'sessionkey');
  const sessionCookie = cookies['sessionkey'];
  if (sessionKey !== undefined) {
    if (!sessionKey || !sessionCookie || !sameKey(sessionKey, sessionCookie)) throw ApiError.unauthorized(SESSION_NEEDS_BOTH);
    const caller = engine.accounts.bySession(sessionKey, engine.settings.int('session.timeout'));
    if (!caller) throw ApiError.unauthorized('session expired or unknown; log in again');
    return caller;
  }
  // The serve-mode UI does not use login sessions; a stale sessionkey cookie beside it is ignored.
  if (uiCaller) return uiCaller;
  if (sessionCookie !== undefined) throw ApiError.unauthorized(SESSION_NEEDS_BOTH);
  throw ApiError.unauthorized();
}

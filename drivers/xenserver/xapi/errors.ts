/**
 * What xapi answers when a call fails, as typed values. An API failure is HTTP 200 with
 * `error: {code, message: CODE, data: [params]}` (JSON-RPC 2.0) or `error: [CODE, params…]`
 * (1.0, and hosts before about 7.3); every parameter is a string, in the order datamodel_errors.ml
 * gives (xenapi.md §1.5). Transport failures (refused, reset, a 500 with an HTML body, a reply
 * that is not JSON) are their own types, so the driver tells "xapi said no" from "xapi is gone".
 */

/** A xapi API error: its code and its string parameters, exactly as xapi sent them. */
export class XapiError extends Error {
  override name = 'XapiError';

  constructor(
    readonly code: string,
    readonly params: readonly string[],
    /** The method that failed, for messages. */
    readonly method?: string,
  ) {
    super(`${code}(${params.join(', ')})${method ? ` from ${method}` : ''}`);
  }
}

export function isXapiError(e: unknown, ...codes: string[]): e is XapiError {
  return e instanceof XapiError && (codes.length === 0 || codes.includes(e.code));
}

/** The server answered, but not in xapi's JSON-RPC shape (a 500 for a malformed call, text/xml from a pre-JSON-RPC host). */
export class XapiProtocolError extends Error {
  override name = 'XapiProtocolError';

  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The endpoint cannot be reached (refused, reset, unreachable, no answer in time). */
export class XapiConnectionError extends Error {
  override name = 'XapiConnectionError';

  constructor(
    readonly host: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${host} cannot be reached (${code}): ${detail}`);
  }
}

/** Reads an `error` member of either JSON-RPC version; undefined when there is none. */
export function errorOfReply(error: unknown, method: string): XapiError | XapiProtocolError | undefined {
  if (error === undefined || error === null) return undefined;
  if (Array.isArray(error)) {
    const [code, ...params] = error.map(String);
    return code ? new XapiError(code, params, method) : new XapiProtocolError(`${method}: an empty error array`);
  }
  if (typeof error === 'object') {
    const e = error as { message?: unknown; data?: unknown };
    if (typeof e.message === 'string') {
      const data = Array.isArray(e.data) ? e.data.map(String) : e.data === undefined || e.data === null ? [] : [String(e.data)];
      return new XapiError(e.message, data, method);
    }
  }
  return new XapiProtocolError(`${method}: an error xapi does not send: ${JSON.stringify(error).slice(0, 200)}`);
}

/**
 * The error mapping every driver of a TLS-pinned API shares (vSphere's SOAP, XenServer's xapi):
 * a DriverError passes as it is; a certificate other than the pinned one is 'host-key-changed'
 * with the thumbprint presented (the engine asks the admin, never trusts it silently); the API's
 * own errors are mapped by the driver (its fault type or error code decides, never a message);
 * an unreachable endpoint is 'unreachable'; an aborted call is 'timeout' (the contract's word for
 * a cancelled operation); anything else is 'failed'. Every message starts with what was being done.
 */
import { DriverError } from '../types.js';
import { ThumbprintMismatchError, TlsConnectError } from '../tls-trust.js';

export interface ErrorMapping {
  /** The API's own errors (a vim25 fault, an xapi error code); undefined: not one of them. */
  api(e: unknown, doing: string): DriverError | undefined;
  /** Errors of the API's own transport that mean the endpoint cannot be reached (beyond a failed TLS connect). */
  unreachable(e: unknown): boolean;
  /** How an unreachable message says it ("vCenter unreachable", "the pool master is unreachable"). */
  unreachableText: string;
  /** The message of an aborted call: the error's own, or a fixed word. */
  aborted?: (e: Error) => string;
  /** Also 'timeout': a call that ran out of time (TimeoutError, AbortSignal.timeout's). */
  timeoutsToo?: boolean;
}

/** toDriverError and mapped for one driver's mapping. */
export function driverErrors(m: ErrorMapping): { toDriverError(e: unknown, doing: string): DriverError; mapped<T>(doing: string, fn: () => Promise<T>): Promise<T> } {
  const toDriverError = (e: unknown, doing: string): DriverError => {
    if (e instanceof DriverError) return e;
    if (e instanceof ThumbprintMismatchError) return new DriverError(e.message, 'host-key-changed', { presented: { kind: 'tls-certificate', fingerprint: e.presented } });
    const own = m.api(e, doing);
    if (own) return own;
    if (e instanceof TlsConnectError || m.unreachable(e)) return new DriverError(`${doing}: ${m.unreachableText}: ${(e as Error).message}`, 'unreachable');
    if (e instanceof Error && (e.name === 'AbortError' || (m.timeoutsToo === true && e.name === 'TimeoutError'))) return new DriverError(`${doing}: ${m.aborted ? m.aborted(e) : 'cancelled'}`, 'timeout');
    return new DriverError(`${doing}: ${e instanceof Error ? e.message : String(e)}`, 'failed');
  };
  return {
    toDriverError,
    /** Runs `fn`, rethrowing whatever it throws as a DriverError. */
    async mapped<T>(doing: string, fn: () => Promise<T>): Promise<T> {
      try {
        return await fn();
      } catch (e) {
        throw toDriverError(e, doing);
      }
    },
  };
}

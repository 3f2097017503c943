/**
 * vim25 faults and connection failures as the contract's error categories, so the engine maps
 * them to API codes without knowing vSphere. The fault type decides, never the message.
 */
import { DriverError } from '../types.js';
import { SoapConnectionError, ThumbprintMismatchError, TlsConnectError, VimFault } from './soap/index.js';

type Category = DriverError['category'];

const BY_FAULT: Record<string, Category> = {
  ManagedObjectNotFound: 'not-found',
  NotFound: 'not-found',
  FileNotFound: 'not-found',
  InvalidArgument: 'invalid',
  InvalidRequest: 'invalid',
  InvalidName: 'invalid',
  DuplicateName: 'invalid',
  InvalidPowerState: 'invalid',
  InvalidState: 'invalid',
  InvalidHostState: 'invalid',
  TaskInProgress: 'invalid',
  ToolsUnavailable: 'unsupported',
  NotSupported: 'unsupported',
  NotImplemented: 'unsupported',
  MethodNotFound: 'unsupported',
  InsufficientResourcesFault: 'insufficient-capacity',
  InsufficientMemoryResourcesFault: 'insufficient-capacity',
  InsufficientCpuResourcesFault: 'insufficient-capacity',
  OutOfBounds: 'insufficient-capacity',
  HostNotConnected: 'unreachable',
  HostCommunication: 'unreachable',
  NotAuthenticated: 'unreachable',
  InvalidLogin: 'invalid',
  NoPermission: 'invalid',
  // The contract: an aborted operation rejects with 'timeout' (the task was cancelled).
  RequestCanceled: 'timeout',
  Timedout: 'timeout',
};

/** The category of a vim25 fault type (unknown ones: failed). */
export function categoryOfFault(type: string): Category {
  return BY_FAULT[type] ?? 'failed';
}

/** Any error of the SOAP layer as a DriverError naming what was being done. */
export function toDriverError(e: unknown, doing: string): DriverError {
  if (e instanceof DriverError) return e;
  if (e instanceof ThumbprintMismatchError) return new DriverError(e.message, 'host-key-changed', { presented: { kind: 'tls-certificate', fingerprint: e.presented } });
  if (e instanceof VimFault) return new DriverError(`${doing}: ${e.message}`, categoryOfFault(e.type));
  if (e instanceof SoapConnectionError || e instanceof TlsConnectError) return new DriverError(`${doing}: vCenter unreachable: ${e.message}`, 'unreachable');
  if (e instanceof Error && e.name === 'AbortError') return new DriverError(`${doing}: cancelled`, 'timeout');
  return new DriverError(`${doing}: ${e instanceof Error ? e.message : String(e)}`, 'failed');
}

/** Runs `fn`, rethrowing whatever it throws as a DriverError. */
export async function mapped<T>(doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toDriverError(e, doing);
  }
}

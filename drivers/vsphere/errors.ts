/**
 * vim25 faults and connection failures as the contract's error categories, so the engine maps
 * them to API codes without knowing vSphere. The fault type decides, never the message.
 */
import { DriverError } from '../types.js';
import { driverErrors } from '../common/driver-errors.js';
import { SoapConnectionError, VimFault } from './soap/index.js';

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

/** Any error of the SOAP layer as a DriverError naming what was being done (drivers/common/driver-errors.ts), and `mapped` around a call. */
export const { toDriverError, mapped } = driverErrors({
  api: (e, doing) => (e instanceof VimFault ? new DriverError(`${doing}: ${e.message}`, categoryOfFault(e.type)) : undefined),
  unreachable: (e) => e instanceof SoapConnectionError,
  unreachableText: 'vCenter unreachable',
});

/**
 * xapi errors and connection failures as the contract's error categories, so the engine maps them
 * to API codes without knowing xapi. The error code decides, never the message.
 */
import { DriverError } from '../types.js';
import { driverErrors } from '../common/driver-errors.js';
import { XapiConnectionError, XapiError } from './xapi/errors.js';

type Category = DriverError['category'];

const BY_CODE: Record<string, Category> = {
  HANDLE_INVALID: 'not-found',
  UUID_INVALID: 'not-found',
  VM_BAD_POWER_STATE: 'invalid',
  OTHER_OPERATION_IN_PROGRESS: 'invalid',
  VM_IS_TEMPLATE: 'invalid',
  VM_IS_SNAPSHOT: 'invalid',
  ONLY_REVERT_SNAPSHOT: 'invalid',
  OPERATION_NOT_ALLOWED: 'invalid',
  OPERATION_BLOCKED: 'invalid',
  INVALID_VALUE: 'invalid',
  MEMORY_CONSTRAINT_VIOLATION: 'invalid',
  MAP_DUPLICATE_KEY: 'invalid',
  HOST_DISABLED: 'invalid',
  SESSION_AUTHENTICATION_FAILED: 'invalid',
  VGPU_TYPE_NOT_COMPATIBLE: 'invalid',
  VM_HAS_VGPU: 'unsupported',
  VM_HAS_PCI_ATTACHED: 'unsupported',
  VM_MISSING_PV_DRIVERS: 'unsupported',
  MESSAGE_METHOD_UNKNOWN: 'unsupported',
  LICENCE_RESTRICTION: 'unsupported',
  FEATURE_RESTRICTED: 'unsupported',
  NO_HOSTS_AVAILABLE: 'insufficient-capacity',
  HOST_NOT_ENOUGH_FREE_MEMORY: 'insufficient-capacity',
  HOST_NOT_ENOUGH_PCPUS: 'insufficient-capacity',
  VM_REQUIRES_VGPU: 'insufficient-capacity',
  VM_REQUIRES_GPU: 'insufficient-capacity',
  PGPU_INSUFFICIENT_CAPACITY_FOR_VGPU: 'insufficient-capacity',
  SR_FULL: 'insufficient-capacity',
  HOST_NOT_LIVE: 'unreachable',
  HOST_OFFLINE: 'unreachable',
  HOST_STILL_BOOTING: 'unreachable',
  SESSION_INVALID: 'unreachable',
  // The contract: an aborted operation rejects with 'timeout' (the task was cancelled).
  TASK_CANCELLED: 'timeout',
};

export function categoryOfCode(code: string): Category {
  return BY_CODE[code] ?? 'failed';
}

/** Any error of the xapi layer as a DriverError naming what was being done (drivers/common/driver-errors.ts), and `mapped` around a call. */
export const { toDriverError, mapped } = driverErrors({
  api: (e, doing) => e instanceof XapiError
    ? new DriverError(`${doing}: ${e.code}${e.params.length ? ` [${e.params.join(', ')}]` : ''}`, categoryOfCode(e.code), e.code === 'SESSION_AUTHENTICATION_FAILED' ? { param: 'password' } : {})
    : undefined,
  unreachable: (e) => e instanceof XapiConnectionError,
  unreachableText: 'the pool master is unreachable',
  aborted: (e) => e.message,
  timeoutsToo: true,
});

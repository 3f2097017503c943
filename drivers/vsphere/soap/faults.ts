/**
 * Errors of the vim25 layer. A server fault is a `VimFault` named by its vim25 type
 * (InvalidLogin, NotAuthenticated, ManagedObjectNotFound, InvalidPowerState …), read from the
 * fault's xsi:type, never from its message (vcsim's messages are Go type names).
 */
import type { VimObject } from './values.js';
import { asObject, asString, type VimValue } from './values.js';

/** The faults the layer and its callers decide on; any other vim25 fault type is a string too. */
export type KnownFaultType =
  | 'InvalidLogin' | 'NotAuthenticated' | 'NoPermission' | 'ManagedObjectNotFound' | 'InvalidArgument' | 'InvalidRequest'
  | 'InvalidPowerState' | 'InvalidState' | 'InvalidHostState' | 'ToolsUnavailable' | 'TaskInProgress' | 'RequestCanceled'
  | 'DuplicateName' | 'NotFound' | 'NotSupported' | 'NotImplemented' | 'MethodNotFound' | 'InvalidCollectorVersion'
  | 'InsufficientResourcesFault' | 'DatastoreNotWritableOnHost' | 'SystemError';

export class VimFault extends Error {
  override name = 'VimFault';

  constructor(
    /** The vim25 fault type, without namespace prefix. */
    readonly type: KnownFaultType | (string & {}),
    readonly serverMessage: string,
    /** The fault object's fields (for example `obj` of ManagedObjectNotFound). */
    readonly detail: VimObject,
    /** The method that failed, or the task's method for a task's error. */
    readonly method: string,
  ) {
    super(`${method}: ${type}${serverMessage && serverMessage !== type ? `: ${serverMessage}` : ''}`);
  }

  is(type: KnownFaultType): boolean {
    return this.type === type;
  }
}

export function isVimFault(e: unknown, type?: KnownFaultType): e is VimFault {
  return e instanceof VimFault && (type === undefined || e.type === type);
}

/** A task's info.error (LocalizedMethodFault) as the same VimFault a method would throw. */
export function faultFromLocalized(error: VimValue | undefined, method: string): VimFault {
  const lmf = asObject(error);
  const fault = asObject(lmf['fault']);
  return new VimFault(fault.$type ?? 'SystemError', asString(lmf['localizedMessage']) ?? '', fault, method);
}

/** The server answered something that is not vim25 SOAP (an HTML error page, a 503 …). */
export class SoapProtocolError extends Error {
  override name = 'SoapProtocolError';

  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

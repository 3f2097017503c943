/**
 * The API command a piece of engine code is running for, without passing it down every call:
 * the registry runs each command (its parameter check, handler and job) inside `inCommand`, and
 * deep lookups that refuse an id read it back to say which command refused, as CloudStack's
 * texts do. Outside a command (a background sync, a test calling a service) there is none.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApiError } from './errors.js';

const current = new AsyncLocalStorage<string>();

export function inCommand<T>(command: string, work: () => T): T {
  return current.run(command.toLowerCase(), work);
}

export function currentCommand(): string | undefined {
  return current.getStore();
}

/** "Unable to execute API command <cmd>": CloudStack's opening of every parameter refusal. */
export function unableToExecute(command = currentCommand()): string {
  return command ? `Unable to execute API command ${command}` : 'Unable to execute API command';
}

/** The 431 for an id that names nothing the caller may see, in CloudStack's words. */
export function noSuchEntity(param: string, value: string): ApiError {
  return ApiError.param(`${unableToExecute()} due to invalid value. Invalid parameter ${param} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`);
}

/**
 * User data (R61): base64, at most 32 KB once decoded. deployVirtualMachine and
 * updateVirtualMachine both check it here, so one rule serves both.
 */
import { ApiError } from '../registry/errors.js';

export const USER_DATA_MAX_DECODED = 32768;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Throws a 431 naming `userdata` unless the value is base64 within the size limit. */
export function checkUserData(value: string): void {
  if (!BASE64.test(value)) throw ApiError.param('userdata: must be base64');
  if (Buffer.from(value, 'base64').length > USER_DATA_MAX_DECODED) throw ApiError.param('userdata: at most 32 KB once decoded');
}

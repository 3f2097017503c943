/**
 * How large a request may be, and the CloudStack error that says so (R61). The guide limits a
 * GET parameter to 2048 bytes and sends larger user data by POST; a body may carry up to
 * MAX_BODY. Every limit is answered with the API's error envelope (431, naming the parameter),
 * never with a reset connection.
 */
import { ApiError } from '../engine/registry/errors.js';

/** Largest request body accepted: userdata (32 KB decoded, R61) is far below it. */
export const MAX_BODY = 2 * 1024 * 1024;

/**
 * Request line plus headers Node reads before giving up (its default, 16 KB, would reset a
 * GET with 32 KB of userdata before Kiln could say why). Past this, clientError answers.
 */
export const MAX_HEADER_BYTES = 256 * 1024;

/** The guide: "the length of an HTTP GET parameter is limited to 2048 bytes" (user data). */
export const GET_PARAMETER_LIMIT = 2048;

/** Parameters the guide says go by POST when large. */
const POST_ONLY_WHEN_LARGE = ['userdata'];

/** The 431 for a GET that carries a blob the guide says must come by POST, if any. */
export function getParameterLimitError(query: Record<string, string>): ApiError | undefined {
  for (const [name, value] of Object.entries(query)) {
    if (!POST_ONLY_WHEN_LARGE.includes(name.toLowerCase())) continue;
    const bytes = Buffer.byteLength(value);
    if (bytes > GET_PARAMETER_LIMIT) {
      return ApiError.param(`${name.toLowerCase()}: ${bytes} bytes is over the ${GET_PARAMETER_LIMIT}-byte limit of a GET parameter; send it in the body of a POST`);
    }
  }
  return undefined;
}

/** The answer to a request Node could not read because of its size (node's clientError code). */
export function requestLimitError(code: string | undefined): ApiError | undefined {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return ApiError.param(`the request line and headers are over ${MAX_HEADER_BYTES} bytes; send large parameters (userdata) in the body of a POST`);
  }
  return undefined;
}

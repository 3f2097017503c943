/**
 * CloudStack's API error codes (ApiErrorCode) and the cserrorcode of the exception class that
 * raised them (CSExceptionErrorCode). Every error that leaves Kiln, over any transport, is one
 * of these; the HTTP status equals `errorcode`.
 */
export const ErrorCode = {
  UNAUTHORIZED: 401,
  METHOD_NOT_ALLOWED: 405,
  MALFORMED_PARAMETER: 430,
  PARAM_ERROR: 431,
  UNSUPPORTED_ACTION: 432,
  INTERNAL_ERROR: 530,
  ACCOUNT_ERROR: 531,
  ACCOUNT_RESOURCE_LIMIT: 532,
  INSUFFICIENT_CAPACITY: 533,
  RESOURCE_UNAVAILABLE: 534,
  RESOURCE_ALLOCATION: 535,
  RESOURCE_IN_USE: 536,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** cserrorcode values of the Java exceptions CloudStack maps onto each error code. */
export const CsErrorCode = {
  CloudRuntimeException: 4250,
  AccountLimitException: 4280,
  ConcurrentOperationException: 4300,
  InsufficientServerCapacityException: 4335,
  InvalidParameterValueException: 4350,
  PermissionDeniedException: 4365,
  ResourceAllocationException: 4370,
  ResourceInUseException: 4375,
  ResourceUnavailableException: 4380,
  ServerApiException: 9999,
} as const;

const DEFAULT_CS_CODE: Record<number, number> = {
  401: CsErrorCode.ServerApiException,
  405: CsErrorCode.ServerApiException,
  430: CsErrorCode.InvalidParameterValueException,
  431: CsErrorCode.InvalidParameterValueException,
  432: CsErrorCode.ServerApiException,
  530: CsErrorCode.CloudRuntimeException,
  531: CsErrorCode.PermissionDeniedException,
  532: CsErrorCode.AccountLimitException,
  533: CsErrorCode.InsufficientServerCapacityException,
  534: CsErrorCode.ResourceUnavailableException,
  535: CsErrorCode.ResourceAllocationException,
  536: CsErrorCode.ResourceInUseException,
};

export class ApiError extends Error {
  readonly csErrorCode: number;

  constructor(
    readonly errorCode: ErrorCodeValue,
    message: string,
    csErrorCode?: number,
    /** Extra fields a richer client may show (e.g. a placement explanation). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
    this.csErrorCode = csErrorCode ?? DEFAULT_CS_CODE[errorCode] ?? CsErrorCode.ServerApiException;
  }

  static param(message: string): ApiError {
    return new ApiError(ErrorCode.PARAM_ERROR, message);
  }
  static denied(message: string): ApiError {
    return new ApiError(ErrorCode.ACCOUNT_ERROR, message);
  }
  static capacity(message: string, details?: Record<string, unknown>): ApiError {
    return new ApiError(ErrorCode.INSUFFICIENT_CAPACITY, message, undefined, details);
  }
  static unavailable(message: string): ApiError {
    return new ApiError(ErrorCode.RESOURCE_UNAVAILABLE, message);
  }
  static inUse(message: string): ApiError {
    return new ApiError(ErrorCode.RESOURCE_IN_USE, message);
  }
  static internal(message: string): ApiError {
    return new ApiError(ErrorCode.INTERNAL_ERROR, message);
  }
  static unauthorized(message = 'unable to verify user credentials and/or request signature'): ApiError {
    return new ApiError(ErrorCode.UNAUTHORIZED, message);
  }
}

/** Anything thrown inside a handler becomes an ApiError; unknown errors are 530. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof Error && error.name === 'DriverError') {
    const category = (error as Error & { category?: string }).category;
    switch (category) {
      case 'insufficient-capacity':
        return ApiError.capacity(error.message);
      case 'unreachable':
      case 'host-key-changed':
      case 'timeout':
        return ApiError.unavailable(error.message);
      case 'invalid':
      case 'unsupported':
      case 'not-found':
        return ApiError.param(error.message);
      default:
        return ApiError.internal(error.message);
    }
  }
  return ApiError.internal(error instanceof Error ? error.message : String(error));
}

import { MissingRoleError } from '../../shared/auth/errors.js';
import type { ApiErrorResponse } from '../../shared/contracts/common.js';
import { ErrorCode, PlatformError, ValidationError } from '../../shared/errors.js';

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCode.validation]: 400,
  [ErrorCode.unauthorized]: 401,
  [ErrorCode.forbidden]: 403,
  [ErrorCode.notFound]: 404,
  [ErrorCode.conflict]: 409,
  [ErrorCode.rateLimited]: 429,
  [ErrorCode.dependencyUnavailable]: 503,
  [ErrorCode.timeout]: 504,
};

/** The error code of a 413 answer, the one the local gateway also uses for bodies over 10 MB. */
export const PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE';

/**
 * A request body larger than the API reads. A client error (hence the validation code family), but
 * answered with 413 so clients and proxies can tell "too big" from "wrong".
 */
export class PayloadTooLargeError extends PlatformError {
  readonly code = ErrorCode.validation;
}

/**
 * The HTTP status, body and headers for a failure: platform errors map by their code; anything
 * else is our own fault and becomes a 500 whose body says only that, with the request id to find
 * the log line. A rate-limit error carries `Retry-After`.
 */
export function errorResponse(
  error: unknown,
  requestId: string,
): { status: number; body: ApiErrorResponse; headers?: Record<string, string> } {
  if (error instanceof PayloadTooLargeError) {
    return { status: 413, body: { error: { code: PAYLOAD_TOO_LARGE, message: error.message } } };
  }
  if (error instanceof PlatformError && error.code in STATUS_BY_CODE) {
    const details = error instanceof ValidationError && error.details.length > 0 ? [...error.details] : undefined;
    const retryAfter = retryAfterSeconds(error);
    return {
      status: STATUS_BY_CODE[error.code] ?? 500,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(details && { details }),
          ...(error instanceof MissingRoleError && { required_role: error.requiredRole }),
        },
      },
      ...(retryAfter !== undefined && { headers: { 'retry-after': String(retryAfter) } }),
    };
  }
  return {
    status: 500,
    body: { error: { code: ErrorCode.internal, message: `Internal error (request ${requestId})` } },
  };
}

function retryAfterSeconds(error: PlatformError): number | undefined {
  if (error.code !== ErrorCode.rateLimited || !('retryAfterSeconds' in error)) return undefined;
  const seconds = error.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}

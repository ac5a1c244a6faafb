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

/**
 * The HTTP status and body for a failure: platform errors map by their code; anything else is our
 * own fault and becomes a 500 whose body says only that, with the request id to find the log line.
 */
export function errorResponse(error: unknown, requestId: string): { status: number; body: ApiErrorResponse } {
  if (error instanceof PlatformError && error.code in STATUS_BY_CODE) {
    const details = error instanceof ValidationError && error.details.length > 0 ? [...error.details] : undefined;
    return {
      status: STATUS_BY_CODE[error.code] ?? 500,
      body: { error: { code: error.code, message: error.message, ...(details && { details }) } },
    };
  }
  return {
    status: 500,
    body: { error: { code: ErrorCode.internal, message: `Internal error (request ${requestId})` } },
  };
}

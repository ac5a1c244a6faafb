import { ErrorCode, PlatformError } from '../errors.js';
import type { Role } from './roles.js';

/**
 * Authentication and throttling failures, shared by the REST and WebSocket entry points so both
 * answer the same way: no credentials is 401, credentials that do not check out is 403, too many
 * requests is 429 with how long to wait.
 */

/** No usable credentials were sent (no `x-api-key`, no `Authorization: Bearer …`). */
export class UnauthorizedError extends PlatformError {
  readonly code = ErrorCode.unauthorized;
}

/** Credentials were sent but are not valid: unknown key, bad signature, expired or wrong audience. */
export class ForbiddenError extends PlatformError {
  readonly code = ErrorCode.forbidden;
}

/**
 * The caller is who it says but its role does not reach the one the route needs: a 403 whose
 * message and `required_role` name that role, so a client can tell "ask for the role" from "log in again".
 */
export class MissingRoleError extends ForbiddenError {
  constructor(
    readonly requiredRole: Role,
    what = 'This route',
  ) {
    super(`${what} needs the ${requiredRole} role`);
  }
}

/** The caller's request budget is spent; `retryAfterSeconds` says when a retry can succeed. */
export class RateLimitedError extends PlatformError {
  readonly code = ErrorCode.rateLimited;
  override readonly retryable: boolean = true;
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

import { ErrorCode, PlatformError } from '../../shared/errors.js';

/** Kite refused the access token (HTTP 403 on upgrade, or a token error from REST). */
export class KiteAuthError extends PlatformError {
  readonly code = ErrorCode.unauthorized;
  constructor(
    readonly accountId: string,
    message = `Invalid API credentials for Kite account ${accountId}`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Kite refused a connection or request for load: too many connections for a key (429 on upgrade) or a rate limit. */
export class KiteRateLimitError extends PlatformError {
  readonly code = ErrorCode.rateLimited;
  override readonly retryable: boolean = true;
  constructor(
    readonly accountId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

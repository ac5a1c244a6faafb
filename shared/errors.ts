/**
 * Errors the platform raises on purpose. Each has a stable `code` that callers and logs can match
 * on (messages may be reworded; codes may not), a `name` equal to its class, and the `cause` that
 * led to it. Handlers map codes to HTTP statuses and WebSocket error frames in one place.
 */
export const ErrorCode = {
  configInvalid: 'CONFIG_INVALID',
  validation: 'VALIDATION_FAILED',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  rateLimited: 'RATE_LIMITED',
  dependencyUnavailable: 'DEPENDENCY_UNAVAILABLE',
  timeout: 'TIMEOUT',
  internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class: never thrown itself, so every platform error says what kind it is. */
export abstract class PlatformError extends Error {
  abstract readonly code: ErrorCode;
  /** Whether repeating the same operation later may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing or wrong; `problems` names each variable and what is wrong. */
export class ConfigError extends PlatformError {
  readonly code = ErrorCode.configInvalid;
  constructor(
    readonly problems: readonly { variable: string; message: string }[],
    options?: { cause?: unknown },
  ) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`, options);
  }
}

/** Input from outside (a request, a message, a queue record) does not match its contract. */
export class ValidationError extends PlatformError {
  readonly code = ErrorCode.validation;
  constructor(
    message: string,
    readonly details: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends PlatformError {
  readonly code = ErrorCode.notFound;
}

/** The request conflicts with the current state (a task id that exists, a stale version). */
export class ConflictError extends PlatformError {
  readonly code = ErrorCode.conflict;
}

/**
 * A dependency (Redis, DynamoDB, Kite) cannot be reached or answered with a failure. Retryable by
 * default: the usual cause is an outage or a restart.
 */
export class DependencyUnavailableError extends PlatformError {
  readonly code = ErrorCode.dependencyUnavailable;
  override readonly retryable: boolean = true;
  constructor(
    readonly dependency: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An operation did not finish in the time it was given. */
export class TimeoutError extends PlatformError {
  readonly code = ErrorCode.timeout;
  override readonly retryable: boolean = true;
}

/** The message of any thrown value, for logs: errors are not always `Error`s (kiteconnect rejects with objects). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

/** Socket error codes that mean a host name did not resolve. */
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);

/**
 * The reason a connection could not be made, worded for an operator: a name that does not resolve
 * says so ("Failed to resolve hostname …") instead of a resolver code.
 */
export function describeConnectionFailure(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (DNS_FAILURES.has(code)) {
    const host = typeof error === 'object' && error !== null && 'hostname' in error ? String(error.hostname) : '';
    return `Failed to resolve hostname${host ? ` ${host}` : ''}`;
  }
  return describeError(error);
}

import { BrokerError, BrokerErrorKind, RETRYABLE_BROKER_ERRORS } from '../../ports/broker.js';

/**
 * The error types an order attempt or a dead letter is recorded with: the broker's kinds, plus
 * `validation` (the message is not an order task), `circuit-open` (the account's breaker refused the
 * call; not an attempt) and `internal` (a broker failed in a way it does not classify: a bug).
 */
export const OrderErrorType = {
  ...BrokerErrorKind,
  validation: 'validation',
  circuitOpen: 'circuit-open',
  internal: 'internal',
  /** A task id reused with another payload (neither placed over the first). */
  conflict: 'conflict',
  /** Moved to the dead-letter queue by SQS's redrive policy after `maxReceiveCount` receives. */
  maxReceives: 'max_receives',
} as const;
export type OrderErrorType = (typeof OrderErrorType)[keyof typeof OrderErrorType];

/** A failed broker call as the worker acts on it. */
export interface ClassifiedError {
  readonly type: OrderErrorType;
  readonly message: string;
  /** A later call may succeed: network, timeout, rate limit, server error. */
  readonly retryable: boolean;
  /**
   * The failure says the broker is unhealthy, so it counts toward the account's circuit breaker.
   * The retryable kinds do; a rejected order (bad input, margin, permission, token) was answered by
   * a working broker and does not.
   */
  readonly tripsBreaker: boolean;
}

const KINDS = new Set<string>(Object.values(BrokerErrorKind));

function isBrokerErrorKind(value: unknown): value is BrokerErrorKind {
  return typeof value === 'string' && KINDS.has(value);
}

/**
 * Classifies what a broker call rejected with. A {@link BrokerError} (or any error carrying a
 * broker `kind`, such as the Kite client's) keeps its kind. Anything else breaks the broker port's
 * promise that every rejection is classified: it is `internal` and not retried, because a call that
 * failed for an unknown reason may have placed the order, and orders are money.
 */
export function classifyOrderError(error: unknown): ClassifiedError {
  const kind =
    error instanceof BrokerError
      ? error.kind
      : typeof error === 'object' && error !== null && 'kind' in error && isBrokerErrorKind(error.kind)
        ? error.kind
        : undefined;
  const message =
    error instanceof Error
      ? error.message
      : typeof error === 'object' && error !== null && 'message' in error
        ? String(error.message)
        : String(error);
  if (kind === undefined) return { type: OrderErrorType.internal, message, retryable: false, tripsBreaker: false };
  const retryable = RETRYABLE_BROKER_ERRORS.has(kind);
  return { type: kind, message, retryable, tripsBreaker: retryable };
}

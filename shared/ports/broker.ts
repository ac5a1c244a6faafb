import type { OrderTask } from '../contracts/order.js';
import type { BrokerOrderState } from '../domain/orders/broker-order.js';
import { ErrorCode, PlatformError } from '../errors.js';

/** Why a broker call failed, which decides whether retrying is safe. */
export const BrokerErrorKind = {
  network: 'network',
  timeout: 'timeout',
  rateLimited: 'rate-limited',
  server: 'server',
  input: 'input',
  permission: 'permission',
  margin: 'margin',
  token: 'token',
} as const;
export type BrokerErrorKind = (typeof BrokerErrorKind)[keyof typeof BrokerErrorKind];

/** Kinds a retry can fix; the others are dead-lettered at once. */
export const RETRYABLE_BROKER_ERRORS: ReadonlySet<BrokerErrorKind> = new Set([
  BrokerErrorKind.network,
  BrokerErrorKind.timeout,
  BrokerErrorKind.rateLimited,
  BrokerErrorKind.server,
]);

/**
 * A broker call that failed, with the {@link BrokerErrorKind} that decides whether the worker
 * retries it. `retryable` follows from the kind ({@link RETRYABLE_BROKER_ERRORS}); the original
 * failure (a kiteconnect rejection, a socket error) is the `cause`.
 */
export class BrokerError extends PlatformError {
  readonly code: ErrorCode;
  override readonly retryable: boolean;
  /**
   * False when the call was never sent to the broker (its rate budget had no room before the
   * caller's deadline, or could not be read): the failure says nothing about the broker's health
   * and no order can have been placed by it. True (the default) when it may have been sent.
   */
  readonly sent: boolean;
  /**
   * For a call held back by the rate budget: how long until the budget has room, in ms. The worker
   * puts the task back for that long instead of counting an attempt.
   */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly kind: BrokerErrorKind,
    message: string,
    options?: { cause?: unknown; sent?: boolean; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryable = RETRYABLE_BROKER_ERRORS.has(kind);
    this.sent = options?.sent ?? true;
    this.retryAfterMs = options?.retryAfterMs;
    this.code =
      kind === 'rate-limited'
        ? ErrorCode.rateLimited
        : kind === 'timeout'
          ? ErrorCode.timeout
          : kind === 'token'
            ? ErrorCode.unauthorized
            : kind === 'permission'
              ? ErrorCode.forbidden
              : kind === 'input' || kind === 'margin'
                ? ErrorCode.validation
                : ErrorCode.dependencyUnavailable;
  }
}

/**
 * The result of a broker call that succeeded: the order as the broker reported it right after the
 * call. Kite's order endpoints return the order id alone, so a Kite result's status is an
 * acknowledgement (`BROKER_ACKNOWLEDGEMENTS`: `PLACED`, `MODIFIED`, `CANCEL REQUESTED`) and the
 * order's life is learnt from postbacks, order frames and the order book; the paper broker knows
 * at once (`OPEN`, `COMPLETE`, …).
 */
export interface BrokerResult extends BrokerOrderState {
  /** True when no real order was placed (paper trading). */
  readonly paper: boolean;
}

/** What the worker tells the broker about the call it is making. */
export interface BrokerCallContext {
  /**
   * 1 for the first call of a task, 2 for the first retry, and so on. From the second call on, a
   * broker that can look orders up checks whether an earlier call that seemed to fail in fact
   * placed the order, and returns that order instead of placing another.
   */
  readonly attempt: number;
  /**
   * Epoch ms by which the broker must have sent its calls (what the worker's invocation has left,
   * less the time to record the outcome). A broker whose rate budget would make it wait longer
   * fails unsent with a `rate-limited` {@link BrokerError} carrying `retryAfterMs`.
   */
  readonly deadline?: number;
  /**
   * For a modify or cancel: the order it changes, as the platform knows it (the task that placed it
   * and its latest state), when the order was placed through the platform.
   */
  readonly order?: OpenOrder;
}

/** An order the platform placed and still follows: the placing task and the order's latest state. */
export interface OpenOrder {
  readonly task: OrderTask;
  readonly state: BrokerOrderState;
}

/**
 * Places, modifies and cancels orders for one account (Kite, or paper trading).
 *
 * Guarantees: every rejection is a `BrokerError` with a `kind` (so the worker knows whether to
 * retry); a call that times out may still have reached the exchange, which is why the worker tags
 * orders with the idempotency key and checks before placing again.
 */
export interface Broker {
  execute(task: OrderTask, context?: BrokerCallContext): Promise<BrokerResult>;
  /**
   * The current state of open orders from the broker's own book (Kite's order book; the paper
   * broker matches them against the latest prices): one state per order it knows, in any order.
   * The poll that keeps statuses fresh when a postback or an order frame was missed.
   */
  refresh(orders: readonly OpenOrder[]): Promise<readonly BrokerOrderState[]>;
}

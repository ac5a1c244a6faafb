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
  constructor(
    readonly kind: BrokerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retryable = RETRYABLE_BROKER_ERRORS.has(kind);
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

import type { OrderTask } from '../contracts/order.js';

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

/** The result of a broker call that succeeded. */
export interface BrokerResult {
  readonly orderId: string;
  /** True when no real order was placed (paper trading). */
  readonly paper: boolean;
}

/**
 * Places, modifies and cancels orders for one account (Kite, or paper trading).
 *
 * Guarantees: every rejection is a `BrokerError` with a `kind` (so the worker knows whether to
 * retry); a call that times out may still have reached the exchange, which is why the worker tags
 * orders with the idempotency key and checks before placing again.
 */
export interface Broker {
  execute(task: OrderTask): Promise<BrokerResult>;
}

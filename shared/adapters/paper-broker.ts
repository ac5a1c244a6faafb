import { createHash } from 'node:crypto';
import type { OrderTask } from '../contracts/order.js';
import { type BrokerOrderState, isOpenBrokerStatus } from '../domain/orders/broker-order.js';
import {
  type Broker,
  type BrokerCallContext,
  BrokerError,
  type BrokerResult,
  type OpenOrder,
} from '../ports/broker.js';

/** What a {@link PaperBroker} needs. */
export interface PaperBrokerOptions {
  /**
   * The last traded price of an instrument (the live mock's, on the local platform), or undefined
   * when the instrument is unknown.
   */
  readonly lastPrice: (exchange: string, tradingsymbol: string) => Promise<number | undefined>;
  /** Epoch milliseconds now: the exchange timestamps of paper orders. */
  readonly now: () => number;
}

type PlaceTask = Extract<OrderTask, { operation: 'place_order' }>;

/** Kite's timestamp format, in IST: `YYYY-MM-DD HH:MM:SS`. */
export function kiteTimestamp(ms: number): string {
  return new Date(ms + 5.5 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Paper trading: a {@link Broker} that places nothing real, for `npm start`, tests and any
 * deployment without a Kite account. Every result says `paper: true`.
 *
 * It keeps no book of its own: the book is the platform's order records (a modify or cancel is
 * handed the order's latest state, and {@link refresh} the open orders), so paper orders survive a
 * restart and every worker sees the same book.
 * - A MARKET order fills at once at the last price (`COMPLETE`).
 * - A LIMIT order fills at the last price when the limit is crossed (a BUY limit at or above it, a
 *   SELL limit at or below it); otherwise it rests `OPEN` and fills when a later price crosses it.
 *   SL and SL-M orders wait for their trigger (`TRIGGER PENDING`), then behave as LIMIT and MARKET.
 * - Modify changes a resting order's terms and matches it again; cancel cancels it. Both reject
 *   with an `input` error for an unknown or finished order, as Kite does.
 * - An unknown instrument is an `input` error (not retryable).
 *
 * The order id of a placement derives from its account and idempotency key, so placing one task
 * twice (a retry after a lost answer) gives the same order.
 */
export class PaperBroker implements Broker {
  readonly #lastPrice: PaperBrokerOptions['lastPrice'];
  readonly #now: () => number;

  constructor(options: PaperBrokerOptions) {
    this.#lastPrice = options.lastPrice;
    this.#now = options.now;
  }

  async execute(task: OrderTask, context: BrokerCallContext = { attempt: 1 }): Promise<BrokerResult> {
    switch (task.operation) {
      case 'place_order': {
        const p = task.params;
        const at = kiteTimestamp(this.#now());
        const placed: BrokerOrderState = {
          orderId: paperOrderId(task.account_id, task.idempotency_key),
          status: 'OPEN',
          filledQuantity: 0,
          pendingQuantity: p.quantity,
          orderTimestamp: at,
          exchangeTimestamp: at,
          exchangeUpdateTimestamp: at,
          orderType: p.order_type,
          quantity: p.quantity,
          ...(p.price !== undefined && { price: p.price }),
          ...(p.trigger_price !== undefined && { triggerPrice: p.trigger_price }),
        };
        return { ...(await this.#match(task, placed, true)), paper: true };
      }
      case 'modify_order': {
        const order = this.#resting(task.params.order_id, context.order);
        const p = task.params;
        const modified: BrokerOrderState = {
          ...order.state,
          ...(p.quantity !== undefined && {
            quantity: p.quantity,
            pendingQuantity: p.quantity - (order.state.filledQuantity ?? 0),
          }),
          ...(p.price !== undefined && { price: p.price }),
          ...(p.trigger_price !== undefined && { triggerPrice: p.trigger_price }),
          ...(p.order_type !== undefined && { orderType: p.order_type }),
          exchangeUpdateTimestamp: kiteTimestamp(this.#now()),
        };
        return { ...(await this.#match(order.task, modified, true)), paper: true };
      }
      case 'cancel_order': {
        const order = this.#resting(task.params.order_id, context.order);
        return {
          ...order.state,
          status: 'CANCELLED',
          pendingQuantity: 0,
          statusMessage: 'Cancelled by the user',
          exchangeUpdateTimestamp: kiteTimestamp(this.#now()),
          paper: true,
        };
      }
    }
  }

  async refresh(orders: readonly OpenOrder[]): Promise<readonly BrokerOrderState[]> {
    const states: BrokerOrderState[] = [];
    for (const order of orders) {
      if (order.task.operation !== 'place_order' || !isOpenBrokerStatus(order.state.status)) continue;
      // A price that is gone for a moment leaves the order resting; it is not the order's fault.
      const matched = await this.#match(order.task, order.state, false).catch(() => undefined);
      if (matched !== undefined) states.push(matched);
    }
    return states;
  }

  /** A resting paper order to change; an `input` error otherwise. */
  #resting(orderId: string, order: OpenOrder | undefined): { task: PlaceTask; state: BrokerOrderState } {
    if (order === undefined || order.task.operation !== 'place_order' || order.state.orderId !== orderId) {
      throw new BrokerError('input', `Paper order ${orderId} does not exist`);
    }
    if (!isOpenBrokerStatus(order.state.status)) {
      throw new BrokerError('input', `Paper order ${orderId} is ${order.state.status} and cannot be changed`);
    }
    return { task: order.task, state: order.state };
  }

  /** The order filled at the last price when it can fill now, else resting as it is. */
  async #match(task: PlaceTask, order: BrokerOrderState, stamp: boolean): Promise<BrokerOrderState> {
    const { exchange, tradingsymbol, transaction_type } = task.params;
    const last = await this.#lastPrice(exchange, tradingsymbol);
    if (last === undefined || !Number.isFinite(last)) {
      throw new BrokerError('input', `No price for ${exchange}:${tradingsymbol}: unknown instrument`);
    }
    const buy = transaction_type === 'BUY';
    const type = order.orderType ?? task.params.order_type;
    const stop = type === 'SL' || type === 'SL-M';
    const trigger = order.triggerPrice ?? last;
    const triggered = !stop || (buy ? last >= trigger : last <= trigger);
    const at = kiteTimestamp(this.#now());
    if (!triggered) {
      return order.status === 'TRIGGER PENDING' && !stamp
        ? order
        : { ...order, status: 'TRIGGER PENDING', ...(stamp && { exchangeUpdateTimestamp: at }) };
    }
    const limit = type === 'LIMIT' || type === 'SL' ? order.price : undefined;
    const crossed = limit === undefined || (buy ? limit >= last : limit <= last);
    if (crossed) {
      const quantity = order.quantity ?? task.params.quantity;
      return {
        ...order,
        status: 'COMPLETE',
        filledQuantity: quantity,
        pendingQuantity: 0,
        averagePrice: last,
        exchangeUpdateTimestamp: at,
      };
    }
    return order.status === 'OPEN' && !stamp ? order : { ...order, status: 'OPEN', exchangeUpdateTimestamp: at };
  }
}

/** The order id of a paper placement: stable for an account's idempotency key. */
export function paperOrderId(accountId: string, idempotencyKey: string): string {
  return `PAPER-${createHash('sha256').update(`${accountId}\n${idempotencyKey}`).digest('hex').slice(0, 16)}`;
}

import { createHash } from 'node:crypto';
import type { OrderTask } from '../contracts/order.js';
import { type Broker, BrokerError, type BrokerResult } from '../ports/broker.js';

/** An order the paper broker holds. */
interface PaperOrder {
  readonly orderId: string;
  readonly exchange: string;
  readonly tradingsymbol: string;
  readonly side: 'BUY' | 'SELL';
  quantity: number;
  orderType: 'MARKET' | 'LIMIT' | 'SL' | 'SL-M';
  price: number | undefined;
  triggerPrice: number | undefined;
  status: 'OPEN' | 'TRIGGER PENDING' | 'COMPLETE' | 'CANCELLED';
  averagePrice: number | undefined;
}

/** What a {@link PaperBroker} needs. */
export interface PaperBrokerOptions {
  /**
   * The last traded price of an instrument (the mock market's, on the local platform), or
   * undefined when the instrument is unknown.
   */
  readonly lastPrice: (exchange: string, tradingsymbol: string) => Promise<number | undefined>;
}

/**
 * Paper trading: a {@link Broker} that places nothing real, for `npm start`, tests and any
 * deployment without a Kite account. Every result says `paper: true`.
 *
 * - A MARKET order fills at once at the instrument's last price (`COMPLETE`, `averagePrice`).
 * - A LIMIT order fills at the last price when the limit is crossed (a BUY limit at or above it, a
 *   SELL limit at or below it); otherwise it rests `OPEN`. SL and SL-M orders wait for their trigger
 *   (`TRIGGER PENDING`) and, once the last price has reached it, fill like LIMIT and MARKET.
 * - Modify changes a resting order and checks it against the last price again; cancel cancels a
 *   resting one. Both reject with an `input` error for an unknown or finished order, as Kite does.
 * - An unknown instrument is an `input` error (not retryable).
 *
 * The order id of a placement is derived from its idempotency key, so placing one task twice (a
 * retry after a lost answer) returns the same order: paper trading is idempotent by itself. Orders
 * live in this process only.
 */
export class PaperBroker implements Broker {
  readonly #lastPrice: PaperBrokerOptions['lastPrice'];
  readonly #orders = new Map<string, PaperOrder>();

  constructor(options: PaperBrokerOptions) {
    this.#lastPrice = options.lastPrice;
  }

  async execute(task: OrderTask): Promise<BrokerResult> {
    switch (task.operation) {
      case 'place_order': {
        const orderId = `PAPER-${createHash('sha256').update(`${task.account_id}\n${task.idempotency_key}`).digest('hex').slice(0, 16)}`;
        const existing = this.#orders.get(orderId);
        if (existing) return this.#result(existing);
        const p = task.params;
        const order: PaperOrder = {
          orderId,
          exchange: p.exchange,
          tradingsymbol: p.tradingsymbol,
          side: p.transaction_type,
          quantity: p.quantity,
          orderType: p.order_type,
          price: p.price,
          triggerPrice: p.trigger_price,
          status: 'OPEN',
          averagePrice: undefined,
        };
        await this.#match(order);
        this.#orders.set(orderId, order);
        return this.#result(order);
      }
      case 'modify_order': {
        const order = this.#resting(task.params.order_id);
        const p = task.params;
        if (p.quantity !== undefined) order.quantity = p.quantity;
        if (p.price !== undefined) order.price = p.price;
        if (p.trigger_price !== undefined) order.triggerPrice = p.trigger_price;
        if (p.order_type !== undefined) order.orderType = p.order_type;
        await this.#match(order);
        return this.#result(order);
      }
      case 'cancel_order': {
        const order = this.#resting(task.params.order_id);
        order.status = 'CANCELLED';
        return this.#result(order);
      }
    }
  }

  /** A resting order by id; an `input` error otherwise. */
  #resting(orderId: string): PaperOrder {
    const order = this.#orders.get(orderId);
    if (!order) throw new BrokerError('input', `Paper order ${orderId} does not exist`);
    if (order.status === 'COMPLETE' || order.status === 'CANCELLED') {
      throw new BrokerError('input', `Paper order ${orderId} is ${order.status} and cannot be changed`);
    }
    return order;
  }

  /** Fills `order` at the last price if it can fill now, else leaves it resting. */
  async #match(order: PaperOrder): Promise<void> {
    const last = await this.#lastPrice(order.exchange, order.tradingsymbol);
    if (last === undefined || !Number.isFinite(last)) {
      throw new BrokerError('input', `No price for ${order.exchange}:${order.tradingsymbol}: unknown instrument`);
    }
    const buy = order.side === 'BUY';
    const stop = order.orderType === 'SL' || order.orderType === 'SL-M';
    const trigger = order.triggerPrice ?? last;
    const triggered = !stop || (buy ? last >= trigger : last <= trigger);
    if (!triggered) {
      order.status = 'TRIGGER PENDING';
      return;
    }
    const limit = order.orderType === 'LIMIT' || order.orderType === 'SL' ? order.price : undefined;
    const crossed = limit === undefined || (buy ? limit >= last : limit <= last);
    if (crossed) {
      order.status = 'COMPLETE';
      order.averagePrice = last;
    } else order.status = 'OPEN';
  }

  #result(order: PaperOrder): BrokerResult {
    return {
      orderId: order.orderId,
      paper: true,
      status: order.status,
      ...(order.averagePrice !== undefined && { averagePrice: order.averagePrice }),
    };
  }
}

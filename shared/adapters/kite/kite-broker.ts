import { createHash } from 'node:crypto';
import type { OrderTask } from '../../contracts/order.js';
import type { BrokerOrderState } from '../../domain/orders/broker-order.js';
import {
  type Broker,
  type BrokerCallContext,
  BrokerError,
  type BrokerResult,
  type OpenOrder,
} from '../../ports/broker.js';
import { type KiteOrderBookEntry, type KiteRestClient, toKiteApiError } from './kite-rest-client.js';

/** Kite accepts alphanumeric tags of up to 20 characters. */
const TAG_LENGTH = 20;

/**
 * The tag that marks the order of an idempotency key on Kite: `k` and 19 hex characters of the
 * key's SHA-256, so a retry can find an order an earlier, seemingly failed, call placed.
 */
export function idempotencyTag(idempotencyKey: string): string {
  return `k${createHash('sha256')
    .update(idempotencyKey)
    .digest('hex')
    .slice(0, TAG_LENGTH - 1)}`;
}

/**
 * The {@link Broker} of one Kite account: place, modify and cancel through its rate-limited
 * {@link KiteRestClient} (orders 10/s, 400/min, 5000/day, shared by every process), with every
 * failure a {@link BrokerError} of the kind the client classified (token, input, margin, permission
 * are not retried; network, timeout, 429 and 5xx are). A call the budget held back past the
 * context's deadline is a `rate-limited` error marked unsent, with the wait as `retryAfterMs`.
 *
 * At most once: a placement is tagged with the task's own `tag` or else {@link idempotencyTag}.
 * From the second attempt on the broker first reads the day's order book: an order with the tag
 * means an earlier call reached Kite although its answer was lost (a timeout), and it is returned
 * instead of placing another (a REJECTED one is reported as an `input` error). A cancel retried
 * after a lost answer likewise finds the order already CANCELLED and succeeds.
 */
export class KiteBroker implements Broker {
  readonly #client: KiteRestClient;

  constructor(options: { readonly client: KiteRestClient }) {
    this.#client = options.client;
  }

  async execute(task: OrderTask, context: BrokerCallContext = { attempt: 1 }): Promise<BrokerResult> {
    if (task.account_id !== this.#client.accountId) {
      throw new BrokerError(
        'input',
        `Order task ${task.task_id} is for account ${task.account_id}, this broker is ${this.#client.accountId}`,
      );
    }
    const call = context.deadline === undefined ? {} : { deadline: context.deadline };
    try {
      switch (task.operation) {
        case 'place_order': {
          // `slice` is the platform's own instruction; Kite never sees it.
          const { variety, slice: _slice, ...params } = task.params;
          const tag = params.tag ?? idempotencyTag(task.idempotency_key);
          if (context.attempt > 1) {
            const earlier = (await this.#client.orderBook(call)).find((o) => o.tags.includes(tag));
            if (earlier) return this.#earlier(earlier, task);
          }
          const orderId = await this.#client.placeOrder(variety, { ...params, tag }, call);
          return { orderId, paper: false, status: 'PLACED' };
        }
        case 'modify_order': {
          const { variety, order_id, ...params } = task.params;
          const orderId = await this.#client.modifyOrder(variety, order_id, params, call);
          return { orderId, paper: false, status: 'MODIFIED' };
        }
        case 'cancel_order': {
          const { variety, order_id } = task.params;
          if (context.attempt > 1) {
            const order = (await this.#client.orderBook(call)).find((o) => o.orderId === order_id);
            if (order?.status === 'CANCELLED') return { orderId: order_id, paper: false, status: 'CANCELLED' };
          }
          const orderId = await this.#client.cancelOrder(variety, order_id, call);
          return { orderId, paper: false, status: 'CANCEL REQUESTED' };
        }
      }
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      const kite = toKiteApiError(error, this.#client.accountId);
      throw new BrokerError(kite.kind, kite.message, {
        cause: kite,
        sent: kite.sent,
        ...(kite.retryAfterMs !== undefined && { retryAfterMs: kite.retryAfterMs }),
      });
    }
  }

  async refresh(orders: readonly OpenOrder[]): Promise<readonly BrokerOrderState[]> {
    const wanted = new Set(
      orders.filter((o) => o.task.account_id === this.#client.accountId).map((o) => o.state.orderId),
    );
    if (wanted.size === 0) return [];
    try {
      return (await this.#client.orderBook()).filter((o) => wanted.has(o.orderId)).map((o) => o.state);
    } catch (error) {
      const kite = toKiteApiError(error, this.#client.accountId);
      throw new BrokerError(kite.kind, kite.message, { cause: kite });
    }
  }

  #earlier(order: KiteOrderBookEntry, task: OrderTask): BrokerResult {
    if (order.status === 'REJECTED') {
      throw new BrokerError('input', `Order ${order.orderId} of task ${task.task_id} was rejected by Kite`);
    }
    return { ...order.state, paper: false };
  }
}

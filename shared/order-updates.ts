import type { OrderSliceView } from './contracts/order.js';
import type { OrderMessage, OrderUpdate } from './contracts/websocket.js';
import { isOpenBrokerStatus, TERMINAL_BROKER_STATUSES } from './domain/orders/broker-order.js';
import { type OrderSlice, sliceStatus } from './domain/orders/sliced-order.js';
import type { OrderRecord } from './ports/orders.js';
import { Channels, type TickBus } from './ports/tick-bus.js';

/*
 * Order updates on the WebSocket (they reach only the owner's connections: docs/architecture.md). Whoever
 * learns of a change of an order (the worker, postbacks, the ticker's order frames, the order-book
 * poll) publishes the client frame on the owner's order channel; the fan-out shards listen on every
 * order channel and post the frame, unchanged, to the connections of that owner they serve.
 */

/**
 * The `data` of the `{"type":"order"}` frame for a task's broker order, or `undefined` when the
 * task has no broker order yet. Kite's placement answer carries only the order id and our paper
 * broker no quantities, so quantities the broker did not report are derived from the order's
 * terms: a COMPLETE order filled all of it, a finished one has nothing pending.
 */
export function orderUpdateOf(record: OrderRecord): OrderUpdate | undefined {
  const order = record.result;
  if (order === undefined) return undefined;
  const params = record.task.params;
  const quantity = order.quantity ?? ('quantity' in params ? params.quantity : undefined);
  const finished = TERMINAL_BROKER_STATUSES.has(order.status);
  const filled = order.filledQuantity ?? (order.status === 'COMPLETE' && quantity !== undefined ? quantity : 0);
  const pending =
    order.pendingQuantity ?? (finished ? 0 : quantity === undefined ? null : Math.max(0, quantity - filled));
  return {
    task_id: record.task.task_id,
    order_id: order.orderId,
    status: order.status,
    filled_quantity: filled,
    pending_quantity: pending,
    ...(order.averagePrice !== undefined && { average_price: order.averagePrice }),
    status_message: order.statusMessage ?? null,
    updated_at: new Date(record.updatedAt).toISOString(),
    ...(order.slices !== undefined && { slices: sliceViews(order.slices) }),
  };
}

/** Kite's `YYYY-MM-DD HH:MM:SS` (IST) as an ISO instant, or null. */
function kiteTimeIso(text: string | undefined): string | null {
  if (text === undefined) return null;
  const ms = Date.parse(`${text.replace(' ', 'T')}+05:30`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The client shape of a sliced order's children (REST `result.slices`, the order frame's `slices`). */
export function sliceViews(slices: readonly OrderSlice[]): OrderSliceView[] {
  return slices.map((s) => {
    const o = s.order;
    const finished = o !== undefined && !isOpenBrokerStatus(o.status);
    const filled = o?.filledQuantity ?? (o?.status === 'COMPLETE' ? s.quantity : 0);
    return {
      index: s.index,
      quantity: s.quantity,
      order_id: o?.orderId ?? null,
      status: sliceStatus(s),
      filled_quantity: filled,
      pending_quantity:
        o === undefined || finished ? 0 : (o.pendingQuantity ?? Math.max(0, (o.quantity ?? s.quantity) - filled)),
      average_price: o?.averagePrice ?? null,
      status_message: o?.statusMessage ?? s.error ?? null,
      updated_at: kiteTimeIso(o?.exchangeUpdateTimestamp ?? o?.exchangeTimestamp ?? o?.orderTimestamp),
    };
  });
}

/**
 * Publishes the change of `record`'s broker order to its owner's WebSocket connections: call it
 * after every change (`onOrderChange`). Resolves with how many fan-out subscriptions received it
 * (0: no fan-out listening, or nothing to send: no broker order, or a task without an owner).
 * At most once, like every bus message: a client connected later does not get it, and reads the
 * order with `GET /orders/{task_id}`. Rejects with `DependencyUnavailableError` when the bus cannot
 * publish; the order itself is recorded by then, so a caller logs and goes on. In Lambda, await it
 * before the handler returns: a publish left running when the invocation ends may never be sent.
 *
 * Owners are principal ids: `ownerIdOfSubject(sub)` for JWT callers, whose connections the fan-out
 * files under the same id; API-key owners have no WebSocket connections (the WebSocket API takes
 * JWTs only), so their updates reach no one.
 */
export async function publishOrderUpdate(bus: TickBus, record: OrderRecord): Promise<number> {
  const owner = record.task.owner;
  const data = orderUpdateOf(record);
  if (owner === undefined || data === undefined) return 0;
  const message: OrderMessage = { type: 'order', data };
  return bus.publish(Channels.orders(owner), JSON.stringify(message));
}

import { z } from 'zod';
import type { BrokerOrderState } from '../domain/orders/broker-order.js';

const Num = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);
const Text = z.string().nullable().optional();

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * A Kite timestamp as Kite writes it (`YYYY-MM-DD HH:MM:SS`, IST). kiteconnect turns the order
 * book's into `Date`s parsed as local time, so the local fields give Kite's text back exactly.
 */
const KiteTime = z
  .union([
    z.string(),
    z
      .date()
      .transform(
        (d) =>
          `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
      ),
  ])
  .nullable()
  .optional();

/**
 * An order as Kite describes it in a postback, a `{"type":"order"}` ticker frame and a row of the
 * order book: the same fields in all three. Only what the platform follows is read; the rest
 * passes. Timestamps are Kite's `YYYY-MM-DD HH:MM:SS` (IST).
 */
export const KiteOrder = z.looseObject({
  order_id: z.union([z.string(), z.number()]).transform(String),
  status: z.string().min(1),
  status_message: Text,
  order_timestamp: KiteTime,
  exchange_timestamp: KiteTime,
  exchange_update_timestamp: KiteTime,
  order_type: Text,
  quantity: Num.nullable().optional(),
  price: Num.nullable().optional(),
  trigger_price: Num.nullable().optional(),
  average_price: Num.nullable().optional(),
  filled_quantity: Num.nullable().optional(),
  pending_quantity: Num.nullable().optional(),
  tag: Text,
  tags: z.array(z.string()).nullable().optional(),
  checksum: Text,
});
export type KiteOrder = z.infer<typeof KiteOrder>;

/** The platform's view of a Kite order; an average price of 0 (no fill yet) is no average price. */
export function kiteOrderState(order: KiteOrder): BrokerOrderState {
  const text = (v: string | null | undefined) => (v === null || v === undefined || v === '' ? undefined : v);
  const num = (v: number | null | undefined) => (v === null || v === undefined ? undefined : v);
  const average = num(order.average_price);
  const fields: Record<string, unknown> = {
    orderId: order.order_id,
    // A postback's UPDATE (a modification or a partial fill) is an order still in the book: OPEN.
    status: order.status === 'UPDATE' ? 'OPEN' : order.status,
    filledQuantity: num(order.filled_quantity),
    pendingQuantity: num(order.pending_quantity),
    averagePrice: average !== undefined && average > 0 ? average : undefined,
    statusMessage: text(order.status_message),
    orderTimestamp: text(order.order_timestamp),
    exchangeTimestamp: text(order.exchange_timestamp),
    exchangeUpdateTimestamp: text(order.exchange_update_timestamp),
    orderType: text(order.order_type),
    quantity: num(order.quantity),
    price: num(order.price),
    triggerPrice: num(order.trigger_price),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as unknown as BrokerOrderState;
}

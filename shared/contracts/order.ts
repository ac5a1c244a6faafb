import { z } from 'zod';
import { IsoTimestamp } from './common.js';

const Exchange = z.enum(['NSE', 'BSE', 'NFO', 'BFO', 'CDS', 'BCD', 'MCX']);
const Variety = z.enum(['regular', 'amo', 'co', 'iceberg', 'auction']);

/** Parameters of a new order, in kiteconnect's names. */
export const PlaceOrderParams = z
  .object({
    variety: Variety.default('regular'),
    exchange: Exchange,
    tradingsymbol: z.string().min(1),
    transaction_type: z.enum(['BUY', 'SELL']),
    quantity: z.int().positive(),
    product: z.enum(['NRML', 'MIS', 'CNC', 'MTF']),
    order_type: z.enum(['MARKET', 'LIMIT', 'SL', 'SL-M']),
    price: z.number().positive().optional(),
    trigger_price: z.number().positive().optional(),
    validity: z.enum(['DAY', 'IOC', 'TTL']).default('DAY'),
    tag: z.string().max(20).optional(),
  })
  .refine((p) => (p.order_type !== 'LIMIT' && p.order_type !== 'SL') || p.price !== undefined, {
    message: 'price is required for LIMIT and SL orders',
    path: ['price'],
  })
  .refine((p) => (p.order_type !== 'SL' && p.order_type !== 'SL-M') || p.trigger_price !== undefined, {
    message: 'trigger_price is required for SL and SL-M orders',
    path: ['trigger_price'],
  });

export const ModifyOrderParams = z.object({
  variety: Variety.default('regular'),
  order_id: z.string().min(1),
  quantity: z.int().positive().optional(),
  price: z.number().positive().optional(),
  trigger_price: z.number().positive().optional(),
  order_type: z.enum(['MARKET', 'LIMIT', 'SL', 'SL-M']).optional(),
  validity: z.enum(['DAY', 'IOC', 'TTL']).optional(),
});

export const CancelOrderParams = z.object({
  variety: Variety.default('regular'),
  order_id: z.string().min(1),
});

const TaskBase = {
  task_id: z.string().min(1).max(128),
  /** The business key: a repeat with the same key is placed at most once. */
  idempotency_key: z.string().min(1).max(256),
  account_id: z.string().min(1),
  submitted_at: IsoTimestamp,
};

/** The message an order system puts on the orders queue. Invalid ones are dead-lettered at once. */
export const OrderTask = z.discriminatedUnion('operation', [
  z.object({ ...TaskBase, operation: z.literal('place_order'), params: PlaceOrderParams }),
  z.object({ ...TaskBase, operation: z.literal('modify_order'), params: ModifyOrderParams }),
  z.object({ ...TaskBase, operation: z.literal('cancel_order'), params: CancelOrderParams }),
]);
export type OrderTask = z.infer<typeof OrderTask>;

/** Life of an order task (plan §3.5): PENDING → RUNNING → COMPLETED, RUNNING → RETRYING, → DEAD_LETTER. */
export const OrderTaskStatus = z.enum(['PENDING', 'RUNNING', 'RETRYING', 'COMPLETED', 'DEAD_LETTER']);
export type OrderTaskStatus = z.infer<typeof OrderTaskStatus>;

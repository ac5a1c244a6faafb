import { z } from 'zod';
import { IsoTimestamp } from './common.js';

/**
 * A task id: safe in a URL path without encoding, so every task a producer can queue can also be
 * read, cancelled and redriven over REST (`dead-letter` is the listing's own path segment).
 */
export const TaskId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, { message: 'must be 1-128 letters, digits, _ . : or -' })
  .refine((id) => id !== 'dead-letter', { message: 'dead-letter is reserved' })
  .meta({ description: 'The order task id', example: 'ord-2025-01-08-0001' });

/**
 * Kite's `market_protection` (April 2026): -1 lets the broker compute the band, otherwise a
 * percentage above 0 and at most 100; 0 is what Kite refuses, so it is refused here first.
 */
export const MarketProtection = z
  .number()
  .refine((v) => v === -1 || (v > 0 && v <= 100), {
    message: 'must be -1 (automatic) or a percentage above 0 and at most 100',
  })
  .meta({ description: 'Market protection for MARKET and SL-M orders: -1 (automatic, the default) or a percentage' });

/** Order types that execute at market once triggered, which Kite requires `market_protection` for. */
export const MARKET_PROTECTED_TYPES: ReadonlySet<string> = new Set(['MARKET', 'SL-M']);

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
    market_protection: MarketProtection.optional(),
    /** Split a quantity above the exchange's freeze quantity into child orders (at most 10); never sent to Kite. */
    slice: z.boolean().optional(),
  })
  .refine((p) => (p.order_type !== 'LIMIT' && p.order_type !== 'SL') || p.price !== undefined, {
    message: 'price is required for LIMIT and SL orders',
    path: ['price'],
  })
  .refine((p) => (p.order_type !== 'SL' && p.order_type !== 'SL-M') || p.trigger_price !== undefined, {
    message: 'trigger_price is required for SL and SL-M orders',
    path: ['trigger_price'],
  })
  // Absent protection on a MARKET or SL-M order is the broker's automatic band, and the task shows it.
  // `overwrite`, not `transform`: the shape stays the same, so the OpenAPI document can describe it.
  .overwrite((p) =>
    MARKET_PROTECTED_TYPES.has(p.order_type) && p.market_protection === undefined ? { ...p, market_protection: -1 } : p,
  );

export const ModifyOrderParams = z.object({
  variety: Variety.default('regular'),
  order_id: z.string().min(1),
  quantity: z.int().positive().optional(),
  price: z.number().positive().optional(),
  trigger_price: z.number().positive().optional(),
  order_type: z.enum(['MARKET', 'LIMIT', 'SL', 'SL-M']).optional(),
  validity: z.enum(['DAY', 'IOC', 'TTL']).optional(),
  market_protection: MarketProtection.optional(),
});

export const CancelOrderParams = z.object({
  variety: Variety.default('regular'),
  order_id: z.string().min(1),
});

const TaskBase = {
  task_id: TaskId,
  /** The business key: a repeat with the same key is placed at most once. */
  idempotency_key: z.string().min(1).max(256),
  account_id: z.string().min(1),
  submitted_at: IsoTimestamp,
  /**
   * Who the order belongs to: the caller's principal id on REST (set by the platform, never taken
   * from the body), the producer's choice on SQS, else the queue's default owner.
   */
  owner: z.string().min(1).max(128).optional(),
};

/** The message an order system puts on the orders queue. Invalid ones are dead-lettered at once. */
export const OrderTask = z.discriminatedUnion('operation', [
  z.object({ ...TaskBase, operation: z.literal('place_order'), params: PlaceOrderParams }),
  z.object({ ...TaskBase, operation: z.literal('modify_order'), params: ModifyOrderParams }),
  z.object({ ...TaskBase, operation: z.literal('cancel_order'), params: CancelOrderParams }),
]);
export type OrderTask = z.infer<typeof OrderTask>;

/** Task lifecycle (docs/test-plan-index.md): PENDING → RUNNING → COMPLETED, RUNNING → RETRYING, → DEAD_LETTER. */
export const OrderTaskStatus = z.enum(['PENDING', 'RUNNING', 'RETRYING', 'COMPLETED', 'DEAD_LETTER']);
export type OrderTaskStatus = z.infer<typeof OrderTaskStatus>;

/** One child order of a sliced order (`params.slice`), as REST and the WebSocket order frames show it. */
export const OrderSliceView = z.object({
  /** 1 for the first child. */
  index: z.int().positive(),
  /** The units this child carries (whole lots, at most the freeze quantity). */
  quantity: z.int().positive(),
  order_id: z.string().nullable().meta({ description: 'Null when the child was not placed' }),
  status: z.string().meta({
    description:
      "Kite's status of the child order; PENDING before it is placed, REJECTED when the broker refused it, NOT PLACED when an earlier child was refused",
  }),
  filled_quantity: z.number(),
  pending_quantity: z.number(),
  average_price: z.number().nullable(),
  status_message: z.string().nullable(),
  /** When the exchange last changed the child (ISO); null until known. */
  updated_at: IsoTimestamp.nullable(),
});
export type OrderSliceView = z.infer<typeof OrderSliceView>;

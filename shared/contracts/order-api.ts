import { z } from 'zod';
import { IsoTimestamp } from './common.js';
import { OrderSliceView, OrderTask, OrderTaskStatus, TaskId } from './order.js';

/**
 * REST shapes of the order pipeline: `POST /orders`, `GET /orders/{task_id}`, the dead-letter
 * listing (TC-ORD-031) and its redrive. The order task itself is the queue contract in `order.ts`.
 */

export { OrderSliceView, TaskId };

const generated = {
  task_id: TaskId.optional().meta({ description: 'The task id; a UUID is generated when absent' }),
  submitted_at: IsoTimestamp.optional().meta({ description: 'When the order system submitted it; now when absent' }),
};

/** `POST /orders` body: an order task, `task_id` and `submitted_at` optional. */
export const CreateOrderRequest = z.discriminatedUnion('operation', [
  OrderTask.options[0].extend(generated),
  OrderTask.options[1].extend(generated),
  OrderTask.options[2].extend(generated),
]);
export type CreateOrderRequest = z.infer<typeof CreateOrderRequest>;

/** `POST /orders` response, status 202: the task is recorded PENDING and queued. */
export const CreateOrderResponse = z.object({
  message: z.literal('Order accepted'),
  task_id: z.string(),
  status: z.literal('PENDING'),
  /** True when orders go to the paper broker (no Kite account configured): nothing real is placed. */
  paper: z.boolean(),
});
export type CreateOrderResponse = z.infer<typeof CreateOrderResponse>;

/** One broker attempt of a task. */
export const OrderAttemptView = z.object({
  attempt: z.int().positive(),
  at: IsoTimestamp,
  error: z
    .object({ type: z.string(), message: z.string(), retryable: z.boolean() })
    .nullable()
    .meta({ description: 'Why the attempt failed; null for the attempt that succeeded' }),
});
export type OrderAttemptView = z.infer<typeof OrderAttemptView>;

/** The status record of an order task, as the REST API shows it. */
export const OrderStatusView = z.object({
  task_id: z.string(),
  status: OrderTaskStatus,
  operation: z.enum(['place_order', 'modify_order', 'cancel_order']),
  account_id: z.string(),
  idempotency_key: z.string(),
  submitted_at: IsoTimestamp,
  /** The task as queued. */
  task: OrderTask,
  attempts: z.array(OrderAttemptView),
  result: z
    .object({
      order_id: z.string().meta({ description: "The broker order id; a sliced order's first child's" }),
      paper: z.boolean(),
      status: z.string().optional().meta({ description: "Kite's status; a sliced order's aggregate of its children" }),
      average_price: z.number().optional(),
      filled_quantity: z.number().optional(),
      pending_quantity: z.number().optional(),
      quantity: z.number().optional(),
      status_message: z.string().optional(),
      slices: z
        .array(OrderSliceView)
        .optional()
        .meta({ description: 'A sliced order (`slice: true`): each child order, in the order placed' }),
    })
    .nullable(),
  last_error: z.string().nullable(),
  /** The error type a dead letter is listed under (its last attempt's, or why it was dead-lettered). */
  error_type: z.string().nullable(),
  created_at: IsoTimestamp,
  updated_at: IsoTimestamp,
  redriven_at: IsoTimestamp.nullable(),
  /** Whether orders go to the paper broker on this platform. */
  paper: z.boolean(),
  /**
   * The message body as received when it was not an order task (a `validation` dead letter):
   * `task` is then a stand-in cancel of order `invalid-message` and this is what a redrive sends.
   */
  raw_body: z.string().nullable().optional(),
});
export type OrderStatusView = z.infer<typeof OrderStatusView>;

/** `GET /orders/{task_id}` response. */
export const OrderResponse = z.object({ order: OrderStatusView });
export type OrderResponse = z.infer<typeof OrderResponse>;

/** `GET /orders/dead-letter` response (TC-ORD-031): dead letters newest first, one page. */
export const DeadLetterListResponse = z.object({
  dead_letters: z.array(OrderStatusView),
  next_cursor: z.string().nullable(),
});
export type DeadLetterListResponse = z.infer<typeof DeadLetterListResponse>;

/** `POST /orders/dead-letter/{task_id}/redrive` response, status 202. */
export const RedriveOrderResponse = z.object({
  message: z.literal('Order redriven'),
  task_id: z.string(),
  status: z.literal('PENDING'),
  /**
   * `dead-letter-queue` when the task's message was moved back from the dead-letter queue;
   * `status-record` when it was not there (dead-lettered without reaching it, or expired) and the
   * task was queued again from its status record.
   */
  source: z.enum(['dead-letter-queue', 'status-record']),
});
export type RedriveOrderResponse = z.infer<typeof RedriveOrderResponse>;

import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '../../shared/auth/authenticator.js';
import { hasRole, Role } from '../../shared/auth/roles.js';
import { MarketProtection, OrderTask, OrderTaskStatus } from '../../shared/contracts/order.js';
import {
  CreateOrderRequest,
  type CreateOrderResponse,
  type OrderResponse,
  type OrderStatusView,
  TaskId,
} from '../../shared/contracts/order-api.js';
import { isOpenBrokerStatus } from '../../shared/domain/orders/broker-order.js';
import { errorTypeOf, tagError } from '../../shared/domain/orders/order-status.js';
import { ConflictError, describeError, NotFoundError, ValidationError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { referencePriceOf } from '../../shared/market-data/reference-price.js';
import { sliceViews } from '../../shared/order-updates.js';
import type { OrderRecord, OrderResult } from '../../shared/ports/orders.js';
import type { Components } from '../../shared/wiring.js';
import { type ExchangeCheckDependencies, exchangeIssues } from '../orders/exchange-check.js';
import { apiContext } from './context.js';
import type { ProtectedUseCase } from './protected.js';
import { parseJsonBody, parsePath } from './request.js';

/**
 * The error type an order is dead-lettered under when the queue refused it: the status record exists
 * but no message does, so it is listed with the dead letters, where it can be redriven.
 */
export const QUEUE_UNAVAILABLE = 'queue-unavailable';

/** `{task_id}` path parameter. */
export const TaskIdPath = z.object({ task_id: TaskId });

/** Whether orders go to the paper broker: no Kite account is configured (the worker's rule too). */
export function paperTrading(components: Components): boolean {
  return components.config.kite.accounts.length === 0;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The REST shape of a status record. */
export function toOrderStatus(record: OrderRecord, paper: boolean): OrderStatusView {
  const { task } = record;
  return {
    task_id: task.task_id,
    status: record.status,
    operation: task.operation,
    account_id: task.account_id,
    idempotency_key: task.idempotency_key,
    submitted_at: task.submitted_at,
    task,
    attempts: record.attempts.map((a) => ({ attempt: a.attempt, at: iso(a.at), error: a.error ?? null })),
    result: record.result === undefined ? null : toResultView(record.result),
    last_error: record.lastError ?? null,
    error_type: record.status === 'DEAD_LETTER' ? (errorTypeOf(record.lastError) ?? null) : null,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
    redriven_at: record.redrivenAt === undefined ? null : iso(record.redrivenAt),
    raw_body: record.rawBody ?? null,
    paper,
  };
}

/** The REST shape of a task's result: the order (a sliced order's aggregate) and each child. */
function toResultView(result: OrderResult): NonNullable<OrderStatusView['result']> {
  return {
    order_id: result.orderId,
    paper: result.paper,
    ...(result.status !== undefined && { status: result.status }),
    ...(result.averagePrice !== undefined && { average_price: result.averagePrice }),
    ...(result.filledQuantity !== undefined && { filled_quantity: result.filledQuantity }),
    ...(result.pendingQuantity !== undefined && { pending_quantity: result.pendingQuantity }),
    ...(result.quantity !== undefined && { quantity: result.quantity }),
    ...(result.statusMessage !== undefined && { status_message: result.statusMessage }),
    ...(result.slices !== undefined && { slices: sliceViews(result.slices) }),
  };
}

/**
 * Puts a task whose message could not be queued among the dead letters (best effort), so it is
 * neither lost nor left PENDING for ever: the listing shows it and a redrive queues it again.
 */
async function deadLetterUnqueued(components: Components, taskId: string, error: unknown): Promise<void> {
  const reason = tagError(QUEUE_UNAVAILABLE, `The orders queue refused the task: ${describeError(error)}`);
  try {
    await components.orders.transition(taskId, 'DEAD_LETTER', { lastError: reason }, components.clock.now());
  } catch (storeError) {
    components.logger.error('Order task could not be queued nor dead-lettered', {
      taskId,
      error: describeError(error),
      storeError: describeError(storeError),
    });
  }
}

/**
 * `POST /orders` (TC-ORD-001): validates the task against the order contract (400 naming the
 * fields), generates `task_id` and `submitted_at` when absent, records it PENDING (409 when the
 * task id exists: a resubmission never resets a task) and queues it; 202 with the task id. An
 * account must be a configured Kite account when there are any: orders are pinned to theirs.
 */
export function createOrderUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger }, principal) => {
    const { value } = parseJsonBody(event, CreateOrderRequest);
    const accounts = components.config.kite.accounts.map((a) => a.id);
    if (accounts.length > 0 && !accounts.includes(value.account_id)) {
      throw new ValidationError(`Unknown account ${JSON.stringify(value.account_id)}`, [
        { path: 'account_id', message: `must be one of ${accounts.join(', ')}` },
      ]);
    }
    const now = components.clock.now();
    // The caller owns the order, whatever the body says: an owner is never taken from a request.
    const task = OrderTask.parse({
      ...value,
      task_id: value.task_id ?? randomUUID(),
      submitted_at: value.submitted_at ?? iso(now),
      owner: principal.id,
    });
    const issues = await exchangeIssues(exchangeCheck(components), task);
    if (issues.length > 0) {
      throw new ValidationError(
        `The exchange would refuse this order: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        [...issues],
      );
    }
    await components.orders.create(task, now);
    try {
      await components.orderQueue.enqueue(task);
    } catch (error) {
      await deadLetterUnqueued(components, task.task_id, error);
      throw error;
    }
    logger.info('Order accepted', {
      taskId: task.task_id,
      operation: task.operation,
      accountId: task.account_id,
      caller: principal.id,
    });
    const body: CreateOrderResponse = {
      message: 'Order accepted',
      task_id: task.task_id,
      status: 'PENDING',
      paper: paperTrading(components),
    };
    return { status: 202, body, headers: { location: `/orders/${task.task_id}` } };
  };
}

/**
 * Task `taskId` as `principal` may see it: its own, or anyone's for an admin. Someone else's order
 * is a 404 for everyone else, exactly as an unknown one: a caller cannot even learn that another's
 * task id exists.
 */
export async function ownOrder(components: Components, taskId: string, principal: Principal): Promise<OrderRecord> {
  const record = await components.orders.get(taskId);
  if (record === undefined || !(record.task.owner === principal.id || hasRole(principal.role, Role.admin))) {
    throw new NotFoundError(`No order task ${taskId}`);
  }
  return record;
}

/** The exchange rules' view of this platform: its instrument registry and the live reference prices. */
function exchangeCheck(components: Components): ExchangeCheckDependencies {
  return {
    instruments: () => apiContext(components).registry.all(),
    referencePrice: (token) => referencePriceOf(components.state, token),
  };
}

/** `GET /orders/{task_id}` (TC-ORD-001 to 003): the caller's task's status record; 404 for an unknown id or another's. */
export function getOrderUseCase(components: Components): ProtectedUseCase {
  return async (event, _context, principal) => {
    const { task_id } = parsePath(event, TaskIdPath);
    const record = await ownOrder(components, task_id, principal);
    const body: OrderResponse = { order: toOrderStatus(record, paperTrading(components)) };
    return { status: 200, body };
  };
}

/** `PATCH /orders/{task_id}` body: the terms to change; at least one. */
export const ModifyOrderRequest = z
  .strictObject({
    quantity: z.int().positive().optional(),
    price: z.number().positive().optional(),
    trigger_price: z.number().positive().optional(),
    order_type: z.enum(['MARKET', 'LIMIT', 'SL', 'SL-M']).optional(),
    validity: z.enum(['DAY', 'IOC', 'TTL']).optional(),
    market_protection: MarketProtection.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message: 'name at least one of quantity, price, trigger_price, order_type, validity, market_protection',
  })
  .meta({ description: 'What to change on the placed order' });

/** One child's change task of a sliced order (`DELETE` / `PATCH` of a task with `slices`). */
export const SliceChangeView = z.object({
  index: z.int().positive(),
  task_id: z.string(),
  order_id: z.string(),
  status: OrderTaskStatus,
});

/** `DELETE` / `PATCH /orders/{task_id}` response, status 202: the change task is queued. */
export const OrderChangeResponse = z.object({
  message: z.enum(['Cancel accepted', 'Modify accepted']),
  /** The cancel or modify task (a sliced order's: the first child's): follow it with `GET /orders/{task_id}`. */
  task_id: z.string(),
  /** The task that placed the order; its `result` shows the order's new state. */
  order_task_id: z.string(),
  order_id: z.string(),
  status: OrderTaskStatus,
  /** A sliced order: one change task per open child (and those an earlier identical request queued). */
  slices: z.array(SliceChangeView).optional(),
});
export type OrderChangeResponse = z.infer<typeof OrderChangeResponse>;

/**
 * The id of the task that changes order task `taskId`: derived from it and what it asks, so a
 * repeated DELETE or the same PATCH again finds the task already queued (idempotent) instead of
 * cancelling or modifying twice.
 */
export function changeTaskId(taskId: string, kind: 'cancel' | 'modify', body?: unknown): string {
  const digest = createHash('sha256')
    .update(`${taskId}\n${kind}\n${JSON.stringify(body ?? null)}`)
    .digest('hex')
    .slice(0, 16);
  return `${kind}-${digest}`;
}

type Changes = z.infer<typeof ModifyOrderRequest> | undefined;

/**
 * Queues a cancel or modify of the caller's placed order (TC-ORD: cancel and modify): 202 with the
 * change task, the same one for a repeat; 404 for an unknown or another's task; 409 when the order
 * is not placed yet (retry once it is), was never placed (dead letter) or is finished at the broker.
 * A sliced order's change is one task per open child, each keyed by the request and the child.
 */
async function changeOrder(
  components: Components,
  principal: Principal,
  taskId: string,
  kind: 'cancel' | 'modify',
  changes: Changes,
  logger: Logger,
): Promise<{ status: number; body: OrderChangeResponse }> {
  const placed = await ownOrder(components, taskId, principal);
  if (placed.task.operation !== 'place_order') {
    throw new ConflictError(`Order task ${taskId} is a ${placed.task.operation}, not a placement`);
  }
  if (placed.status !== 'COMPLETED' || placed.result === undefined) {
    throw new ConflictError(
      placed.status === 'DEAD_LETTER'
        ? `Order task ${taskId} was never placed (DEAD_LETTER)`
        : `Order task ${taskId} is ${placed.status}: not placed yet; try again once it is COMPLETED`,
    );
  }
  const order = placed.result;
  const message = kind === 'cancel' ? 'Cancel accepted' : 'Modify accepted';
  if (order.slices !== undefined) return changeSlices(components, principal, placed, kind, changes, logger);
  if (!isOpenBrokerStatus(order.status)) {
    throw new ConflictError(`Order ${order.orderId} is ${order.status} and cannot be changed`);
  }
  const id = changeTaskId(taskId, kind, changes);
  const existing = await components.orders.get(id);
  const status =
    existing?.status ?? (await queueChange(components, principal, placed, id, kind, order.orderId, changes, logger));
  return { status: 202, body: { message, task_id: id, order_task_id: taskId, order_id: order.orderId, status } };
}

/**
 * A change of a sliced order: a cancel cancels every open child; a modify changes the terms of
 * every open child, but not `quantity` (a 400 naming it): a total has no one right split across
 * children each capped at the freeze quantity, so a trader cancels and places anew instead.
 */
async function changeSlices(
  components: Components,
  principal: Principal,
  placed: OrderRecord,
  kind: 'cancel' | 'modify',
  changes: Changes,
  logger: Logger,
): Promise<{ status: number; body: OrderChangeResponse }> {
  const taskId = placed.task.task_id;
  const slices = placed.result?.slices ?? [];
  if (changes?.quantity !== undefined) {
    throw new ValidationError(`Order task ${taskId} is sliced: its quantity cannot be modified`, [
      {
        path: 'quantity',
        message: `cannot be modified on a sliced order (${slices.length} child orders): cancel it and place a new order; price, trigger_price, order_type, validity and market_protection apply to every open child`,
      },
    ]);
  }
  const queued: z.infer<typeof SliceChangeView>[] = [];
  for (const slice of slices) {
    if (slice.order === undefined) continue;
    const id = changeTaskId(taskId, kind, { ...changes, slice: slice.index });
    const existing = await components.orders.get(id);
    let status = existing?.status;
    if (status === undefined && isOpenBrokerStatus(slice.order.status)) {
      status = await queueChange(components, principal, placed, id, kind, slice.order.orderId, changes, logger);
    }
    if (status !== undefined) queued.push({ index: slice.index, task_id: id, order_id: slice.order.orderId, status });
  }
  const first = queued[0];
  if (first === undefined) {
    throw new ConflictError(`Order task ${taskId} has no open child order (${placed.result?.status}) to change`);
  }
  return {
    status: 202,
    body: {
      message: kind === 'cancel' ? 'Cancel accepted' : 'Modify accepted',
      task_id: first.task_id,
      order_task_id: taskId,
      order_id: first.order_id,
      status: first.status,
      slices: queued,
    },
  };
}

/** Records and queues change task `id` of broker order `orderId`; the status it has (PENDING, or a racing twin's). */
async function queueChange(
  components: Components,
  principal: Principal,
  placed: OrderRecord,
  id: string,
  kind: 'cancel' | 'modify',
  orderId: string,
  changes: Changes,
  logger: Logger,
): Promise<OrderTaskStatus> {
  const now = components.clock.now();
  const base = {
    task_id: id,
    idempotency_key: id,
    account_id: placed.task.account_id,
    submitted_at: iso(now),
    // The order's owner, also when an admin changes it: its updates reach the owner's connections.
    owner: placed.task.owner,
  };
  const variety = placed.task.params.variety;
  const task = OrderTask.parse(
    kind === 'cancel'
      ? { ...base, operation: 'cancel_order', params: { variety, order_id: orderId } }
      : { ...base, operation: 'modify_order', params: { variety, order_id: orderId, ...changes } },
  );
  try {
    await components.orders.create(task, now);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // The same change raced in from another call: it is queued once, by whichever created it.
    return (await components.orders.get(id))?.status ?? 'PENDING';
  }
  try {
    await components.orderQueue.enqueue(task);
  } catch (error) {
    await deadLetterUnqueued(components, id, error);
    throw error;
  }
  logger.info(`Order ${kind} accepted`, {
    taskId: id,
    orderTaskId: placed.task.task_id,
    orderId,
    caller: principal.id,
  });
  return 'PENDING';
}

/** `DELETE /orders/{task_id}`: cancels the caller's placed order (a queued `cancel_order` task). */
export function cancelOrderUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger }, principal) => {
    const { task_id } = parsePath(event, TaskIdPath);
    return changeOrder(components, principal, task_id, 'cancel', undefined, logger);
  };
}

/** `PATCH /orders/{task_id}`: modifies the caller's placed order (a queued `modify_order` task). */
export function modifyOrderUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger }, principal) => {
    const { task_id } = parsePath(event, TaskIdPath);
    const { value } = parseJsonBody(event, ModifyOrderRequest);
    return changeOrder(components, principal, task_id, 'modify', value, logger);
  };
}

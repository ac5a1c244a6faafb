import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { OrderTask } from '../../shared/contracts/order.js';
import {
  CreateOrderRequest,
  type CreateOrderResponse,
  type OrderResponse,
  type OrderStatusView,
  TaskId,
} from '../../shared/contracts/order-api.js';
import { errorTypeOf, tagError } from '../../shared/domain/orders/order-status.js';
import { describeError, NotFoundError, ValidationError } from '../../shared/errors.js';
import type { OrderRecord } from '../../shared/ports/orders.js';
import type { Components } from '../../shared/wiring.js';
import type { HttpUseCase } from '../http/http-handler.js';
import { authenticated } from './protected.js';
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
    result:
      record.result === undefined
        ? null
        : {
            order_id: record.result.orderId,
            paper: record.result.paper,
            ...(record.result.status !== undefined && { status: record.result.status }),
            ...(record.result.averagePrice !== undefined && { average_price: record.result.averagePrice }),
          },
    last_error: record.lastError ?? null,
    error_type: record.status === 'DEAD_LETTER' ? (errorTypeOf(record.lastError) ?? null) : null,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
    redriven_at: record.redrivenAt === undefined ? null : iso(record.redrivenAt),
    paper,
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
export function createOrderUseCase(components: Components): HttpUseCase {
  return authenticated(components, async (event, { logger }, principal) => {
    const { value } = parseJsonBody(event, CreateOrderRequest);
    const accounts = components.config.kite.accounts.map((a) => a.id);
    if (accounts.length > 0 && !accounts.includes(value.account_id)) {
      throw new ValidationError(`Unknown account ${JSON.stringify(value.account_id)}`, [
        { path: 'account_id', message: `must be one of ${accounts.join(', ')}` },
      ]);
    }
    const now = components.clock.now();
    const task = OrderTask.parse({
      ...value,
      task_id: value.task_id ?? randomUUID(),
      submitted_at: value.submitted_at ?? iso(now),
    });
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
  });
}

/** `GET /orders/{task_id}` (TC-ORD-001 to 003): the task's status record; 404 for an unknown id. */
export function getOrderUseCase(components: Components): HttpUseCase {
  return authenticated(components, async (event) => {
    const { task_id } = parsePath(event, TaskIdPath);
    const record = await components.orders.get(task_id);
    if (record === undefined) throw new NotFoundError(`No order task ${task_id}`);
    const body: OrderResponse = { order: toOrderStatus(record, paperTrading(components)) };
    return { status: 200, body };
  });
}

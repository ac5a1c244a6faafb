import { z } from 'zod';
import type { DeadLetterListResponse, RedriveOrderResponse } from '../../shared/contracts/order-api.js';
import { ConflictError } from '../../shared/errors.js';
import type { Components } from '../../shared/wiring.js';
import { ownOrder, paperTrading, TaskIdPath, toOrderStatus } from './orders.js';
import type { ProtectedUseCase } from './protected.js';
import { parsePath, parseQuery } from './request.js';

/** Page size of `GET /orders/dead-letter` when `limit` is not given. */
export const DEFAULT_DEAD_LETTER_PAGE = 100;

/** `GET /orders/dead-letter` query. */
export const DeadLetterQuery = z.object({
  error_type: z
    .string()
    .regex(/^[a-z0-9_-]{1,64}$/, { message: 'must be an error type such as timeout, input or validation' })
    .optional()
    .meta({
      description:
        'Only dead letters of this error type: a broker error kind (network, timeout, rate-limited, server, input, ' +
        'permission, margin, token), validation, conflict, max_receives (moved by the queue after too many ' +
        'receives), internal or queue-unavailable',
    }),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, { message: 'must be a positive whole number' })
    .transform(Number)
    .pipe(z.int().min(1, { message: 'must be at least 1' }).max(1000, { message: 'must be at most 1000' }))
    .optional()
    .meta({ description: `Page size, 1-1000 (default ${DEFAULT_DEAD_LETTER_PAGE})` }),
  cursor: z.string().min(1).max(1024).optional().meta({ description: "The previous page's next_cursor" }),
});

/**
 * Delivery delay of a redriven message: the redrive stamps the record PENDING right after the send,
 * and a worker that got the message first would find the task still DEAD_LETTER and send it back
 * to the dead letters. Should the write take longer, the task is PENDING with its message on the
 * dead letters, which the sweeper requeues once the record is stale.
 */
export const REDRIVE_DELIVERY_DELAY_SECONDS = 2;

/** Time kept back from the invocation's end for the send, the record's write and the answer. */
const REDRIVE_RESERVE_MS = 3_000;

/** How long the dead-letter scan may run when the invocation's remaining time is unknown. */
const DEFAULT_SCAN_MS = 5_000;

/**
 * `GET /orders/dead-letter?error_type=&limit=&cursor=` (TC-ORD-031, admin only): every caller's
 * dead-lettered tasks newest first, each with its attempts, errors and timestamps, filtered by error type when
 * asked. Besides what the worker dead-letters, it lists what SQS's redrive policy moved
 * (`max_receives`, recorded by the dead-letter consumer) and poison messages that name a task id
 * (`validation`, with `raw_body`).
 */
export function listDeadLettersUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const query = parseQuery(event, DeadLetterQuery);
    // An admin-only route (functions/routes.ts): every caller's dead letters.
    const page = await components.orders.listDeadLetters({
      limit: query.limit ?? DEFAULT_DEAD_LETTER_PAGE,
      ...(query.error_type !== undefined && { errorType: query.error_type }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    const paper = paperTrading(components);
    const body: DeadLetterListResponse = {
      dead_letters: page.items.map((r) => toOrderStatus(r, paper)),
      next_cursor: page.cursor ?? null,
    };
    return { status: 200, body };
  };
}

/**
 * `POST /orders/dead-letter/{task_id}/redrive` (TC-ORD-030: "can be retried manually"): queues a
 * DEAD_LETTER task again (admin only: anyone's task), then moves its record to PENDING.
 *
 * The message goes first: its dead letter moved back to the orders queue when the scan finds it
 * within the invocation's remaining time, else the task sent from its status record (a poison
 * message's raw body for those). Only once it is on the queue is the record changed, with a
 * conditional DEAD_LETTER → PENDING, so a redrive that fails or times out before that leaves the
 * task DEAD_LETTER and listed, never PENDING with nothing queued; a failed send is a 503 and
 * changes nothing. A sequential second redrive finds the task PENDING: 409, nothing sent. Two at
 * once both send but only one moves the record; the other answers 409 saying so. Its message is a
 * duplicate and harmless: the worker places under the task's idempotency key and moves the record
 * by conditional transitions, so the order is placed at most once.
 *
 * 404 for an unknown task.
 */
export function redriveOrderUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger, remainingTimeMs }, principal) => {
    const { task_id } = parsePath(event, TaskIdPath);
    const record = await ownOrder(components, task_id, principal);
    if (record.status !== 'DEAD_LETTER') {
      throw new ConflictError(`Order task ${task_id} is ${record.status}; only DEAD_LETTER tasks can be redriven`);
    }
    // The round starts before its message is sent: the dead-letter consumer tells leftovers of the
    // previous round by messages sent before `redrivenAt`.
    const startedAt = components.clock.now();
    const scanMs =
      remainingTimeMs === undefined ? DEFAULT_SCAN_MS : Math.max(0, remainingTimeMs() - REDRIVE_RESERVE_MS);
    const delaySeconds = REDRIVE_DELIVERY_DELAY_SECONDS;
    let source: RedriveOrderResponse['source'];
    if (await components.orderQueue.redrive(task_id, { signal: AbortSignal.timeout(scanMs), delaySeconds })) {
      source = 'dead-letter-queue';
    } else {
      await components.orderQueue.enqueue(record.task, {
        delaySeconds,
        ...(record.rawBody !== undefined && { body: record.rawBody }),
      });
      source = 'status-record';
    }
    const pending = await components.orders.transition(task_id, 'PENDING', {}, startedAt);
    if (pending === undefined) {
      logger.warn('Order redrive lost to a concurrent one; its message is a duplicate', { taskId: task_id, source });
      throw new ConflictError(
        `Order task ${task_id} was redriven by another request meanwhile; the message this one queued is a ` +
          'duplicate, which the worker places at most once',
      );
    }
    logger.info('Order redriven', { taskId: task_id, source, caller: principal.id });
    const body: RedriveOrderResponse = { message: 'Order redriven', task_id, status: 'PENDING', source };
    return { status: 202, body };
  };
}

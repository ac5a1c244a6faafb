import { createHash } from 'node:crypto';
import { IsoTimestamp } from '../../shared/contracts/common.js';
import { OrderTask } from '../../shared/contracts/order.js';
import { OrderErrorType } from '../../shared/domain/orders/order-errors.js';
import { tagError } from '../../shared/domain/orders/order-status.js';
import { ConflictError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { QueueMessageRef } from '../../shared/ports/order-queue-control.js';
import type { OrderRecord, OrderStore } from '../../shared/ports/orders.js';

/** What recording a dead letter needs; the worker's and the dead-letter consumer's dependencies both fit. */
export interface DeadLetterRecordDependencies {
  readonly orders: Pick<OrderStore, 'get' | 'create' | 'transition'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The owner of a task whose producer named none (`ORDERS_DEFAULT_OWNER`). */
  readonly defaultOwner?: string;
}

/**
 * Longest raw body kept on a record: DynamoDB items stop at 400 KB while SQS bodies reach 1 MiB. A
 * cut body is still not an order task, so a redrive of it is dead-lettered again all the same.
 */
export const MAX_RAW_BODY_CHARS = 64 * 1024;

/** The order id a stand-in task cancels: no broker issues it, so the stand-in can never open a position. */
export const INVALID_MESSAGE_ORDER_ID = 'invalid-message';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonObject(body: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(body);
    return isObject(json) ? json : {};
  } catch {
    return {};
  }
}

/**
 * The message body as an order task, filled in as the worker fills it: `submitted_at` from when the
 * message was sent, `owner` from the queue's default, when the producer left them out.
 */
export function orderTaskOfBody(
  body: string,
  defaults: { readonly sentMs: number; readonly defaultOwner?: string | undefined },
): OrderTask | undefined {
  const json = jsonObject(body);
  const filled = {
    ...json,
    ...(json.submitted_at === undefined && { submitted_at: new Date(defaults.sentMs).toISOString() }),
    ...(json.owner === undefined && defaults.defaultOwner !== undefined && { owner: defaults.defaultOwner }),
  };
  const parsed = OrderTask.safeParse(filled);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The stand-in `task` of a poison message's record: the REST view and the store need an
 * {@link OrderTask}, and the message is not one. It keeps what the body says that is readable (who
 * owns it, which account, when) so the owner sees it and an operator can tell what it was; the
 * rest is a cancel of an order id no broker issued under an idempotency key of its own, so even if
 * it ever reached a worker it could neither open a position nor take the key of a real order. The
 * body itself is kept beside it ({@link OrderRecord.rawBody}) and is what a redrive sends.
 */
export function invalidMessageTask(
  body: string,
  taskId: string,
  defaults: { readonly sentMs: number; readonly defaultOwner?: string | undefined },
): OrderTask {
  const json = jsonObject(body);
  const text = (value: unknown, max: number) =>
    typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
  const owner = text(json.owner, 128) ?? defaults.defaultOwner;
  const submitted = IsoTimestamp.safeParse(json.submitted_at);
  return OrderTask.parse({
    task_id: taskId,
    idempotency_key: `invalid-message:${taskId}`,
    account_id: text(json.account_id, 64) ?? 'unknown',
    submitted_at: submitted.success ? submitted.data : new Date(defaults.sentMs).toISOString(),
    ...(owner !== undefined && { owner }),
    operation: 'cancel_order',
    params: { variety: 'regular', order_id: INVALID_MESSAGE_ORDER_ID },
  });
}

/** The record id a message is kept under when its task id already belongs to a real order. */
function asideId(taskId: string, body: string): string {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return `${taskId.slice(0, 100)}.invalid.${digest}`;
}

/**
 * Creates a record for a message that had none: the task it carries, or for a body that is not an
 * order task a stand-in with the raw body. Another writer creating it first is no failure.
 */
async function ensureRecord(
  deps: DeadLetterRecordDependencies,
  recordId: string,
  body: string,
  sentMs: number,
): Promise<void> {
  const defaults = { sentMs, defaultOwner: deps.defaultOwner };
  const task = orderTaskOfBody(body, defaults);
  try {
    if (task !== undefined && task.task_id === recordId) await deps.orders.create(task, deps.clock.now());
    else {
      await deps.orders.create(invalidMessageTask(body, recordId, defaults), deps.clock.now(), {
        rawBody: body.slice(0, MAX_RAW_BODY_CHARS),
      });
    }
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

/**
 * Records a poison message whose body names a task id (TC-ORD-021): DEAD_LETTER with error type
 * `validation` and the reason, so `GET /orders/{task_id}` shows it and the dead-letter listing
 * lists it under `validation`. The record of a task id no real order has is the message's own (a
 * stand-in task and the raw body); when the id is a real order's, that order is left alone and the
 * message gets a record of its own beside it, `<task_id>.invalid.<digest>`, as a conflict does.
 * Resolves the id of the record written.
 */
export async function recordInvalidMessage(
  deps: DeadLetterRecordDependencies,
  message: Pick<QueueMessageRef, 'body' | 'sentTimestampMs'>,
  taskId: string,
  reason: string,
): Promise<string> {
  const existing = await deps.orders.get(taskId);
  const recordId = existing === undefined || existing.rawBody !== undefined ? taskId : asideId(taskId, message.body);
  if (existing === undefined || recordId !== taskId) {
    await ensureRecord(deps, recordId, message.body, message.sentTimestampMs ?? deps.clock.now());
  }
  // A record already DEAD_LETTER (a duplicate delivery) keeps its error: the transition is refused.
  await deps.orders.transition(
    recordId,
    'DEAD_LETTER',
    { lastError: tagError(OrderErrorType.validation, reason) },
    deps.clock.now(),
  );
  return recordId;
}

/** A message of the orders dead-letter queue, as the dead-letter consumer receives it. */
export interface DeadLetterMessage extends QueueMessageRef {
  /**
   * SQS's redrive policy moved it there (`maxReceiveCount` receives without an answer), so nothing
   * recorded why; false for a message the worker sent there itself after recording the task.
   */
  readonly movedByRedrivePolicy: boolean;
  /** The body's task id, when it has one that reads as a task id (`readableTaskId`). */
  readonly taskId: string | undefined;
}

/**
 * What became of a dead letter. `recorded` and `kept` stay on the dead-letter queue (a redrive
 * moves them back); `superseded` is a leftover of a round the task was redriven out of, which may go.
 */
export type DeadLetterOutcome =
  | { readonly kind: 'recorded'; readonly taskId: string }
  | { readonly kind: 'kept'; readonly taskId: string | undefined; readonly why: string }
  | { readonly kind: 'superseded'; readonly taskId: string };

/**
 * How far the queue's clock (a message's `SentTimestamp`) and the store's may disagree. A leftover
 * was sent at least a visibility timeout (minutes) before the redrive that superseded it, so a
 * margin of seconds never mistakes one for the other.
 */
export const CLOCK_TOLERANCE_MS = 2_000;

/**
 * Whether a dead letter belongs to a round the task was redriven out of. A redrive sends a fresh
 * message before it stamps `redrivenAt` with the time it began, so every message of the current
 * round was sent at or after that; one sent before is a copy the redrive did not need.
 */
export function isSuperseded(record: OrderRecord, sentMs: number | undefined): boolean {
  return (
    record.status !== 'DEAD_LETTER' &&
    record.redrivenAt !== undefined &&
    sentMs !== undefined &&
    sentMs < record.redrivenAt - CLOCK_TOLERANCE_MS
  );
}

/**
 * The dead-letter consumer's use case (behind `functions/order-dead-letters`): makes every task on
 * the dead-letter queue a DEAD_LETTER record, so the listing shows it and a redrive can move it.
 *
 * - A message SQS's redrive policy moved (a worker that crashed or timed out, a dependency down,
 *   `maxReceiveCount` times) is recorded `[max_receives] …`; its record is created first if the
 *   task never got one (a producer that went straight to the queue), from the body, or as a
 *   stand-in with the raw body when the body is not an order task.
 * - A message the worker sent there itself is left as the worker recorded it: never recorded
 *   twice or re-typed. So is a record already DEAD_LETTER, and a COMPLETED one (the order was
 *   placed: nothing to redrive; only logged).
 * - A leftover of a round the task was redriven out of ({@link isSuperseded}) changes nothing.
 *
 * It never deletes a dead letter itself: what to do with the message is the handler's.
 */
export class DeadLetterRecorder {
  readonly #deps: DeadLetterRecordDependencies;

  constructor(deps: DeadLetterRecordDependencies) {
    this.#deps = deps;
  }

  /** Records one dead letter; rejects only when the store fails (the message then comes back). */
  async record(message: DeadLetterMessage): Promise<DeadLetterOutcome> {
    const { orders, clock, logger } = this.#deps;
    const { taskId } = message;
    if (taskId === undefined) {
      logger.error('A dead letter has no readable task id: it cannot be listed or redriven by id', {
        messageId: message.messageId,
        body: message.body.slice(0, 500),
      });
      return { kind: 'kept', taskId, why: 'no readable task id' };
    }
    const record = await orders.get(taskId);
    if (record !== undefined && isSuperseded(record, message.sentTimestampMs)) {
      logger.info('Dead letter superseded by a redrive of its task', { taskId, messageId: message.messageId });
      return { kind: 'superseded', taskId };
    }
    if (!message.movedByRedrivePolicy) return { kind: 'kept', taskId, why: 'recorded by the worker' };
    if (record?.status === 'DEAD_LETTER') return { kind: 'kept', taskId, why: 'already a dead letter' };
    if (record?.status === 'COMPLETED') {
      logger.warn('A placed order task reached the dead-letter queue; its record is left COMPLETED', {
        taskId,
        messageId: message.messageId,
      });
      return { kind: 'kept', taskId, why: 'completed' };
    }
    if (record === undefined)
      await ensureRecord(this.#deps, taskId, message.body, message.sentTimestampMs ?? clock.now());
    const reason = tagError(
      OrderErrorType.maxReceives,
      "Moved to the dead-letter queue by the orders queue's redrive policy: received the maximum number of times " +
        'without an answer (a worker that crashed or timed out, or a dependency down)',
    );
    const dead = await orders.transition(taskId, 'DEAD_LETTER', { lastError: reason }, clock.now());
    if (dead === undefined) return { kind: 'kept', taskId, why: 'changed meanwhile' };
    logger.error('Order task dead-lettered by the redrive policy', {
      taskId,
      messageId: message.messageId,
      metric: 'order_max_receives_dead_letters',
    });
    return { kind: 'recorded', taskId };
  }
}

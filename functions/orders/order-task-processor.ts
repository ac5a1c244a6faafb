import { createHash } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context } from 'aws-lambda';
import { ownerIdOf } from '../../shared/auth/owner.js';
import { OrderTask, TaskId } from '../../shared/contracts/order.js';
import { type BrokerOrderState, mergeBrokerOrder } from '../../shared/domain/orders/broker-order.js';
import type { CircuitBreaker } from '../../shared/domain/orders/circuit-breaker.js';
import { type ClassifiedError, classifyOrderError, OrderErrorType } from '../../shared/domain/orders/order-errors.js';
import { attemptsThisRound, errorTypeOf, tagError } from '../../shared/domain/orders/order-status.js';
import { backoffSeconds, type RetryPolicy, visibilitySeconds } from '../../shared/domain/orders/retry-policy.js';
import {
  aggregateSlices,
  brokerOrderOf,
  childTask,
  NOT_PLACED,
  nextSlice,
  type OrderSlice,
  type PlaceOrderTask,
  planSlices,
  withSlice,
} from '../../shared/domain/orders/sliced-order.js';
import { ConflictError, describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { type Broker, BrokerError, type OpenOrder } from '../../shared/ports/broker.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { OrderQueueControl, QueueMessageRef } from '../../shared/ports/order-queue-control.js';
import type { OrderRecord, OrderStore } from '../../shared/ports/orders.js';
import { recordInvalidMessage } from './dead-letter-records.js';

/** What the order worker needs; the composition root (or a test) hands it over. */
export interface OrderWorkerDependencies {
  readonly orders: OrderStore;
  /** The per-account circuit breakers, their state shared by every worker. */
  readonly breaker: CircuitBreaker;
  /** The broker of an account (Kite, or paper trading); orders are never moved to another account. */
  readonly brokerFor: (accountId: string) => Broker;
  readonly queue: OrderQueueControl;
  /** Powertools idempotency records (the DynamoDB `idempotency` table). */
  readonly idempotencyStore: BasePersistenceLayer;
  readonly clock: Clock;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  /** How long a placed idempotency key is remembered. Default one day (a trading session and more). */
  readonly idempotencyTtlSeconds?: number;
  /** The owner of a task whose producer named none (`ORDERS_DEFAULT_OWNER`). */
  readonly defaultOwner?: string;
  /**
   * The exchange's rules for a task (lot size, market protection, price band, freeze quantity):
   * the wrong fields, none when it may go to the broker. A refusal is a `validation` dead letter.
   */
  readonly validate?: (task: OrderTask) => Promise<readonly { path: string; message: string }[]>;
  /**
   * The quantities of the child orders a `slice: true` placement is split into (the exchange's
   * freeze quantity and the instrument's lot). Asked only for such tasks; without it they go as one order.
   */
  readonly slicePlan?: (task: OrderTask) => Promise<readonly number[]>;
  /** Told of every change of a task's broker order (pushed to its owner's connections). */
  readonly onOrderChange?: (record: OrderRecord) => void;
}

/**
 * What became of one message. A `retry` is reported failed, so SQS delivers it again after the
 * backoff its visibility was set to (an attempt: it counts toward the queue's redrive limit);
 * `circuit-open`, `throttled` (the account's shared rate budget had no room: nothing was sent) and
 * `busy` are waits, not attempts: a delayed copy went back on the queue and the original is
 * reported processed.
 */
export type OrderMessageOutcome =
  | { readonly kind: 'completed'; readonly record: OrderRecord | undefined }
  | { readonly kind: 'duplicate'; readonly taskId: string }
  | { readonly kind: 'dead-lettered'; readonly taskId: string | undefined; readonly reason: string }
  | { readonly kind: 'retry'; readonly taskId: string; readonly delaySeconds: number }
  | { readonly kind: 'circuit-open'; readonly taskId: string; readonly delaySeconds: number }
  | { readonly kind: 'throttled'; readonly taskId: string; readonly delaySeconds: number }
  | { readonly kind: 'busy'; readonly taskId: string; readonly delaySeconds: number };

/** The outcomes after which this very message must come back (reported failed). */
export function isRedelivered(outcome: OrderMessageOutcome): boolean {
  return outcome.kind === 'retry';
}

/** What a successful placement leaves in the idempotency record (JSON), so a repeat can answer with it. */
interface PlacedOrder extends BrokerOrderState {
  /** A sliced order's children (the rest is their aggregate). */
  readonly slices?: readonly OrderSlice[];
  readonly taskId: string;
  readonly attempt: number;
  readonly at: number;
  readonly paper: boolean;
}

/** A broker call failed; the outer step records the attempt and retries or dead-letters. */
class AttemptFailed extends Error {
  constructor(
    readonly error: ClassifiedError,
    readonly attempt: number,
    readonly at: number,
  ) {
    super(error.message);
    this.name = 'AttemptFailed';
  }
}

/** The account's breaker refused the call: not an attempt. */
class CircuitOpen extends Error {
  constructor(readonly retryAfterMs: number) {
    super('Circuit breaker open');
    this.name = 'CircuitOpen';
  }
}

/** The broker never sent the call: its rate budget has room only after `retryAfterMs`. Not an attempt. */
class Throttled extends Error {
  constructor(
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'Throttled';
  }
}

/** Every attempt of this round is used up (a worker died after recording the last one). */
class AttemptsExhausted extends Error {
  constructor(readonly attempts: number) {
    super(`All ${attempts} attempts were made`);
    this.name = 'AttemptsExhausted';
  }
}

/** Another worker moved the task while this one was about to call the broker. */
class TaskMoved extends Error {
  constructor(readonly taskId: string) {
    super(`Order task ${taskId} changed status under this worker`);
    this.name = 'TaskMoved';
  }
}

/** Time kept back from the invocation's end to record an outcome and steer the message. */
const RECORD_OUTCOME_MS = 3_000;

/** How long a broker call may wait for its rate budget outside Lambda (the local platform). */
const DEFAULT_BROKER_WAIT_MS = 5_000;

/** The key of an account's circuit breaker. */
export function breakerKey(accountId: string): string {
  return `orders#${accountId}`;
}

/**
 * Processes one orders-queue message, start to end (the use case behind `functions/order-worker`):
 *
 * 1. The body must be an {@link OrderTask}; anything else is dead-lettered at once with the
 *    validation error and never retried (TC-ORD-021).
 * 2. The task's status record is created PENDING if the producer did not create it. A finished task
 *    (a duplicate delivery) places nothing.
 * 3. The placement runs under Powertools idempotency keyed on `idempotency_key` (TC-ORD-004): a
 *    repeat of a placed key — a duplicate delivery, or another task with the same key — gets the
 *    first result back and calls no broker. Inside it: the task goes RUNNING, the account's breaker
 *    is asked (an open breaker makes the task RETRYING and hides the message until the breaker's
 *    recovery, without counting an attempt: TC-ORD-012), then the broker is called once.
 * 4. Success makes the task COMPLETED with the result and the attempt. A retryable failure (network,
 *    timeout, 429, 5xx) makes it RETRYING with the attempt's error and hides the message for the
 *    backoff 1, 2, 4 … s (TC-ORD-002, TC-ORD-020); a non-retryable one, or a retryable one on the
 *    last of `maxAttempts`, makes it DEAD_LETTER and moves the message to the dead-letter queue
 *    (TC-ORD-003, TC-ORD-021, TC-ORD-030). Every attempt's error stays in the record.
 *
 * A failure of the worker's own dependencies (DynamoDB, SQS) rejects: the message fails and comes
 * back after its visibility timeout, with nothing recorded as an attempt.
 */
export class OrderTaskProcessor {
  readonly #deps: OrderWorkerDependencies;
  readonly #idempotency: IdempotencyConfig;
  readonly #place: (task: OrderTask, seen: OrderRecord) => Promise<PlacedOrder>;

  constructor(deps: OrderWorkerDependencies) {
    this.#deps = deps;
    this.#idempotency = new IdempotencyConfig({
      eventKeyJmesPath: 'idempotency_key',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: deps.idempotencyTtlSeconds ?? 86_400,
    });
    this.#place = makeIdempotent((task: OrderTask, seen: OrderRecord) => this.#placeOnce(task, seen), {
      persistenceStore: deps.idempotencyStore,
      config: this.#idempotency,
      // A fixed prefix, not the function name: a renamed or redeployed worker must still see the keys.
      keyPrefix: 'orders',
    });
  }

  /**
   * Tells idempotency how long this invocation may run, so a key left in progress by a worker that
   * timed out is released when that invocation would have ended, not after the whole TTL.
   */
  registerContext(context: Context): void {
    this.#idempotency.registerLambdaContext(context);
    this.#remainingMs = () => context.getRemainingTimeInMillis();
  }

  /** What the current invocation has left (ms); unbounded outside Lambda's context. */
  #remainingMs: () => number = () => Number.POSITIVE_INFINITY;

  /**
   * Processes one message; rejects only when the worker's own dependencies fail, after logging the
   * failure with the task id and, where the store still answers, recording it on the task.
   */
  async process(message: QueueMessageRef): Promise<OrderMessageOutcome> {
    try {
      return await this.#process(message);
    } catch (error) {
      const taskId = readableTaskId(message.body);
      this.#deps.logger.error('Order message failed; it comes back after the visibility timeout', {
        taskId,
        messageId: message.messageId,
        error: describeError(error),
      });
      if (taskId !== undefined) await this.#recordInternalFailure(taskId, error);
      throw error;
    }
  }

  /** Best effort: the task shows why it is waiting (RETRYING with the error) rather than an old status. */
  async #recordInternalFailure(taskId: string, error: unknown): Promise<void> {
    try {
      await this.#deps.orders.transition(
        taskId,
        'RETRYING',
        { lastError: tagError(OrderErrorType.internal, `The worker failed: ${describeError(error)}`) },
        this.#deps.clock.now(),
      );
    } catch {
      // The store is what failed; the log line above and the queue's redelivery carry the task.
    }
  }

  async #process(message: QueueMessageRef): Promise<OrderMessageOutcome> {
    const { logger } = this.#deps;
    const task = this.#parse(message);
    if (!task.success) {
      // A readable task id gets a record, so the poison message is visible by id and listed under validation.
      const named = readableTaskId(message.body);
      const taskId =
        named === undefined ? undefined : await recordInvalidMessage(this.#deps, message, named, task.error);
      logger.warn('Invalid order message dead-lettered', {
        messageId: message.messageId,
        taskId,
        error: task.error,
      });
      await this.#deps.queue.deadLetter(message, { type: OrderErrorType.validation, message: task.error });
      return { kind: 'dead-lettered', taskId, reason: tagError(OrderErrorType.validation, task.error) };
    }
    const record = await this.#ensureRecord(task.data);
    if (!samePayload(record.task, task.data)) return this.#conflict(message, record, task.data);
    const finished = await this.#whenFinished(message, record);
    if (finished) return finished;
    // A sliced order with children placed is past the rules: resuming it must not dead-letter them.
    const refused = record.result?.slices === undefined ? await this.#refusal(task.data) : undefined;
    if (refused !== undefined) return this.#deadLetterUnplaced(message, task.data.task_id, refused);

    let placed: PlacedOrder;
    try {
      placed = await this.#place(task.data, record);
    } catch (error) {
      return this.#afterFailure(message, task.data, error);
    }
    return this.#complete(task.data, placed);
  }

  #parse(message: QueueMessageRef): { success: true; data: OrderTask } | { success: false; error: string } {
    let json: unknown;
    try {
      json = JSON.parse(message.body);
    } catch (error) {
      return { success: false, error: `Body is not JSON: ${describeError(error)}` };
    }
    // A producer may leave out when it submitted (the message says when it was sent) and whose it is.
    if (isObject(json)) {
      const sentMs = message.sentTimestampMs ?? this.#deps.clock.now();
      const owner = this.#deps.defaultOwner;
      json = {
        ...json,
        ...(json.submitted_at === undefined && { submitted_at: new Date(sentMs).toISOString() }),
        ...(json.owner === undefined && owner !== undefined && { owner }),
        ...(typeof json.owner === 'string' && json.owner !== '' && { owner: ownerIdOf(json.owner) }),
      };
    }
    const parsed = OrderTask.safeParse(json);
    if (parsed.success) return { success: true, data: parsed.data };
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    return { success: false, error: `Not an order task: ${issues.join('; ')}` };
  }

  /**
   * A task id already used by another order: the new payload is never placed and never replaces
   * the first. It is kept as its own dead letter (`<task_id>.conflict.<digest>`, error type
   * `conflict`) beside the untouched first task, and its message goes to the dead-letter queue.
   */
  async #conflict(message: QueueMessageRef, first: OrderRecord, task: OrderTask): Promise<OrderMessageOutcome> {
    const { orders, clock, queue, logger } = this.#deps;
    const digest = createHash('sha256').update(message.body).digest('hex').slice(0, 12);
    const conflictId = `${task.task_id.slice(0, 100)}.conflict.${digest}`;
    const reason = `Task id ${task.task_id} is taken by another order (${describeTask(first.task)}); this one (${describeTask(task)}) was not placed`;
    try {
      await orders.create({ ...task, task_id: conflictId }, clock.now());
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    await orders.transition(
      conflictId,
      'DEAD_LETTER',
      { lastError: tagError(OrderErrorType.conflict, reason) },
      clock.now(),
    );
    logger.error('Order task id reused with another payload: dead-lettered', { taskId: task.task_id, conflictId });
    await queue.deadLetter(message, { type: OrderErrorType.conflict, message: reason });
    return { kind: 'dead-lettered', taskId: conflictId, reason: tagError(OrderErrorType.conflict, reason) };
  }

  /** Why the exchange would refuse the task, or undefined when it may go to the broker. */
  async #refusal(task: OrderTask): Promise<string | undefined> {
    const issues = (await this.#deps.validate?.(task)) ?? [];
    return issues.length === 0 ? undefined : issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  }

  /** Dead-letters a task that was never sent to the broker (refused by the exchange's rules). */
  async #deadLetterUnplaced(message: QueueMessageRef, taskId: string, reason: string): Promise<OrderMessageOutcome> {
    const { orders, clock, queue, logger } = this.#deps;
    const lastError = tagError(OrderErrorType.validation, reason);
    await orders.transition(taskId, 'DEAD_LETTER', { lastError }, clock.now());
    logger.warn('Order task refused by the exchange rules: dead-lettered', { taskId, reason });
    await queue.deadLetter(message, { type: OrderErrorType.validation, message: reason });
    return { kind: 'dead-lettered', taskId, reason: lastError };
  }

  /** The task's record, created PENDING when the producer went straight to the queue. */
  async #ensureRecord(task: OrderTask): Promise<OrderRecord> {
    const existing = await this.#deps.orders.get(task.task_id);
    if (existing) return existing;
    try {
      return await this.#deps.orders.create(task, this.#deps.clock.now());
    } catch (error) {
      // Another worker created it first (a duplicate delivery running at the same time).
      if (!(error instanceof ConflictError)) throw error;
      const raced = await this.#deps.orders.get(task.task_id);
      if (!raced) throw error;
      return raced;
    }
  }

  /** The outcome for a task that is already finished, or undefined when it still needs work. */
  async #whenFinished(message: QueueMessageRef, record: OrderRecord): Promise<OrderMessageOutcome | undefined> {
    const taskId = record.task.task_id;
    if (record.status === 'COMPLETED') {
      this.#deps.logger.info('Duplicate delivery of a completed order task', { taskId, messageId: message.messageId });
      return { kind: 'duplicate', taskId };
    }
    if (record.status === 'DEAD_LETTER') {
      // The record says dead letter but the message is back: the earlier move to the dead-letter
      // queue did not finish. Finish it, so the task is not lost from the queue.
      const reason = record.lastError ?? tagError(OrderErrorType.internal, 'dead-lettered');
      await this.#deps.queue.deadLetter(message, {
        type: errorTypeOf(record.lastError) ?? OrderErrorType.internal,
        message: reason,
      });
      return { kind: 'dead-lettered', taskId, reason };
    }
    return undefined;
  }

  /**
   * The idempotent part: one broker call for the task, through its account's breaker. `seen` is the
   * record as read before; the attempts are counted again on what the move to RUNNING returns, so
   * one written since is not missed, without a read of its own.
   */
  async #placeOnce(task: OrderTask, seen: OrderRecord): Promise<PlacedOrder> {
    const { orders, breaker, clock, retry } = this.#deps;
    const placedChildren = seen.result?.slices?.some((s) => s.order !== undefined) ?? false;
    if (attemptsThisRound(seen) >= retry.maxAttempts && !placedChildren) {
      throw new AttemptsExhausted(attemptsThisRound(seen));
    }
    const running = await orders.transition(task.task_id, 'RUNNING', {}, clock.now());
    if (!running) throw new TaskMoved(task.task_id);
    const attempt = attemptsThisRound(running) + 1;
    const progress = running.result?.slices;
    if (attempt > retry.maxAttempts) {
      // Children already placed are live orders: the task completes with them rather than dead-letter.
      if (progress?.some((s) => s.order !== undefined) && task.operation === 'place_order') {
        const why = `${running.lastError ?? 'no error recorded'} (all ${attempt - 1} attempts made)`;
        return this.#partial(task, progress, why, running.result?.paper ?? false, attempt - 1, clock.now());
      }
      throw new AttemptsExhausted(attempt - 1);
    }

    const plan =
      task.operation !== 'place_order'
        ? undefined
        : (progress ??
          (task.params.slice === true ? planSlices((await this.#deps.slicePlan?.(task)) ?? []) : undefined));

    const key = breakerKey(task.account_id);
    const permit = await breaker.acquire(key);
    if (!permit.allowed) throw new CircuitOpen(permit.retryAfterMs);
    if (plan !== undefined && plan.length > 1 && task.operation === 'place_order') {
      // A worker that died mid-way (RUNNING), or a retry, may have sent the next child unanswered.
      const resumed = seen.status === 'RUNNING' || progress !== undefined || attempt > 1;
      return this.#placeSlices(task, plan, { attempt, resumed, paper: running.result?.paper ?? false });
    }

    const order = task.operation === 'place_order' ? undefined : await this.#orderOf(task.params.order_id);
    const at = clock.now();
    try {
      const result = await this.#deps
        .brokerFor(task.account_id)
        .execute(task, { attempt, deadline: this.#deadline(), ...(order !== undefined && { order }) });
      await this.#report(key, true);
      return { ...result, taskId: task.task_id, attempt, at };
    } catch (error) {
      // A call never sent says nothing of the broker's health: the breaker hears nothing of it.
      const sent = !(error instanceof BrokerError) || error.sent;
      if (!sent && error.retryAfterMs !== undefined) throw new Throttled(error.retryAfterMs, error.message);
      const classified = classifyOrderError(error);
      if (sent) await this.#report(key, !classified.tripsBreaker);
      throw new AttemptFailed(classified, attempt, at);
    }
  }

  /**
   * Places the children of a sliced order one after another, from the first without an outcome:
   * each is its own order at the broker, keyed `<idempotency_key>#slice-<n>` (the paper order id
   * and Kite's tag follow from it). Progress is written to the task's result after each child, so
   * a redelivery resumes at the next one; the child that may have been sent without an answer (the
   * first of a resumed or retried run) is placed as a retry, so the broker looks for it by its tag
   * before placing it again. Each call takes its turn in the account's shared rate budget: a child
   * held back by it requeues the task (nothing lost, nothing placed twice).
   *
   * A failure before any child is placed is the task's failure, as for a single order. Once one is
   * placed the task will complete: a retryable failure is retried while attempts remain; a refusal
   * (or the last attempt failing) marks that child refused and the rest not placed.
   */
  async #placeSlices(
    task: PlaceOrderTask,
    plan: readonly OrderSlice[],
    run: { readonly attempt: number; readonly resumed: boolean; readonly paper: boolean },
  ): Promise<PlacedOrder> {
    const { clock, retry } = this.#deps;
    const key = breakerKey(task.account_id);
    const broker = this.#deps.brokerFor(task.account_id);
    const at = clock.now();
    let slices = [...plan];
    let paper = run.paper;
    let maybeSent = run.resumed;
    for (let next = nextSlice(slices); next !== undefined; next = nextSlice(slices)) {
      const callAttempt = maybeSent ? Math.max(run.attempt, 2) : 1;
      try {
        const { paper: isPaper, ...order } = await broker.execute(childTask(task, next.index, next.quantity), {
          attempt: callAttempt,
          deadline: this.#deadline(),
        });
        await this.#report(key, true);
        paper = isPaper;
        slices = withSlice(slices, next.index, { order });
      } catch (error) {
        const sent = !(error instanceof BrokerError) || error.sent;
        if (!sent && error.retryAfterMs !== undefined) throw new Throttled(error.retryAfterMs, error.message);
        const classified = classifyOrderError(error);
        if (sent) await this.#report(key, !classified.tripsBreaker);
        const placedAny = slices.some((s) => s.order !== undefined);
        if (!placedAny || (classified.retryable && run.attempt < retry.maxAttempts)) {
          throw new AttemptFailed(classified, run.attempt, at);
        }
        return this.#partial(task, slices, tagError(classified.type, classified.message), paper, run.attempt, at);
      }
      maybeSent = false;
      if (nextSlice(slices) !== undefined) await this.#saveProgress(task.task_id, slices, paper);
    }
    return { ...aggregateSlices(slices), paper, taskId: task.task_id, attempt: run.attempt, at };
  }

  /** The sliced order ended early: the next child refused for `why`, the ones after it not placed. */
  #partial(
    task: OrderTask,
    progress: readonly OrderSlice[],
    why: string,
    paper: boolean,
    attempt: number,
    at: number,
  ): PlacedOrder {
    let slices = [...progress];
    const refused = nextSlice(slices);
    if (refused !== undefined) slices = withSlice(slices, refused.index, { error: why });
    for (let rest = nextSlice(slices); rest !== undefined; rest = nextSlice(slices)) {
      slices = withSlice(slices, rest.index, { error: `${NOT_PLACED} slice ${refused?.index} was refused` });
    }
    this.#deps.logger.warn('Sliced order stopped early; the children placed are kept', {
      taskId: task.task_id,
      placed: slices.filter((s) => s.order !== undefined).length,
      slices: slices.length,
      error: why,
    });
    return { ...aggregateSlices(slices), paper, taskId: task.task_id, attempt, at };
  }

  /** Records the children placed so far on the RUNNING task, so a redelivery resumes after them. */
  async #saveProgress(taskId: string, slices: readonly OrderSlice[], paper: boolean): Promise<void> {
    const saved = await this.#deps.orders.transition(
      taskId,
      'RUNNING',
      { result: { ...aggregateSlices(slices), paper } },
      this.#deps.clock.now(),
    );
    if (!saved) throw new TaskMoved(taskId);
  }

  /**
   * By when the broker must have sent its call: the invocation's end less the time to record the
   * outcome, so a call that must wait for its rate budget longer is requeued instead of timed out.
   */
  #deadline(): number {
    const remaining = this.#remainingMs();
    return Number.isFinite(remaining)
      ? this.#deps.clock.now() + remaining - RECORD_OUTCOME_MS
      : this.#deps.clock.now() + DEFAULT_BROKER_WAIT_MS;
  }

  /** The order a modify or cancel changes, when a task of the platform placed it. */
  async #orderOf(orderId: string): Promise<OpenOrder | undefined> {
    const taskId = await this.#deps.orders.taskOfBrokerOrder(orderId);
    const placed = taskId === undefined ? undefined : await this.#deps.orders.get(taskId);
    // A child of a sliced order is changed as the order it is, with its own quantity.
    return placed === undefined ? undefined : brokerOrderOf(placed.task, placed.result, orderId);
  }

  /**
   * Tells the breaker how a call went. Its bookkeeping failing must not change the order's outcome
   * (a placed order reported as failed would be placed again), so a failure here is only logged.
   */
  async #report(key: string, healthy: boolean): Promise<void> {
    try {
      if (healthy) await this.#deps.breaker.recordSuccess(key);
      else await this.#deps.breaker.recordFailure(key);
    } catch (error) {
      this.#deps.logger.warn('Could not record a call in the circuit breaker', { key, error: describeError(error) });
    }
  }

  async #complete(task: OrderTask, placed: PlacedOrder): Promise<OrderMessageOutcome> {
    const { orders, clock, logger } = this.#deps;
    const own = placed.taskId === task.task_id;
    // This worker's own placement left the task RUNNING: it goes straight to COMPLETED below, and
    // only when that write is refused is the record read. A repeat's record is read first.
    if (!own) {
      const record = await this.#readyToComplete(task.task_id);
      if (record?.status === 'COMPLETED') return { kind: 'duplicate', taskId: task.task_id };
    }
    const { taskId: _taskId, attempt, at, paper, ...state } = placed;
    // A placement's order is linked to its task first, so news that beat the answer (held) is merged.
    let order: BrokerOrderState = state;
    if (task.operation === 'place_order' && state.slices !== undefined) {
      order = aggregateSlices(await this.#linkSlices(task.task_id, state.slices));
    } else if (task.operation === 'place_order') {
      for (const held of await orders.linkBrokerOrder(state.orderId, task.task_id)) {
        order = mergeBrokerOrder(order, held) ?? order;
      }
    }
    const changes = { ...(own && { attempt: { attempt, at } }), result: { ...order, paper } };
    let completed = await orders.transition(task.task_id, 'COMPLETED', changes, clock.now());
    if (!completed && own) {
      const record = await this.#readyToComplete(task.task_id);
      if (record?.status === 'COMPLETED') return { kind: 'duplicate', taskId: task.task_id };
      if (record) completed = await orders.transition(task.task_id, 'COMPLETED', changes, clock.now());
    }
    if (completed) this.#deps.onOrderChange?.(completed);
    // A modify or cancel changes the order another task placed: that task's result learns of it.
    if (task.operation !== 'place_order') await this.#applyToPlacedOrder(state);
    if (own) logger.info('Order task completed', { taskId: task.task_id, orderId: state.orderId, paper });
    else {
      logger.info('Order task is a repeat of an idempotency key already placed: nothing placed', {
        taskId: task.task_id,
        firstTaskId: placed.taskId,
        orderId: state.orderId,
      });
    }
    return { kind: 'completed', record: completed };
  }

  /** Links every placed child to the task, each with the news held for it merged in. */
  async #linkSlices(taskId: string, slices: readonly OrderSlice[]): Promise<readonly OrderSlice[]> {
    return Promise.all(
      slices.map(async (s) => {
        if (s.order === undefined) return s;
        let order = s.order;
        for (const held of await this.#deps.orders.linkBrokerOrder(order.orderId, taskId)) {
          order = mergeBrokerOrder(order, held) ?? order;
        }
        return { ...s, order };
      }),
    );
  }

  /** The task's record, moved back to RUNNING when it is neither there nor COMPLETED. */
  async #readyToComplete(taskId: string): Promise<OrderRecord | undefined> {
    const { orders, clock } = this.#deps;
    const record = await orders.get(taskId);
    if (record && record.status !== 'COMPLETED' && record.status !== 'RUNNING') {
      return (await orders.transition(taskId, 'RUNNING', {}, clock.now())) ?? record;
    }
    return record;
  }

  /** Merges what a modify or cancel returned into the result of the task that placed the order. */
  async #applyToPlacedOrder(state: BrokerOrderState): Promise<void> {
    const { orders, clock } = this.#deps;
    const owner = await orders.holdBrokerUpdate(state);
    if (owner === undefined) return;
    const applied = await orders.applyBrokerUpdate(owner, state, clock.now());
    if (applied?.changed) this.#deps.onOrderChange?.(applied.record);
  }

  async #afterFailure(message: QueueMessageRef, task: OrderTask, error: unknown): Promise<OrderMessageOutcome> {
    const { orders, clock, queue, logger, retry } = this.#deps;
    const taskId = task.task_id;
    if (error instanceof AttemptFailed) {
      const { error: failure, attempt, at } = error;
      const lastError = tagError(failure.type, failure.message);
      const attemptRecord = {
        attempt,
        at,
        error: { type: failure.type, message: failure.message, retryable: failure.retryable },
      };
      if (failure.retryable && attempt < retry.maxAttempts) {
        const delaySeconds = visibilitySeconds(backoffSeconds(attempt, retry));
        await orders.transition(taskId, 'RETRYING', { attempt: attemptRecord, lastError }, clock.now());
        logger.warn('Order attempt failed; retrying', { taskId, attempt, delaySeconds, error: lastError });
        await queue.delay(message, delaySeconds);
        return { kind: 'retry', taskId, delaySeconds };
      }
      const reason = failure.retryable
        ? `${failure.message} (gave up after ${attempt} of ${retry.maxAttempts} attempts)`
        : failure.message;
      await orders.transition(
        taskId,
        'DEAD_LETTER',
        { attempt: attemptRecord, lastError: tagError(failure.type, reason) },
        clock.now(),
      );
      logger.error('Order task dead-lettered', { taskId, attempt, error: lastError, retryable: failure.retryable });
      await queue.deadLetter(message, { type: failure.type, message: reason });
      return { kind: 'dead-lettered', taskId, reason: tagError(failure.type, reason) };
    }
    if (error instanceof CircuitOpen) {
      const delaySeconds = visibilitySeconds(error.retryAfterMs / 1000, 1);
      const lastError = tagError(
        OrderErrorType.circuitOpen,
        `Circuit breaker open for account ${task.account_id}; next try in ${delaySeconds} s`,
      );
      await orders.transition(taskId, 'RETRYING', { lastError }, clock.now());
      logger.warn('Order task held: circuit breaker open', { taskId, accountId: task.account_id, delaySeconds });
      await queue.requeue(message, delaySeconds);
      return { kind: 'circuit-open', taskId, delaySeconds };
    }
    if (error instanceof Throttled) {
      const delaySeconds = visibilitySeconds(error.retryAfterMs / 1000, 1);
      await orders.transition(
        taskId,
        'RETRYING',
        { lastError: tagError(OrderErrorType.rateLimited, error.message) },
        clock.now(),
      );
      logger.warn('Order task held: rate budget full', { taskId, accountId: task.account_id, delaySeconds });
      await queue.requeue(message, delaySeconds);
      return { kind: 'throttled', taskId, delaySeconds };
    }
    if (error instanceof AttemptsExhausted) {
      const current = await orders.get(taskId);
      const reason = `${current?.lastError ?? 'no error recorded'} (all ${error.attempts} attempts made)`;
      const type = errorTypeOf(current?.lastError) ?? OrderErrorType.internal;
      await orders.transition(taskId, 'DEAD_LETTER', {}, clock.now());
      await queue.deadLetter(message, { type, message: reason });
      return { kind: 'dead-lettered', taskId, reason };
    }
    if (error instanceof TaskMoved) {
      const current = await orders.get(taskId);
      const finished = current && (await this.#whenFinished(message, current));
      if (finished) return finished;
      return this.#busy(message, taskId);
    }
    if (error instanceof IdempotencyAlreadyInProgressError) {
      // Another worker is placing this key right now; come back when it has an answer.
      return this.#busy(message, taskId);
    }
    throw error;
  }

  async #busy(message: QueueMessageRef, taskId: string): Promise<OrderMessageOutcome> {
    const delaySeconds = visibilitySeconds(this.#deps.retry.retryBaseSeconds, 1);
    await this.#deps.queue.requeue(message, delaySeconds);
    return { kind: 'busy', taskId, delaySeconds };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The task id of a message body, when it has one that reads as a task id. */
export function readableTaskId(body: string): string | undefined {
  try {
    const json: unknown = JSON.parse(body);
    const id = isObject(json) ? json.task_id : undefined;
    return TaskId.safeParse(id).success ? (id as string) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether two tasks with one task id are the same order: what would be placed is compared, not when
 * it was sent nor who defaulted the owner, so a producer's resend is an ordinary duplicate.
 */
export function samePayload(a: OrderTask, b: OrderTask): boolean {
  const what = (t: OrderTask) => JSON.stringify([t.operation, t.account_id, t.idempotency_key, sortedKeys(t.params)]);
  return what(a) === what(b);
}

function sortedKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)));
}

/** A task in a few words, for a conflict's reason. */
function describeTask(task: OrderTask): string {
  if (task.operation !== 'place_order') return `${task.operation} of order ${task.params.order_id}`;
  const p = task.params;
  return `${p.transaction_type} ${p.quantity} ${p.tradingsymbol} ${p.order_type}`;
}

import type { OrderTask, OrderTaskStatus } from '../contracts/order.js';
import type { BrokerOrderState } from '../domain/orders/broker-order.js';
import type { OrderSlice } from '../domain/orders/sliced-order.js';

/**
 * What a task's `result` holds: the broker order as it evolves, and whether it was paper-traded.
 * A sliced order's result is the aggregate of its children (`aggregateSlices`) with each child in
 * `slices`; while the worker places them (RUNNING, RETRYING) it is the progress so far.
 */
export interface OrderResult extends BrokerOrderState {
  readonly paper: boolean;
  readonly slices?: readonly OrderSlice[];
}

/** One broker attempt of an order task. */
export interface OrderAttempt {
  readonly attempt: number;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly error?: { readonly type: string; readonly message: string; readonly retryable: boolean };
}

/** The status record of an order task. */
export interface OrderRecord {
  readonly task: OrderTask;
  readonly status: OrderTaskStatus;
  readonly attempts: readonly OrderAttempt[];
  /** The broker order of a COMPLETED task, kept up to date by {@link OrderStore.applyBrokerUpdate}. */
  readonly result?: OrderResult;
  readonly lastError?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /**
   * When the task was last redriven out of DEAD_LETTER (epoch ms): attempts before it stay in
   * `attempts` as history and do not count toward the new round's `maxAttempts`.
   */
  readonly redrivenAt?: number;
  /**
   * The message body as received, when it was not an order task (a poison message with a readable
   * `task_id`). `task` is then a stand-in that satisfies the contract (see `invalidMessageTask`) and
   * is never what gets queued again: a redrive or a requeue sends this body, so the worker
   * dead-letters it again rather than placing the stand-in.
   */
  readonly rawBody?: string;
}

/** What {@link OrderQueue.enqueue} takes besides the task. */
export interface EnqueueOptions {
  /** Send this body instead of the task as JSON: a poison message's own body ({@link OrderRecord.rawBody}). */
  readonly body?: string;
  /** Deliver after this many seconds (0-900), so a caller can finish its own write first. */
  readonly delaySeconds?: number;
}

/** What {@link OrderQueue.redrive} takes besides the task id. */
export interface RedriveOptions {
  /** Stops the search of the dead-letter queue (not a move under way): a Lambda's remaining time. */
  readonly signal?: AbortSignal;
  /** Deliver the moved message after this many seconds (0-900). */
  readonly delaySeconds?: number;
}

/**
 * Where order systems put orders: SQS in the cloud, an SQS-shaped local queue on one machine.
 *
 * Guarantees: a message accepted by `enqueue` is delivered at least once; duplicates are possible
 * (the worker's idempotency makes them harmless); a message failed `maxReceiveCount` times moves
 * to the dead-letter queue; `redrive` moves a dead-lettered task back to the main queue: one
 * message, however many copies of it were dead-lettered (the others are deleted).
 */
export interface OrderQueue {
  enqueue(task: OrderTask, options?: EnqueueOptions): Promise<void>;
  /**
   * Resolves true once a dead letter of the task is on the orders queue, false when none was found
   * before the dead letters ran out, the scan limit was reached or `options.signal` aborted.
   */
  redrive(taskId: string, options?: RedriveOptions): Promise<boolean>;
}

/**
 * Status records of order tasks.
 *
 * Guarantees: `create` rejects with `ConflictError` when the task id exists (so a
 * resubmission cannot reset a task); `transition` applies only the plan's transitions as
 * `ORDER_TRANSITIONS` (shared/domain/orders/order-status.ts) lists them — PENDING → RUNNING →
 * COMPLETED, RUNNING → RETRYING → RUNNING, PENDING/RETRYING → RETRYING (a circuit-breaker
 * rejection), RUNNING → RUNNING (a redelivery after a worker died mid-call), every unfinished state →
 * DEAD_LETTER, DEAD_LETTER → PENDING (a redrive) — and returns `undefined` when the record is not in
 * a state that allows it (a conditional write, so two workers cannot both move one task); the
 * redrive transition stamps `redrivenAt`.
 * `changes.attempt` is appended to `attempts`; `changes.result` and `changes.lastError` replace
 * theirs. `listDeadLetters` lists DEAD_LETTER records newest first (by `updatedAt`); `errorType`
 * keeps those whose `lastError` is tagged `[errorType]`, as the worker writes it.
 */
export interface OrderStore {
  /** `options.rawBody` is kept as {@link OrderRecord.rawBody} (a poison message's record). */
  create(task: OrderTask, nowMs: number, options?: { readonly rawBody?: string }): Promise<OrderRecord>;
  get(taskId: string): Promise<OrderRecord | undefined>;
  transition(
    taskId: string,
    to: OrderTaskStatus,
    changes: { attempt?: OrderAttempt; result?: OrderRecord['result']; lastError?: string },
    nowMs: number,
  ): Promise<OrderRecord | undefined>;
  listDeadLetters(query: { errorType?: string; owner?: string; limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }>;
  /**
   * Merges news about a task's broker order into its `result` with `mergeOrderResult` (monotonic:
   * a late or repeated update never moves it backwards; a sliced order's news lands on its child) in one conditional write, retried when
   * another writer changed the record in between. `changed` is false when the update brought
   * nothing new; `undefined` when the task has no result to merge into.
   */
  applyBrokerUpdate(
    taskId: string,
    update: BrokerOrderState,
    nowMs: number,
  ): Promise<{ readonly record: OrderRecord; readonly changed: boolean } | undefined>;
  /**
   * Links a broker order id to its task and returns the updates {@link holdBrokerUpdate} kept for
   * it before the link existed (a postback can beat the placement's own answer). Atomic with
   * `holdBrokerUpdate`: each held update is either returned here or finds the link.
   */
  linkBrokerOrder(orderId: string, taskId: string): Promise<readonly BrokerOrderState[]>;
  /**
   * The task of a broker order; when none is linked yet, keeps `update` for {@link linkBrokerOrder}
   * and resolves `undefined`.
   */
  holdBrokerUpdate(update: BrokerOrderState): Promise<string | undefined>;
  /** The task that placed a broker order, when one is linked. */
  taskOfBrokerOrder(orderId: string): Promise<string | undefined>;
  /**
   * COMPLETED tasks whose broker order is still open (not COMPLETE, CANCELLED or REJECTED), for
   * the order-book poll and the paper exchange; eventually consistent (an index).
   */
  listOpenOrders(query: { limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }>;
  /**
   * Records in one of `statuses` whose `updatedAt` is before `updatedBefore` (epoch ms), oldest
   * first, at most `limit` (1-1000): what the sweeper looks for, tasks whose queue message may be
   * gone. It may lag the latest writes by about a second (DynamoDB reads it from an index), so a
   * caller acts on a record only through {@link touch}, which checks it is still as listed.
   */
  listStale(query: {
    statuses: readonly OrderTaskStatus[];
    updatedBefore: number;
    limit: number;
  }): Promise<readonly OrderRecord[]>;
  /**
   * Sets `updatedAt` to `nowMs` and nothing else, if the record still has the `status` and
   * `updatedAt` the caller read (a conditional write); `undefined` when it changed since, or does not
   * exist. Any progress of a worker changes `updatedAt`, so a worker moving the task wins over a
   * sweeper that read it before, and of two sweepers that read the same record only one touches it.
   */
  touch(
    taskId: string,
    seen: { readonly status: OrderTaskStatus; readonly updatedAt: number },
    nowMs: number,
  ): Promise<OrderRecord | undefined>;
}

import type { OrderTask, OrderTaskStatus } from '../../contracts/order.js';
import { type BrokerOrderState, isOpenBrokerStatus } from '../../domain/orders/broker-order.js';
import { canTransition, errorTypeOf } from '../../domain/orders/order-status.js';
import { mergeOrderResult } from '../../domain/orders/sliced-order.js';
import { ConflictError } from '../../errors.js';
import type { OrderAttempt, OrderRecord, OrderStore } from '../../ports/orders.js';
import {
  decodeDeadLetterCursor,
  encodeDeadLetterCursor,
  parseDeadLetterQuery,
  parseOrderTask,
  parseStaleQuery,
} from '../order-store-input.js';

/**
 * The {@link OrderStore} inside one process: for unit tests and the local platform without a
 * database. It keeps the DynamoDB store's guarantees (same contract suite): `create` refuses an
 * existing task id, `transition` follows `ORDER_TRANSITIONS` atomically (JavaScript runs one
 * transition at a time), dead letters list newest first with the same cursor format. Records are
 * copied in and out.
 */
export class MemoryOrderStore implements OrderStore {
  readonly #records = new Map<string, OrderRecord>();
  readonly #links = new Map<string, string>();
  readonly #held = new Map<string, BrokerOrderState[]>();

  async create(task: OrderTask, nowMs: number, options: { readonly rawBody?: string } = {}): Promise<OrderRecord> {
    const parsed = parseOrderTask(task);
    if (this.#records.has(parsed.task_id)) throw new ConflictError(`Order task ${parsed.task_id} exists`);
    const record: OrderRecord = {
      task: parsed,
      status: 'PENDING',
      attempts: [],
      createdAt: nowMs,
      updatedAt: nowMs,
      ...(options.rawBody !== undefined && { rawBody: options.rawBody }),
    };
    this.#records.set(parsed.task_id, record);
    return structuredClone(record);
  }

  async get(taskId: string): Promise<OrderRecord | undefined> {
    const record = this.#records.get(taskId);
    return record && structuredClone(record);
  }

  async transition(
    taskId: string,
    to: OrderTaskStatus,
    changes: { attempt?: OrderAttempt; result?: OrderRecord['result']; lastError?: string },
    nowMs: number,
  ): Promise<OrderRecord | undefined> {
    const existing = this.#records.get(taskId);
    if (!existing || !canTransition(existing.status, to)) return undefined;
    const record: OrderRecord = {
      ...existing,
      status: to,
      attempts: changes.attempt ? [...existing.attempts, changes.attempt] : existing.attempts,
      ...(changes.result !== undefined && { result: changes.result }),
      ...(changes.lastError !== undefined && { lastError: changes.lastError }),
      ...(existing.status === 'DEAD_LETTER' && to === 'PENDING' && { redrivenAt: nowMs }),
      updatedAt: nowMs,
    };
    this.#records.set(taskId, structuredClone(record));
    return structuredClone(record);
  }

  async listDeadLetters(query: { errorType?: string; owner?: string; limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }> {
    const { errorType, limit, cursor } = parseDeadLetterQuery(query);
    const after = cursor === undefined ? undefined : decodeDeadLetterCursor(cursor, errorType);
    const matching = [...this.#records.values()]
      .filter((r) => r.status === 'DEAD_LETTER')
      .filter((r) => errorType === undefined || errorTypeOf(r.lastError) === errorType)
      .filter((r) => query.owner === undefined || r.task.owner === query.owner)
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.task.task_id < b.task.task_id ? 1 : -1))
      .filter(
        (r) =>
          after === undefined ||
          r.updatedAt < after.updatedAt ||
          (r.updatedAt === after.updatedAt && r.task.task_id < after.taskId),
      );
    const items = matching.slice(0, limit).map((r) => structuredClone(r));
    const last = items.at(-1);
    return matching.length > limit && last
      ? { items, cursor: encodeDeadLetterCursor(errorType, last.updatedAt, last.task.task_id) }
      : { items };
  }

  async applyBrokerUpdate(
    taskId: string,
    update: BrokerOrderState,
    nowMs: number,
  ): Promise<{ readonly record: OrderRecord; readonly changed: boolean } | undefined> {
    const existing = this.#records.get(taskId);
    if (existing?.result === undefined) return undefined;
    const merged = mergeOrderResult(existing.result, update);
    if (merged === undefined) return { record: structuredClone(existing), changed: false };
    const record: OrderRecord = { ...existing, result: merged, updatedAt: nowMs };
    this.#records.set(taskId, structuredClone(record));
    return { record: structuredClone(record), changed: true };
  }

  async linkBrokerOrder(orderId: string, taskId: string): Promise<readonly BrokerOrderState[]> {
    const held = this.#held.get(orderId) ?? [];
    this.#held.delete(orderId);
    this.#links.set(orderId, taskId);
    return structuredClone(held);
  }

  async holdBrokerUpdate(update: BrokerOrderState): Promise<string | undefined> {
    const taskId = this.#links.get(update.orderId);
    if (taskId !== undefined) return taskId;
    this.#held.set(update.orderId, [...(this.#held.get(update.orderId) ?? []), structuredClone(update)]);
    return undefined;
  }

  async taskOfBrokerOrder(orderId: string): Promise<string | undefined> {
    return this.#links.get(orderId);
  }

  async listOpenOrders(query: { limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }> {
    const open = [...this.#records.values()]
      .filter((r) => r.status === 'COMPLETED' && r.result !== undefined && isOpenBrokerStatus(r.result.status))
      .sort((a, b) => (a.task.task_id < b.task.task_id ? -1 : 1))
      .filter((r) => query.cursor === undefined || r.task.task_id > query.cursor);
    const items = open.slice(0, query.limit).map((r) => structuredClone(r));
    const last = items.at(-1);
    return open.length > query.limit && last ? { items, cursor: last.task.task_id } : { items };
  }

  async listStale(query: {
    statuses: readonly OrderTaskStatus[];
    updatedBefore: number;
    limit: number;
  }): Promise<readonly OrderRecord[]> {
    const { statuses, updatedBefore, limit } = parseStaleQuery(query);
    return [...this.#records.values()]
      .filter((r) => statuses.includes(r.status) && r.updatedAt < updatedBefore)
      .sort((a, b) => a.updatedAt - b.updatedAt || (a.task.task_id < b.task.task_id ? -1 : 1))
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }

  async touch(
    taskId: string,
    seen: { readonly status: OrderTaskStatus; readonly updatedAt: number },
    nowMs: number,
  ): Promise<OrderRecord | undefined> {
    const existing = this.#records.get(taskId);
    if (!existing || existing.status !== seen.status || existing.updatedAt !== seen.updatedAt) return undefined;
    const record: OrderRecord = { ...existing, updatedAt: nowMs };
    this.#records.set(taskId, structuredClone(record));
    return structuredClone(record);
  }
}

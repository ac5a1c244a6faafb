import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { OrderTask, OrderTaskStatus } from '../../contracts/order.js';
import { errorTypeOf, statusesBefore } from '../../domain/orders/order-status.js';
import { ConflictError, type PlatformError } from '../../errors.js';
import type { OrderAttempt, OrderRecord, OrderStore } from '../../ports/orders.js';
import { physicalTableName, Tables } from '../../tables.js';
import {
  decodeDeadLetterCursor,
  encodeDeadLetterCursor,
  parseDeadLetterQuery,
  parseOrderTask,
  parseStaleQuery,
} from '../order-store-input.js';
import { decodeItem, dynamoDbFailure, sendToDynamoDb } from './dynamodb-calls.js';

/** The status index of the orders table (partition `status`, sort `updated_at`). */
const STATUS_INDEX = Tables.orders.globalSecondaryIndexes[0].indexName;

/** How long a COMPLETED record is kept before DynamoDB's TTL deletes it. Others are kept until handled. */
const COMPLETED_RETENTION_SECONDS = 30 * 86_400;

const Attempt = z.object({
  attempt: z.number(),
  at: z.number(),
  error: z.object({ type: z.string(), message: z.string(), retryable: z.boolean() }).optional(),
});

/** An order item as stored: snake_case names, times in epoch milliseconds, the task as a map. */
const OrderItem = z.object({
  task_id: z.string(),
  status: OrderTaskStatus,
  task: OrderTask,
  attempts: z.array(Attempt),
  result: z
    .object({
      order_id: z.string(),
      paper: z.boolean(),
      status: z.string().optional(),
      average_price: z.number().optional(),
    })
    .optional(),
  last_error: z.string().optional(),
  created_at: z.number(),
  updated_at: z.number(),
  redriven_at: z.number().optional(),
});

/** What a {@link DynamoDbOrderStore} needs. */
export interface DynamoDbOrderStoreOptions {
  /** The client to send with (the composition root's); the store does not destroy it. */
  readonly client: DynamoDBClient;
  /** The stage prefix: the table is `<prefix>-orders`. */
  readonly tablePrefix: string;
}

/**
 * The {@link OrderStore} on the DynamoDB `orders` table (`shared/tables.ts`).
 *
 * - `create` is a `PutItem` conditioned on `attribute_not_exists(task_id)`: a second create of a
 *   task id rejects with `ConflictError` and changes nothing.
 * - `transition` is one `UpdateItem` conditioned on the current status being one that may precede
 *   the new one (`ORDER_TRANSITIONS`): of two workers racing to move a task, one wins and the other
 *   gets `undefined`. The attempt is appended with `list_append` in the same write, so attempts are
 *   never lost or doubled. `error_type` (the `[type]` of `last_error`) is written alongside, for
 *   listing dead letters by type; a COMPLETED record gets `expires_at` 30 days on.
 * - `get` reads strongly consistently; `listDeadLetters` queries `status-index` newest first, so it
 *   is eventually consistent (a task dead-lettered a moment ago may be missing for about a second).
 *
 * Failures: SDK failures and items not in the stored shape reject with
 * `DependencyUnavailableError('dynamodb', …)`; bad input rejects with `ValidationError` first.
 */
export class DynamoDbOrderStore implements OrderStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbOrderStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.#table = physicalTableName(options.tablePrefix, Tables.orders);
  }

  async create(task: OrderTask, nowMs: number): Promise<OrderRecord> {
    const parsed = parseOrderTask(task);
    const item = {
      task_id: parsed.task_id,
      status: 'PENDING',
      task: parsed,
      attempts: [],
      created_at: nowMs,
      updated_at: nowMs,
    };
    try {
      await this.#documents.send(
        new PutCommand({ TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(task_id)' }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConflictError(`Order task ${parsed.task_id} exists`, { cause: error });
      }
      throw this.#failure('PutItem', error);
    }
    return this.#decode(item);
  }

  async get(taskId: string): Promise<OrderRecord | undefined> {
    const output = await this.#send('GetItem', () =>
      this.#documents.send(new GetCommand({ TableName: this.#table, Key: { task_id: taskId }, ConsistentRead: true })),
    );
    return output.Item === undefined ? undefined : this.#decode(output.Item);
  }

  async transition(
    taskId: string,
    to: OrderTaskStatus,
    changes: { attempt?: OrderAttempt; result?: OrderRecord['result']; lastError?: string },
    nowMs: number,
  ): Promise<OrderRecord | undefined> {
    const from = statusesBefore(to);
    if (from.length === 0) return undefined;
    const sets = ['#status = :to', 'updated_at = :now'];
    const removes: string[] = [];
    const values: Record<string, unknown> = { ':to': to, ':now': nowMs };
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    if (changes.attempt) {
      sets.push('attempts = list_append(attempts, :attempt)');
      values[':attempt'] = [changes.attempt];
    }
    if (changes.result) {
      const r = changes.result;
      sets.push('#result = :result');
      values[':result'] = { order_id: r.orderId, paper: r.paper, status: r.status, average_price: r.averagePrice };
    }
    if (changes.lastError !== undefined) {
      sets.push('last_error = :lastError');
      values[':lastError'] = changes.lastError;
      const type = errorTypeOf(changes.lastError);
      if (type === undefined) removes.push('error_type');
      else {
        sets.push('error_type = :errorType');
        values[':errorType'] = type;
      }
    }
    if (to === 'COMPLETED') {
      sets.push('expires_at = :expires');
      values[':expires'] = Math.floor(nowMs / 1000) + COMPLETED_RETENTION_SECONDS;
    }
    // Only DEAD_LETTER leads to PENDING: reaching PENDING is a redrive.
    if (to === 'PENDING') sets.push('redriven_at = :now');
    try {
      const output = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { task_id: taskId },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: `attribute_exists(task_id) AND #status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status', ...(changes.result && { '#result': 'result' }) },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.#decode(output.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw this.#failure('UpdateItem', error);
    }
  }

  async listDeadLetters(query: { errorType?: string; limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }> {
    const { errorType, limit, cursor } = parseDeadLetterQuery(query);
    const after = cursor === undefined ? undefined : decodeDeadLetterCursor(cursor, errorType);
    let startKey: Record<string, unknown> | undefined = after && {
      task_id: after.taskId,
      status: 'DEAD_LETTER',
      updated_at: after.updatedAt,
    };
    const found: OrderRecord[] = [];
    // One beyond the page says whether there is another page; the filter runs after DynamoDB's
    // Limit, so keep reading until enough matched or the index ends.
    do {
      const output = await this.#send('Query', () =>
        this.#documents.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: STATUS_INDEX,
            KeyConditionExpression: '#status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':status': 'DEAD_LETTER',
              ...(errorType !== undefined && { ':type': errorType }),
            },
            ...(errorType !== undefined && { FilterExpression: 'error_type = :type' }),
            ScanIndexForward: false,
            Limit: Math.min(limit + 1, 1000),
            ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
          }),
        ),
      );
      for (const item of output.Items ?? []) found.push(this.#decode(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined && found.length <= limit);
    const items = found.slice(0, limit);
    const last = items.at(-1);
    return found.length > limit && last
      ? { items, cursor: encodeDeadLetterCursor(errorType, last.updatedAt, last.task.task_id) }
      : { items };
  }

  #decode(item: Record<string, unknown> | undefined): OrderRecord {
    const i = decodeItem(OrderItem, item, 'order', this.#table);
    return {
      task: i.task,
      status: i.status,
      attempts: i.attempts.map((a) => ({ attempt: a.attempt, at: a.at, ...(a.error && { error: a.error }) })),
      ...(i.result && {
        result: {
          orderId: i.result.order_id,
          paper: i.result.paper,
          ...(i.result.status !== undefined && { status: i.result.status }),
          ...(i.result.average_price !== undefined && { averagePrice: i.result.average_price }),
        },
      }),
      ...(i.last_error !== undefined && { lastError: i.last_error }),
      createdAt: i.created_at,
      updatedAt: i.updated_at,
      ...(i.redriven_at !== undefined && { redrivenAt: i.redriven_at }),
    };
  }

  #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return sendToDynamoDb(this.#table, operation, call);
  }

  #failure(operation: string, error: unknown): PlatformError {
    return dynamoDbFailure(this.#table, operation, error);
  }

  /**
   * One query of `status-index` per status (`updated_at` before the time, ascending), merged oldest
   * first. Eventually consistent, as the index is.
   */
  async listStale(query: {
    statuses: readonly OrderTaskStatus[];
    updatedBefore: number;
    limit: number;
  }): Promise<readonly OrderRecord[]> {
    const { statuses, updatedBefore, limit } = parseStaleQuery(query);
    const found: OrderRecord[] = [];
    for (const status of statuses) {
      let startKey: Record<string, unknown> | undefined;
      let taken = 0;
      do {
        const output = await this.#send('Query', () =>
          this.#documents.send(
            new QueryCommand({
              TableName: this.#table,
              IndexName: STATUS_INDEX,
              KeyConditionExpression: '#status = :status AND updated_at < :before',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':status': status, ':before': updatedBefore },
              ScanIndexForward: true,
              Limit: limit - taken,
              ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
            }),
          ),
        );
        for (const item of output.Items ?? []) found.push(this.#decode(item));
        taken += output.Items?.length ?? 0;
        startKey = output.LastEvaluatedKey;
      } while (startKey !== undefined && taken < limit);
    }
    return found
      .sort((a, b) => a.updatedAt - b.updatedAt || (a.task.task_id < b.task.task_id ? -1 : 1))
      .slice(0, limit);
  }

  /** One `UpdateItem` of `updated_at` conditioned on the status and `updated_at` read. */
  async touch(
    taskId: string,
    seen: { readonly status: OrderTaskStatus; readonly updatedAt: number },
    nowMs: number,
  ): Promise<OrderRecord | undefined> {
    try {
      const output = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { task_id: taskId },
          UpdateExpression: 'SET updated_at = :now',
          ConditionExpression: '#status = :status AND updated_at = :seen',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':now': nowMs, ':status': seen.status, ':seen': seen.updatedAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.#decode(output.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw this.#failure('UpdateItem', error);
    }
  }
}

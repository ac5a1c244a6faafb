import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { OrderTask, OrderTaskStatus } from '../../contracts/order.js';
import { type BrokerOrderState, isOpenBrokerStatus } from '../../domain/orders/broker-order.js';
import { errorTypeOf, statusesBefore } from '../../domain/orders/order-status.js';
import { mergeOrderResult, type OrderSlice } from '../../domain/orders/sliced-order.js';
import { ConflictError, type PlatformError } from '../../errors.js';
import type { OrderAttempt, OrderRecord, OrderResult, OrderStore } from '../../ports/orders.js';
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
/** The sparse index of tasks whose broker order is open. */
const OPEN_INDEX = Tables.orders.globalSecondaryIndexes[1].indexName;

/** Tries of a read-merge-write of a broker update before giving up to a busier writer. */
const MERGE_TRIES = 8;

/** How long an order id → task link is kept: past any order's life on the exchange (a day). */
const LINK_RETENTION_SECONDS = 7 * 86_400;

/** How long a COMPLETED record is kept before DynamoDB's TTL deletes it. Others are kept until handled. */
const COMPLETED_RETENTION_SECONDS = 30 * 86_400;

/** Links and results a store remembers (the orders of a trading session and more), oldest forgotten first. */
const REMEMBERED = 10_000;

/** A task's result as this store last read or wrote it, with the `result_version` it had then. */
interface KnownResult {
  readonly record: OrderRecord & { readonly result: OrderResult };
  readonly version: number | undefined;
}

/** `map` with `key` set to `value` as its newest entry, the oldest dropped beyond {@link REMEMBERED}. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED) map.delete(map.keys().next().value as K);
}

const BrokerOrderItem = z.object({
  order_id: z.string(),
  status: z.string(),
  filled_quantity: z.number().optional(),
  pending_quantity: z.number().optional(),
  average_price: z.number().optional(),
  status_message: z.string().optional(),
  order_timestamp: z.string().optional(),
  exchange_timestamp: z.string().optional(),
  exchange_update_timestamp: z.string().optional(),
  order_type: z.string().optional(),
  quantity: z.number().optional(),
  price: z.number().optional(),
  trigger_price: z.number().optional(),
});

/** A broker order state as stored: snake_case, no undefined values (DynamoDB has none). */
function brokerOrderItem(o: BrokerOrderState): z.infer<typeof BrokerOrderItem> {
  return {
    order_id: o.orderId,
    status: o.status,
    ...(o.filledQuantity !== undefined && { filled_quantity: o.filledQuantity }),
    ...(o.pendingQuantity !== undefined && { pending_quantity: o.pendingQuantity }),
    ...(o.averagePrice !== undefined && { average_price: o.averagePrice }),
    ...(o.statusMessage !== undefined && { status_message: o.statusMessage }),
    ...(o.orderTimestamp !== undefined && { order_timestamp: o.orderTimestamp }),
    ...(o.exchangeTimestamp !== undefined && { exchange_timestamp: o.exchangeTimestamp }),
    ...(o.exchangeUpdateTimestamp !== undefined && { exchange_update_timestamp: o.exchangeUpdateTimestamp }),
    ...(o.orderType !== undefined && { order_type: o.orderType }),
    ...(o.quantity !== undefined && { quantity: o.quantity }),
    ...(o.price !== undefined && { price: o.price }),
    ...(o.triggerPrice !== undefined && { trigger_price: o.triggerPrice }),
  };
}

function brokerOrderState(i: z.infer<typeof BrokerOrderItem>): BrokerOrderState {
  return {
    orderId: i.order_id,
    status: i.status,
    ...(i.filled_quantity !== undefined && { filledQuantity: i.filled_quantity }),
    ...(i.pending_quantity !== undefined && { pendingQuantity: i.pending_quantity }),
    ...(i.average_price !== undefined && { averagePrice: i.average_price }),
    ...(i.status_message !== undefined && { statusMessage: i.status_message }),
    ...(i.order_timestamp !== undefined && { orderTimestamp: i.order_timestamp }),
    ...(i.exchange_timestamp !== undefined && { exchangeTimestamp: i.exchange_timestamp }),
    ...(i.exchange_update_timestamp !== undefined && { exchangeUpdateTimestamp: i.exchange_update_timestamp }),
    ...(i.order_type !== undefined && { orderType: i.order_type }),
    ...(i.quantity !== undefined && { quantity: i.quantity }),
    ...(i.price !== undefined && { price: i.price }),
    ...(i.trigger_price !== undefined && { triggerPrice: i.trigger_price }),
  };
}

const SliceItem = z.object({
  index: z.number(),
  quantity: z.number(),
  order: BrokerOrderItem.optional(),
  error: z.string().optional(),
});

const ResultItem = BrokerOrderItem.extend({
  // Records written before results carried the whole broker order may lack a status.
  status: z.string().default('PLACED'),
  paper: z.boolean(),
  slices: z.array(SliceItem).optional(),
});

/** A task's result as stored: the broker order, `paper`, and a sliced order's children. */
function resultItem(r: OrderResult): Record<string, unknown> {
  return {
    ...brokerOrderItem(r),
    paper: r.paper,
    ...(r.slices !== undefined && {
      slices: r.slices.map((s) => ({
        index: s.index,
        quantity: s.quantity,
        ...(s.order !== undefined && { order: brokerOrderItem(s.order) }),
        ...(s.error !== undefined && { error: s.error }),
      })),
    }),
  };
}

function orderResult(i: z.infer<typeof ResultItem>): OrderResult {
  const slices = i.slices?.map(
    (s): OrderSlice => ({
      index: s.index,
      quantity: s.quantity,
      ...(s.order !== undefined && { order: brokerOrderState(s.order) }),
      ...(s.error !== undefined && { error: s.error }),
    }),
  );
  return { ...brokerOrderState(i), paper: i.paper, ...(slices !== undefined && { slices }) };
}

const LinkItem = z.object({
  order_id: z.string(),
  task_id: z.string().optional(),
  held: z.array(BrokerOrderItem).optional(),
});

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
  result: ResultItem.optional(),
  result_version: z.number().optional(),
  last_error: z.string().optional(),
  created_at: z.number(),
  updated_at: z.number(),
  redriven_at: z.number().optional(),
  raw_body: z.string().optional(),
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
 * - Broker news costs one write when this store has seen the task's result before: links (which
 *   never change once written) and each task's last result with its `result_version` are
 *   remembered, the merge starts from the remembered result, and the write's version condition
 *   sends it back to a consistent read whenever another writer got there first. News the
 *   remembered result already has is confirmed by a read before it is called unchanged.
 *
 * Failures: SDK failures and items not in the stored shape reject with
 * `DependencyUnavailableError('dynamodb', …)`; bad input rejects with `ValidationError` first.
 */
export class DynamoDbOrderStore implements OrderStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #links: string;
  /** Order id → task id, of links this store wrote or read. */
  readonly #taskOfOrder = new Map<string, string>();
  /** Task id → its result as last read or written (consistently) by this store. */
  readonly #results = new Map<string, KnownResult>();

  constructor(options: DynamoDbOrderStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.#table = physicalTableName(options.tablePrefix, Tables.orders);
    this.#links = physicalTableName(options.tablePrefix, Tables.brokerOrders);
  }

  async create(task: OrderTask, nowMs: number, options: { readonly rawBody?: string } = {}): Promise<OrderRecord> {
    const parsed = parseOrderTask(task);
    const item = {
      task_id: parsed.task_id,
      status: 'PENDING',
      task: parsed,
      attempts: [],
      created_at: nowMs,
      updated_at: nowMs,
      ...(options.rawBody !== undefined && { raw_body: options.rawBody }),
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
    return output.Item === undefined ? undefined : this.#decodeConsistent(output.Item);
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
      sets.push('#result = :result', 'result_version = if_not_exists(result_version, :zero) + :one');
      values[':result'] = resultItem(changes.result);
      values[':zero'] = 0;
      values[':one'] = 1;
      // The account is copied from the stored task in the same write: no read before it.
      if (isOpenBrokerStatus(changes.result.status)) sets.push('open_account = #task.#account');
      else removes.push('open_account');
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
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(changes.result && { '#result': 'result' }),
            ...(changes.result &&
              isOpenBrokerStatus(changes.result.status) && { '#task': 'task', '#account': 'account_id' }),
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.#decodeConsistent(output.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw this.#failure('UpdateItem', error);
    }
  }

  async listDeadLetters(query: { errorType?: string; owner?: string; limit: number; cursor?: string }): Promise<{
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
    const filters = [
      ...(errorType !== undefined ? ['error_type = :type'] : []),
      ...(query.owner !== undefined ? ['#task.#owner = :owner'] : []),
    ];
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
            ExpressionAttributeNames: {
              '#status': 'status',
              ...(query.owner !== undefined && { '#task': 'task', '#owner': 'owner' }),
            },
            ExpressionAttributeValues: {
              ':status': 'DEAD_LETTER',
              ...(errorType !== undefined && { ':type': errorType }),
              ...(query.owner !== undefined && { ':owner': query.owner }),
            },
            ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
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

  async applyBrokerUpdate(
    taskId: string,
    update: BrokerOrderState,
    nowMs: number,
  ): Promise<{ readonly record: OrderRecord; readonly changed: boolean } | undefined> {
    let remembered = this.#results.get(taskId);
    for (let tries = 0; tries < MERGE_TRIES; tries++) {
      const read = remembered === undefined;
      const current = remembered ?? (await this.#readResult(taskId));
      remembered = undefined;
      if (current === undefined) return undefined;
      const { record, version } = current;
      // A sliced order's news lands on its child; the aggregate follows.
      const result = mergeOrderResult(record.result, update);
      if (result === undefined) {
        // The remembered result may be behind the stored one: only a read says the news is old.
        if (read) return { record, changed: false };
        continue;
      }
      const open = isOpenBrokerStatus(result.status);
      try {
        const written = await this.#documents.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { task_id: taskId },
            UpdateExpression: `SET #result = :result, result_version = :next, updated_at = :now${
              open ? ', open_account = :account' : ' REMOVE open_account'
            }`,
            ConditionExpression:
              version === undefined ? 'attribute_not_exists(result_version)' : 'result_version = :version',
            ExpressionAttributeNames: { '#result': 'result' },
            ExpressionAttributeValues: {
              ':result': resultItem(result),
              ':next': (version ?? 0) + 1,
              ':now': nowMs,
              ...(open && { ':account': record.task.account_id }),
              ...(version !== undefined && { ':version': version }),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { record: this.#decodeConsistent(written.Attributes), changed: true };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw this.#failure('UpdateItem', error);
        this.#results.delete(taskId);
      }
    }
    throw this.#failure('UpdateItem', new Error(`broker update of ${taskId} kept losing to other writers`));
  }

  /** A consistent read of a task's result and version; undefined when the task or its result is missing. */
  async #readResult(taskId: string): Promise<KnownResult | undefined> {
    const output = await this.#send('GetItem', () =>
      this.#documents.send(new GetCommand({ TableName: this.#table, Key: { task_id: taskId }, ConsistentRead: true })),
    );
    if (output.Item === undefined) return undefined;
    this.#decodeConsistent(output.Item);
    return this.#results.get(taskId);
  }

  async linkBrokerOrder(orderId: string, taskId: string): Promise<readonly BrokerOrderState[]> {
    const output = await this.#send('UpdateItem', () =>
      this.#documents.send(
        new UpdateCommand({
          TableName: this.#links,
          Key: { order_id: orderId },
          UpdateExpression: 'SET task_id = :task, expires_at = :expires REMOVE held',
          ExpressionAttributeValues: { ':task': taskId, ':expires': this.#linkExpiry() },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    remember(this.#taskOfOrder, orderId, taskId);
    if (output.Attributes === undefined) return [];
    return (decodeItem(LinkItem, output.Attributes, 'broker order link', this.#links).held ?? []).map(brokerOrderState);
  }

  async holdBrokerUpdate(update: BrokerOrderState): Promise<string | undefined> {
    // Most news is about an order already linked: one consistent read answers it. Links never
    // change once written, so only a missing link needs the conditional hold below.
    const linked = await this.taskOfBrokerOrder(update.orderId);
    if (linked !== undefined) return linked;
    const held = await this.#documents
      .send(
        new UpdateCommand({
          TableName: this.#links,
          Key: { order_id: update.orderId },
          // Keeps the update only while no task is linked: a link written since the read wins.
          UpdateExpression: 'SET held = list_append(if_not_exists(held, :empty), :update), expires_at = :expires',
          ConditionExpression: 'attribute_not_exists(task_id)',
          ExpressionAttributeValues: {
            ':empty': [],
            ':update': [brokerOrderItem(update)],
            ':expires': this.#linkExpiry(),
          },
        }),
      )
      .then(
        () => true,
        (error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw this.#failure('UpdateItem', error);
          return false;
        },
      );
    return held ? undefined : this.taskOfBrokerOrder(update.orderId);
  }

  async taskOfBrokerOrder(orderId: string): Promise<string | undefined> {
    const known = this.#taskOfOrder.get(orderId);
    if (known !== undefined) return known;
    const link = await this.#send('GetItem', () =>
      this.#documents.send(
        new GetCommand({ TableName: this.#links, Key: { order_id: orderId }, ConsistentRead: true }),
      ),
    );
    const taskId =
      link.Item === undefined ? undefined : decodeItem(LinkItem, link.Item, 'broker order link', this.#links).task_id;
    if (taskId !== undefined) remember(this.#taskOfOrder, orderId, taskId);
    return taskId;
  }

  async listOpenOrders(query: { limit: number; cursor?: string }): Promise<{
    items: readonly OrderRecord[];
    cursor?: string;
  }> {
    const startKey =
      query.cursor === undefined
        ? undefined
        : (JSON.parse(Buffer.from(query.cursor, 'base64url').toString()) as Record<string, unknown>);
    const output = await this.#send('Scan', () =>
      this.#documents.send(
        new ScanCommand({
          TableName: this.#table,
          IndexName: OPEN_INDEX,
          Limit: query.limit,
          ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
        }),
      ),
    );
    const items = (output.Items ?? []).map((item) => this.#decode(item)).filter((r) => r.status === 'COMPLETED');
    return output.LastEvaluatedKey === undefined
      ? { items }
      : { items, cursor: Buffer.from(JSON.stringify(output.LastEvaluatedKey)).toString('base64url') };
  }

  #linkExpiry(): number {
    return Math.floor(Date.now() / 1000) + LINK_RETENTION_SECONDS;
  }

  #decode(item: Record<string, unknown> | undefined): OrderRecord {
    const i = decodeItem(OrderItem, item, 'order', this.#table);
    return {
      task: i.task,
      status: i.status,
      attempts: i.attempts.map((a) => ({ attempt: a.attempt, at: a.at, ...(a.error && { error: a.error }) })),
      ...(i.result && { result: orderResult(i.result) }),
      ...(i.last_error !== undefined && { lastError: i.last_error }),
      createdAt: i.created_at,
      updatedAt: i.updated_at,
      ...(i.redriven_at !== undefined && { redrivenAt: i.redriven_at }),
      ...(i.raw_body !== undefined && { rawBody: i.raw_body }),
    };
  }

  /** Decodes an item read or written consistently, remembering its result and version. */
  #decodeConsistent(item: Record<string, unknown> | undefined): OrderRecord {
    const record = this.#decode(item);
    const { result } = record;
    if (result !== undefined) {
      const version = typeof item?.result_version === 'number' ? item.result_version : undefined;
      remember(this.#results, record.task.task_id, { record: { ...record, result }, version });
    }
    return record;
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

import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { InstrumentToken } from '../../contracts/common.js';
import { DependencyUnavailableError, NotFoundError, type PlatformError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ConnectionRecord, ConnectionStore } from '../../ports/connection-store.js';
import { physicalTableName, Tables } from '../../tables.js';
import {
  BatchIntervalMs,
  ConnectionId,
  ConnectionRecordInput,
  Delivery,
  normaliseTokens,
  parseConnectionInput,
  RESERVED_PREFIX,
  Tokens,
} from '../connection-store-input.js';
import { SystemClock } from '../system-clock.js';
import { decodeItem, dynamoDbFailure, sendToDynamoDb } from './dynamodb-calls.js';

/** The table's one global index, keyed by `user_id`; token index items borrow it (see the class). */
const USER_INDEX = Tables.connections.globalSecondaryIndexes[0].indexName;

/** Index writes one call keeps in flight: a `put` with thousands of tokens must not burst the table. */
const INDEX_WRITE_CONCURRENCY = 16;

/** A connection record as stored: snake_case, `tokens` a number set (absent when empty; a list is read too). */
const ConnectionItem = z.object({
  connection_id: z.string(),
  item_type: z.literal('connection'),
  user_id: z.string().optional(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  tokens: z.union([z.set(z.number()), z.array(z.number())]).optional(),
  delivery: Delivery,
  batch_interval_ms: z.number().nullable(),
  connected_at: z.number(),
  expires_at: z.number(),
  version: z.number(),
  removed: z.literal(true).optional(),
});
type ConnectionItem = z.infer<typeof ConnectionItem>;

/** The part of a record the index writes need. */
interface IndexState {
  readonly connectionId: string;
  readonly tokens: ReadonlySet<number>;
  readonly version: number;
  readonly expiresAt: number;
}

/** The partition of `user-index` that lists the holders of `token`. */
const indexPartition = (token: number) => `${RESERVED_PREFIX}${token}`;
/** The key of the index item that says whether `connectionId` holds `token`. */
const indexKey = (token: number, connectionId: string) => `${RESERVED_PREFIX}${token}#${connectionId}`;

function tokenSet(item: ConnectionItem): Set<number> {
  return new Set(item.tokens ?? []);
}

/** Runs `work` over `items` with at most `limit` in flight; rejects with the first failure. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** What a {@link DynamoDbConnectionStore} needs. */
export interface DynamoDbConnectionStoreOptions {
  /** The client to send with (the composition root's); the store does not destroy it. */
  readonly client: DynamoDBClient;
  /** The stage prefix of the table names: the table is `<prefix>-connections`. */
  readonly tablePrefix: string;
  /** Decides when a record has expired (before DynamoDB's TTL gets to it). Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * The {@link ConnectionStore} on the DynamoDB `connections` table (`shared/tables.ts`: key
 * `connection_id`, TTL `expires_at`, global index `user-index` on `user_id`).
 *
 * **The token index.** DynamoDB cannot ask "which connections hold token X" of a record's token
 * set, so the index is kept as items of the same table, one per (token, connection):
 * `connection_id = "token#<token>#<connectionId>"`, with `user_id = "token#<token>"` while the
 * connection holds the token. That makes `connectionsFor(token)` one `Query` of `user-index` on
 * partition `token#<token>`: the table's only global index, shared rather than a new one, because
 * an index needs a table change and the `token#` partitions cannot meet a real user's (ids
 * starting with `token#` are rejected for connections and users alike). A connection that drops a
 * token keeps its index item without `user_id`, which takes it out of the (sparse) index. Index
 * items carry the record's `expires_at`, so TTL removes them with it, and `connectionsFor` filters
 * on `expires_at` so an expired connection is not listed in the meantime. This is the simple,
 * correct variant: the fan-out's hot path reads its own in-memory index (fed from Redis), not
 * this one; a token with thousands of holders costs a few pages of query here.
 *
 * **Keeping the index in step without transactions** (dynalite has none, and concurrent
 * transactions on one item cancel each other instead of queueing). Every change to a record's
 * tokens is one atomic `UpdateItem` that also increments the record's `version` and returns the
 * record as it now is. The call then writes the index item of each token it touched, stamped with
 * that version and saying present or absent as the returned record says, on the condition that
 * the item's version is not newer. The index item of a token therefore ends up as the newest
 * record version that touched the token left it, whatever order concurrent calls finish in:
 * twenty concurrent `addTokens` lose nothing, and an add racing a remove of the same token cannot
 * leave an entry the record does not have.
 *
 * **Removal** turns the record into a tombstone (`removed`, no `user_id`, version incremented)
 * and marks its tokens absent; the tombstone stays until TTL deletes it so versions keep rising
 * if the id is ever put again. `remove` is idempotent, and repeating it finishes an index cleanup
 * that an earlier call did not complete. An index item whose `expires_at` has passed may be
 * overwritten whatever its version, so a record TTL deleted and put again starts clean.
 *
 * Reads: `get` is a strongly consistent `GetItem`; removed and expired records read as
 * `undefined`. `connectionsFor` reads a global index, which DynamoDB keeps eventually consistent:
 * in the cloud a connection can be missing for a moment after `addTokens`, or listed for a moment
 * after `remove` or `removeTokens` (typically well under a second). A post to such a connection
 * answers 410 and the fan-out drops it; dynalite updates indexes synchronously.
 *
 * Failures: `addTokens`, `removeTokens` and `setDelivery` on a connection that is not there
 * (never put, removed, expired) reject with `NotFoundError`; bad input with `ValidationError`
 * before anything is sent; any SDK failure with `DependencyUnavailableError('dynamodb', …)`
 * carrying the SDK error as `cause`, as does an item not in the stored shape. If an index write
 * fails after the record changed, the call rejects and repeating it repairs the index.
 */
export class DynamoDbConnectionStore implements ConnectionStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;

  constructor(options: DynamoDbConnectionStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.client);
    this.#table = physicalTableName(options.tablePrefix, Tables.connections);
    this.#clock = options.clock ?? new SystemClock();
  }

  async put(record: ConnectionRecord): Promise<void> {
    const input = parseConnectionInput(ConnectionRecordInput, record, 'record');
    const tokens = new Set(input.tokens);
    const output = await this.#send('UpdateItem', () =>
      this.#documents.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { connection_id: input.connectionId },
          UpdateExpression:
            'SET #type = :type, #user = :user, #email = :email, #name = :name, #delivery = :delivery, ' +
            '#interval = :interval, #connected = :connected, #expires = :expires, ' +
            `#version = if_not_exists(#version, :zero) + :one${tokens.size > 0 ? ', #tokens = :tokens' : ''} ` +
            `REMOVE #removed${tokens.size > 0 ? '' : ', #tokens'}`,
          ExpressionAttributeNames: {
            '#type': 'item_type',
            '#user': 'user_id',
            '#email': 'email',
            '#name': 'name',
            '#delivery': 'delivery',
            '#interval': 'batch_interval_ms',
            '#connected': 'connected_at',
            '#expires': 'expires_at',
            '#version': 'version',
            '#tokens': 'tokens',
            '#removed': 'removed',
          },
          ExpressionAttributeValues: {
            ':type': 'connection',
            ':user': input.userId,
            ':email': input.email,
            ':name': input.name,
            ':delivery': input.delivery,
            ':interval': input.batchIntervalMs,
            ':connected': input.connectedAt,
            ':expires': input.expiresAt,
            ':zero': 0,
            ':one': 1,
            ...(tokens.size > 0 && { ':tokens': tokens }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const old = output.Attributes;
    const oldVersion = typeof old?.version === 'number' ? old.version : 0;
    const oldTokens = old?.tokens instanceof Set || Array.isArray(old?.tokens) ? [...old.tokens] : [];
    const touched = normaliseTokens([...tokens, ...oldTokens.filter((t): t is number => typeof t === 'number')]);
    await this.#syncIndex(
      { connectionId: input.connectionId, tokens, version: oldVersion + 1, expiresAt: input.expiresAt },
      touched,
    );
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const item = await this.#read(id);
    return item && this.#isLive(item) ? this.#toRecord(item) : undefined;
  }

  async remove(connectionId: string): Promise<void> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    let tombstone: ConnectionItem | undefined;
    try {
      const output = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { connection_id: id },
          UpdateExpression: 'SET #removed = :true ADD #version :one REMOVE #user',
          ConditionExpression: 'attribute_exists(#id) AND attribute_not_exists(#removed)',
          ExpressionAttributeNames: {
            '#id': 'connection_id',
            '#removed': 'removed',
            '#version': 'version',
            '#user': 'user_id',
          },
          ExpressionAttributeValues: { ':true': true, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      tombstone = this.#decode(output.Attributes);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw this.#failure('UpdateItem', error);
      // Never there, or removed before: finish whatever index cleanup that earlier remove left.
      tombstone = await this.#read(id);
      if (tombstone?.removed !== true) return;
    }
    const state = this.#indexState(tombstone);
    await this.#syncIndex({ ...state, tokens: new Set() }, normaliseTokens(state.tokens));
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#changeTokens('ADD', connectionId, tokens);
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#changeTokens('DELETE', connectionId, tokens);
  }

  async setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<void> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const mode = parseConnectionInput(Delivery, delivery, 'delivery');
    const interval = parseConnectionInput(BatchIntervalMs, batchIntervalMs, 'batchIntervalMs');
    await this.#updateLive(id, {
      UpdateExpression: 'SET #delivery = :delivery, #interval = :interval',
      ExpressionAttributeNames: { '#delivery': 'delivery', '#interval': 'batch_interval_ms' },
      ExpressionAttributeValues: { ':delivery': mode, ':interval': interval },
    });
  }

  async connectionsFor(instrumentToken: number): Promise<readonly string[]> {
    const token = parseConnectionInput(InstrumentToken, instrumentToken, 'instrumentToken');
    const holders: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#send('Query', () =>
        this.#documents.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: USER_INDEX,
            KeyConditionExpression: '#user = :partition',
            FilterExpression: '#expires > :now',
            ProjectionExpression: '#holder',
            ExpressionAttributeNames: { '#user': 'user_id', '#expires': 'expires_at', '#holder': 'holder_id' },
            ExpressionAttributeValues: { ':partition': indexPartition(token), ':now': this.#nowSeconds() },
            ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
          }),
        ),
      );
      for (const item of output.Items ?? []) {
        const holder = item.holder_id;
        if (typeof holder !== 'string') {
          throw new DependencyUnavailableError(
            'dynamodb',
            `DynamoDB returned a malformed token index item from ${this.#table}`,
          );
        }
        holders.push(holder);
      }
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
    return holders.sort();
  }

  /** `ADD` or `DELETE` `tokens` on a live record, then the index items of those tokens. */
  async #changeTokens(
    action: 'ADD' | 'DELETE',
    connectionId: string,
    tokens: readonly number[],
  ): Promise<readonly number[]> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const given = normaliseTokens(parseConnectionInput(Tokens, tokens, 'tokens'));
    if (given.length === 0) {
      const item = await this.#read(id);
      if (!item || !this.#isLive(item)) throw new NotFoundError(`No connection ${id}`);
      return normaliseTokens(tokenSet(item));
    }
    const item = await this.#updateLive(id, {
      // One ADD clause may list both; DELETE needs its own clause.
      UpdateExpression:
        action === 'ADD' ? 'ADD #tokens :tokens, #version :one' : 'DELETE #tokens :tokens ADD #version :one',
      ExpressionAttributeNames: { '#tokens': 'tokens', '#version': 'version' },
      ExpressionAttributeValues: { ':tokens': new Set(given), ':one': 1 },
    });
    const state = this.#indexState(item);
    await this.#syncIndex(state, given);
    return normaliseTokens(state.tokens);
  }

  /**
   * An update of a live record (present, not removed, not expired), returning it as it now is;
   * `NotFoundError` when there is none.
   */
  async #updateLive(
    connectionId: string,
    update: {
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<ConnectionItem> {
    try {
      const output = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { connection_id: connectionId },
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: 'attribute_exists(#id) AND attribute_not_exists(#removed) AND #expires > :now',
          ExpressionAttributeNames: {
            ...update.ExpressionAttributeNames,
            '#id': 'connection_id',
            '#removed': 'removed',
            '#expires': 'expires_at',
          },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':now': this.#nowSeconds() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.#decode(output.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new NotFoundError(`No connection ${connectionId}`);
      throw this.#failure('UpdateItem', error);
    }
  }

  /**
   * Writes the index item of each of `touched` as `state` has it (present when `state.tokens`
   * holds the token), unless a newer version has written it already.
   */
  async #syncIndex(state: IndexState, touched: readonly number[]): Promise<void> {
    await forEachLimited(touched, INDEX_WRITE_CONCURRENCY, async (token) => {
      const present = state.tokens.has(token);
      try {
        await this.#documents.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { connection_id: indexKey(token, state.connectionId) },
            UpdateExpression:
              'SET #type = :type, #holder = :holder, #token = :token, #version = :version, #expires = :expires' +
              (present ? ', #user = :partition' : ' REMOVE #user'),
            ConditionExpression: 'attribute_not_exists(#id) OR #version <= :version OR #expires <= :now',
            ExpressionAttributeNames: {
              '#id': 'connection_id',
              '#type': 'item_type',
              '#holder': 'holder_id',
              '#token': 'instrument_token',
              '#version': 'version',
              '#expires': 'expires_at',
              '#user': 'user_id',
            },
            ExpressionAttributeValues: {
              ':type': 'token-index',
              ':holder': state.connectionId,
              ':token': token,
              ':version': state.version,
              ':expires': state.expiresAt,
              ':now': this.#nowSeconds(),
              ...(present && { ':partition': indexPartition(token) }),
            },
          }),
        );
      } catch (error) {
        // A newer version of the record wrote this item already: what it says is the truth.
        if (error instanceof ConditionalCheckFailedException) return;
        throw this.#failure('UpdateItem', error);
      }
    });
  }

  async #read(connectionId: string): Promise<ConnectionItem | undefined> {
    const output = await this.#send('GetItem', () =>
      this.#documents.send(
        new GetCommand({ TableName: this.#table, Key: { connection_id: connectionId }, ConsistentRead: true }),
      ),
    );
    return output.Item === undefined ? undefined : this.#decode(output.Item);
  }

  #isLive(item: ConnectionItem): boolean {
    return item.removed !== true && item.expires_at > this.#nowSeconds();
  }

  /** Now in epoch seconds, fractional: a record is live while `expires_at` is after it. */
  #nowSeconds(): number {
    return this.#clock.now() / 1000;
  }

  #indexState(item: ConnectionItem): IndexState {
    return {
      connectionId: item.connection_id,
      tokens: tokenSet(item),
      version: item.version,
      expiresAt: item.expires_at,
    };
  }

  /** An item in the stored shape; anything else is reported, not guessed at. */
  #decode(item: Record<string, unknown> | undefined): ConnectionItem {
    return decodeItem(ConnectionItem, item, 'connection', this.#table);
  }

  #toRecord(item: ConnectionItem): ConnectionRecord {
    if (item.user_id === undefined) {
      throw new DependencyUnavailableError('dynamodb', `DynamoDB returned a connection item without user_id`);
    }
    return {
      connectionId: item.connection_id,
      userId: item.user_id,
      email: item.email,
      name: item.name,
      tokens: normaliseTokens(tokenSet(item)),
      delivery: item.delivery,
      batchIntervalMs: item.batch_interval_ms,
      connectedAt: item.connected_at,
      expiresAt: item.expires_at,
    };
  }

  #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return sendToDynamoDb(this.#table, operation, call);
  }

  #failure(operation: string, error: unknown): PlatformError {
    return dynamoDbFailure(this.#table, operation, error);
  }
}

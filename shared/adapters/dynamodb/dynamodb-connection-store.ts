import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import {
  applyTokenAction,
  type TokenAction,
  type TokenMark,
  wantedTokens,
} from '../../domain/connections/ordered-tokens.js';
import { DependencyUnavailableError, NotFoundError, type PlatformError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ConnectionRecord, ConnectionStore, TokenChangeResult } from '../../ports/connection-store.js';
import { physicalTableName, Tables } from '../../tables.js';
import {
  BatchIntervalMs,
  ConnectionId,
  ConnectionRecordInput,
  Delivery,
  normaliseTokens,
  parseConnectionInput,
  Tokens,
} from '../connection-store-input.js';
import { SystemClock } from '../system-clock.js';
import { decodeItem, dynamoDbFailure, sendToDynamoDb } from './dynamodb-calls.js';

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
  removed: z.literal(true).optional(),
  /** The number of token changes so far; absent before the first. */
  version: z.number().optional(),
  /** The last action on each token: `[stamp, 1 wanted | 0 released]`; absent until a stamped change. */
  token_marks: z.record(z.string(), z.tuple([z.number(), z.number()])).optional(),
});
type ConnectionItem = z.infer<typeof ConnectionItem>;

function tokenSet(item: ConnectionItem): Set<number> {
  return new Set(item.tokens ?? []);
}

/** The item's last action per token; an item without marks wants its tokens since the start. */
function marksOf(item: ConnectionItem): Map<number, TokenMark> {
  if (item.token_marks === undefined) return new Map([...tokenSet(item)].map((t) => [t, { stamp: 0, wanted: true }]));
  return new Map(
    Object.entries(item.token_marks).map(([token, [stamp, wanted]]) => [
      Number(token),
      { stamp, wanted: wanted === 1 },
    ]),
  );
}

/** Attempts of a stamped change against concurrent writers of the same record before giving up. */
const CHANGE_ATTEMPTS = 25;

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
 * `connection_id`, TTL `expires_at`): one item per connection. Nothing here answers "which
 * connections hold token X": the fan-out reads its own index (fed from Redis) for that.
 *
 * Every change to a record's tokens is one atomic `UpdateItem` (`ADD`/`DELETE` on the number set)
 * that returns the record as it now is, so concurrent `addTokens` lose nothing. `remove` deletes
 * the item and is idempotent. `changeTokens` (the WebSocket routes' stamped changes) keeps the
 * last action per token in `token_marks` and counts changes in `version`, written with a
 * condition on the version it read (optimistic concurrency). Items written by earlier versions (a
 * `removed` tombstone, `token#…` index items) read as before: a tombstone is not live, the rest
 * is ignored and expires with TTL.
 *
 * Reads: `get` is a strongly consistent `GetItem`; removed and expired records read as
 * `undefined`.
 *
 * Failures: `addTokens`, `removeTokens` and `setDelivery` on a connection that is not there
 * (never put, removed, expired) reject with `NotFoundError`; bad input with `ValidationError`
 * before anything is sent; any SDK failure with `DependencyUnavailableError('dynamodb', …)`
 * carrying the SDK error as `cause`, as does an item not in the stored shape.
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
    await this.#send('PutItem', () =>
      this.#documents.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            connection_id: input.connectionId,
            item_type: 'connection',
            user_id: input.userId,
            email: input.email,
            name: input.name,
            delivery: input.delivery,
            batch_interval_ms: input.batchIntervalMs,
            connected_at: input.connectedAt,
            expires_at: input.expiresAt,
            // DynamoDB has no empty sets: no tokens is no attribute.
            ...(tokens.size > 0 && { tokens }),
          },
        }),
      ),
    );
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const item = await this.#read(id);
    return item && this.#isLive(item) ? this.#toRecord(item) : undefined;
  }

  async remove(connectionId: string): Promise<void> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    await this.#send('DeleteItem', () =>
      this.#documents.send(new DeleteCommand({ TableName: this.#table, Key: { connection_id: id } })),
    );
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#changeTokens('ADD', connectionId, tokens);
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#changeTokens('DELETE', connectionId, tokens);
  }

  /**
   * Read, apply (`applyTokenAction`), and write back on the condition that the record's `version`
   * is still the one read: a concurrent change makes the write fail and the whole step repeat on
   * the newer record, so no change is lost and each gets its own version.
   */
  async changeTokens(connectionId: string, action: TokenAction): Promise<TokenChangeResult> {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const tokens = normaliseTokens(parseConnectionInput(Tokens, action.tokens, 'tokens'));
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
      const item = await this.#read(id);
      if (!item || !this.#isLive(item)) throw new NotFoundError(`No connection ${id}`);
      const version = item.version ?? 0;
      const outcome = applyTokenAction(marksOf(item), { ...action, tokens });
      if (!outcome.accepted) return { accepted: false, tokens: normaliseTokens(tokenSet(item)), version };
      const wanted = wantedTokens(outcome.marks);
      const marks = Object.fromEntries(
        [...outcome.marks].map(([token, mark]) => [String(token), [mark.stamp, mark.wanted ? 1 : 0]]),
      );
      try {
        const output = await this.#documents.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { connection_id: id },
            UpdateExpression: `SET #marks = :marks, #version = :next${wanted.length > 0 ? ', #tokens = :tokens' : ' REMOVE #tokens'}`,
            ConditionExpression: `attribute_exists(#id) AND attribute_not_exists(#removed) AND #expires > :now AND ${
              version === 0 ? '(attribute_not_exists(#version) OR #version = :version)' : '#version = :version'
            }`,
            ExpressionAttributeNames: {
              '#id': 'connection_id',
              '#removed': 'removed',
              '#expires': 'expires_at',
              '#version': 'version',
              '#marks': 'token_marks',
              '#tokens': 'tokens',
            },
            ExpressionAttributeValues: {
              ':now': this.#nowSeconds(),
              ':version': version,
              ':next': version + 1,
              ':marks': marks,
              ...(wanted.length > 0 && { ':tokens': new Set(wanted) }),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        const after = this.#decode(output.Attributes);
        return { accepted: true, tokens: normaliseTokens(tokenSet(after)), version: after.version ?? version + 1 };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) continue;
        throw this.#failure('UpdateItem', error);
      }
    }
    throw new DependencyUnavailableError('dynamodb', `Connection ${id} changed by too many writers at once`);
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

  /** `ADD` or `DELETE` `tokens` on a live record. */
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
    // An unordered change counts as the latest on its tokens: the marks go, the tokens stay.
    const item = await this.#updateLive(id, {
      UpdateExpression: `${action} #tokens :tokens SET #version = if_not_exists(#version, :zero) + :one REMOVE #marks`,
      ExpressionAttributeNames: { '#tokens': 'tokens', '#version': 'version', '#marks': 'token_marks' },
      ExpressionAttributeValues: { ':tokens': new Set(given), ':one': 1, ':zero': 0 },
    });
    return normaliseTokens(tokenSet(item));
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

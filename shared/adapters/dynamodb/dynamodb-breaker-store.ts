import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { PlatformError } from '../../errors.js';
import { type BreakerRecord, BreakerState, type CircuitBreakerStore } from '../../ports/circuit-breaker-store.js';
import { physicalTableName, Tables } from '../../tables.js';
import { closedBreaker, parseBreakerRecord } from '../breaker-store-input.js';
import { decodeItem, dynamoDbFailure } from './dynamodb-calls.js';

const BreakerItem = z.object({
  breaker_key: z.string(),
  state: z.enum([BreakerState.closed, BreakerState.open, BreakerState.halfOpen]),
  consecutive_failures: z.number(),
  opened_at: z.number().nullable(),
  half_open_calls: z.number(),
  version: z.number(),
});

/** What a {@link DynamoDbBreakerStore} needs. */
export interface DynamoDbBreakerStoreOptions {
  /** The client to send with (the composition root's); the store does not destroy it. */
  readonly client: DynamoDBClient;
  /** The stage prefix: the table is `<prefix>-breakers`. */
  readonly tablePrefix: string;
}

/**
 * The {@link CircuitBreakerStore} on the DynamoDB `breakers` table: one item per breaker key with a
 * `version` number. `get` reads strongly consistently (a breaker decision on stale state could hand
 * out a half-open slot twice); `compareAndSet` is a `PutItem` conditioned on the stored version
 * being the one read (or, at version 0, on the item not existing), writing version + 1, so of
 * concurrent writers exactly one succeeds and the others re-read. SDK failures reject with
 * `DependencyUnavailableError('dynamodb', …)`.
 */
export class DynamoDbBreakerStore implements CircuitBreakerStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbBreakerStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.client);
    this.#table = physicalTableName(options.tablePrefix, Tables.breakers);
  }

  async get(key: string): Promise<BreakerRecord> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.#documents.send(
        new GetCommand({ TableName: this.#table, Key: { breaker_key: key }, ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw this.#failure('GetItem', error);
    }
    if (item === undefined) return closedBreaker(key);
    const i = decodeItem(BreakerItem, item, 'breaker', this.#table);
    return {
      key: i.breaker_key,
      state: i.state,
      consecutiveFailures: i.consecutive_failures,
      openedAt: i.opened_at,
      halfOpenCalls: i.half_open_calls,
      version: i.version,
    };
  }

  async compareAndSet(record: Omit<BreakerRecord, 'version'>, expectedVersion: number): Promise<boolean> {
    const next = parseBreakerRecord(record);
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            breaker_key: next.key,
            state: next.state,
            consecutive_failures: next.consecutiveFailures,
            opened_at: next.openedAt,
            half_open_calls: next.halfOpenCalls,
            version: expectedVersion + 1,
          },
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(breaker_key)' : '#version = :expected',
          ...(expectedVersion !== 0 && {
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': expectedVersion },
          }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw this.#failure('PutItem', error);
    }
  }

  #failure(operation: string, error: unknown): PlatformError {
    return dynamoDbFailure(this.#table, operation, error);
  }
}

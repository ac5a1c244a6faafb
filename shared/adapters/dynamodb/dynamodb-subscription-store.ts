import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { InstrumentToken, SubscriptionMode, SubscriptionStatus } from '../../contracts/common.js';
import type { PlatformError } from '../../errors.js';
import type { Page, StoredSubscription, SubscriptionStore } from '../../ports/subscription-store.js';
import { physicalTableName, Tables } from '../../tables.js';
import {
  encodeCursor,
  MAX_LIST_LIMIT,
  parseChanges,
  parseListQuery,
  parseNow,
  parseSubscriptionInput,
  parseToken,
  type SubscriptionChanges,
  type SubscriptionInput,
} from '../subscription-store-input.js';
import { decodeItem, dynamoDbFailure, sendToDynamoDb } from './dynamodb-calls.js';

/** The status index of the subscriptions table (partition `status`, sort `instrument_token`). */
const STATUS_INDEX = Tables.subscriptions.globalSecondaryIndexes[0].indexName;

/**
 * A subscription item as it is stored: the REST shape's snake_case names (TC-REG-001), with times
 * as epoch milliseconds (numbers sort and compare; the REST layer formats them as ISO strings).
 */
const SubscriptionItem = z.object({
  instrument_token: InstrumentToken,
  tradingsymbol: z.string(),
  segment: z.string(),
  status: SubscriptionStatus,
  requested_mode: SubscriptionMode,
  account_id: z.string().nullable().optional(),
  created_at: z.number(),
  updated_at: z.number(),
});

/**
 * Every attribute name goes through an alias: `status` and `segment` are DynamoDB reserved words,
 * and aliasing all of them keeps the expressions uniform.
 */
const NAMES = {
  '#token': 'instrument_token',
  '#tradingsymbol': 'tradingsymbol',
  '#segment': 'segment',
  '#status': 'status',
  '#mode': 'requested_mode',
  '#account': 'account_id',
  '#created': 'created_at',
  '#updated': 'updated_at',
} as const;

/**
 * `records` (sorted by token) with one record per token, the most recently written. While a status
 * change propagates to the index, a record can briefly sit in both status partitions.
 */
function dedupe(records: readonly StoredSubscription[]): StoredSubscription[] {
  const out: StoredSubscription[] = [];
  for (const record of records) {
    const previous = out.at(-1);
    if (previous?.instrumentToken !== record.instrumentToken) out.push(record);
    else if (record.updatedAt > previous.updatedAt) out[out.length - 1] = record;
  }
  return out;
}

/** What a {@link DynamoDbSubscriptionStore} needs. */
export interface DynamoDbSubscriptionStoreOptions {
  /** The client to send with (the composition root's); the store does not destroy it. */
  readonly client: DynamoDBClient;
  /** The stage prefix of the table names: the table is `<prefix>-subscriptions`. */
  readonly tablePrefix: string;
}

/**
 * The {@link SubscriptionStore} on the DynamoDB `subscriptions` table (`shared/tables.ts`).
 *
 * Writes:
 * - `upsert` is one `UpdateItem`: it sets the given fields and `updated_at`, and
 *   `created_at = if_not_exists(created_at, :now)`, so a repeat (or a race of two) never creates a
 *   second record nor moves `createdAt`. An `accountId` of `null` means "no preference": the
 *   account is not written, so a token keeps the account it has, which is what makes assignment
 *   stable across re-subscriptions; a string assigns that account. A field named in `keep` is
 *   written as `if_not_exists(field, :value)`: the record's own value wins, in the same write.
 * - `update` sets only the fields given plus `updated_at`, under the condition that the record
 *   exists: it returns `undefined`, creating nothing, otherwise. `accountId: null` clears the
 *   account by removing the attribute: a record without an account has no `account_id` (an item
 *   never holds a NULL one), which is what lets `keep` test for it with `if_not_exists`.
 * - `deactivate` is `update` with status `inactive`: the record is kept (soft delete).
 * - Concurrent writes to one token are last-writer-wins per field; every write stamps `updatedAt`
 *   with the `nowMs` it was given.
 *
 * Reads:
 * - `get` is a strongly consistent `GetItem`: it sees every write that completed before it.
 * - `list` with a status queries `status-index`, which is sorted by token, with the key condition
 *   `instrument_token > :after`. Without a status it queries both status partitions the same way
 *   and merges them, rather than scanning: a `Scan` comes back in hash order, so a token-ordered
 *   page would have to read (and pay for) the whole table every time, while two bounded queries
 *   read about two pages. Every record has a status, so the index holds every record.
 * - Index reads are eventually consistent (DynamoDB offers nothing else on a global index): a
 *   record written a moment ago may be missing from `list` and `listActive`, or listed under its
 *   previous status, for up to about a second. The reconciler's periodic run absorbs that.
 * - The cursor is base64url of `{"f":filter,"t":lastToken}`; a cursor from another filter, or one
 *   this store did not issue, is a `ValidationError` naming `cursor`. A cursor stays valid
 *   however the table changes: the next page starts after its token.
 *
 * Failures: any SDK failure (network, throttling after the client's retries, a missing table)
 * rejects with `DependencyUnavailableError('dynamodb', …)` carrying the SDK error as `cause`, and
 * so does an item that is not in the stored shape (written by something else); bad input rejects
 * with `ValidationError` before anything is sent. Retries and timeouts are the client's settings.
 */
export class DynamoDbSubscriptionStore implements SubscriptionStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbSubscriptionStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.client);
    this.#table = physicalTableName(options.tablePrefix, Tables.subscriptions);
  }

  async upsert(subscription: SubscriptionInput, nowMs: number): Promise<StoredSubscription> {
    const input = parseSubscriptionInput(subscription);
    const now = parseNow(nowMs);
    const keep = new Set(input.keep);
    const sets = [
      '#tradingsymbol = :tradingsymbol',
      '#segment = :segment',
      '#status = :status',
      keep.has('requestedMode') ? '#mode = if_not_exists(#mode, :mode)' : '#mode = :mode',
      '#created = if_not_exists(#created, :now)',
      '#updated = :now',
    ];
    const names: Record<string, string> = {
      '#tradingsymbol': NAMES['#tradingsymbol'],
      '#segment': NAMES['#segment'],
      '#status': NAMES['#status'],
      '#mode': NAMES['#mode'],
      '#created': NAMES['#created'],
      '#updated': NAMES['#updated'],
    };
    const values: Record<string, unknown> = {
      ':tradingsymbol': input.tradingsymbol,
      ':segment': input.segment,
      ':status': input.status,
      ':mode': input.requestedMode,
      ':now': now,
    };
    const token = input.instrumentToken;
    if (input.accountId === null) return this.#write(this.#command(token, sets, names, values));
    names['#account'] = NAMES['#account'];
    values[':account'] = input.accountId;
    const assigned = [...sets, '#account = :account'];
    if (!keep.has('accountId')) return this.#write(this.#command(token, assigned, names, values));
    // A record without an account has no `account_id` attribute, so `if_not_exists` is "unless the
    // record has an account". Items written before that rule hold a NULL one instead, which
    // `if_not_exists` takes for an account: the condition turns those away, and they are given the
    // account unless one was assigned in between (then the kept form applies after all).
    const kept = [...sets, '#account = if_not_exists(#account, :account)'];
    const nullType = { ...values, ':nullType': 'NULL' };
    return (
      (await this.#writeIf(this.#command(token, kept, names, nullType, 'NOT attribute_type(#account, :nullType)'))) ??
      (await this.#writeIf(
        this.#command(
          token,
          assigned,
          names,
          nullType,
          'attribute_not_exists(#account) OR attribute_type(#account, :nullType)',
        ),
      )) ??
      this.#write(this.#command(token, kept, names, values))
    );
  }

  /** The `UpdateItem` of `token` that SETs `sets` (and REMOVEs `removes`) under `condition`, returning the new record. */
  #command(
    token: number,
    sets: readonly string[],
    names: Record<string, string>,
    values: Record<string, unknown>,
    condition?: string,
    removes: readonly string[] = [],
  ): UpdateCommand {
    return new UpdateCommand({
      TableName: this.#table,
      Key: { instrument_token: token },
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ...(condition !== undefined && { ConditionExpression: condition }),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    });
  }

  /** Sends an unconditional update; the record as it now is. */
  async #write(command: UpdateCommand): Promise<StoredSubscription> {
    const output = await this.#send('UpdateItem', () => this.#documents.send(command));
    return this.#decode(output.Attributes);
  }

  /** Sends a conditional update; the record as it now is, or `undefined` when the condition did not hold. */
  async #writeIf(command: UpdateCommand): Promise<StoredSubscription | undefined> {
    try {
      return this.#decode((await this.#documents.send(command)).Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw this.#failure('UpdateItem', error);
    }
  }

  async get(instrumentToken: number): Promise<StoredSubscription | undefined> {
    const token = parseToken(instrumentToken);
    const output = await this.#send('GetItem', () =>
      this.#documents.send(
        new GetCommand({ TableName: this.#table, Key: { instrument_token: token }, ConsistentRead: true }),
      ),
    );
    return output.Item === undefined ? undefined : this.#decode(output.Item);
  }

  async update(
    instrumentToken: number,
    changes: SubscriptionChanges,
    nowMs: number,
  ): Promise<StoredSubscription | undefined> {
    const token = parseToken(instrumentToken);
    const given = parseChanges(changes);
    const now = parseNow(nowMs);
    const sets = ['#updated = :now'];
    const removes: string[] = [];
    const names: Record<string, string> = { '#token': NAMES['#token'], '#updated': NAMES['#updated'] };
    const values: Record<string, unknown> = { ':now': now };
    const fields = [
      ['#status', ':status', given.status],
      ['#mode', ':mode', given.requestedMode],
      ['#account', ':account', given.accountId],
    ] as const;
    for (const [name, value, changed] of fields) {
      if (changed === undefined) continue;
      names[name] = NAMES[name];
      if (changed === null) {
        removes.push(name);
        continue;
      }
      sets.push(`${name} = ${value}`);
      values[value] = changed;
    }
    return this.#writeIf(this.#command(token, sets, names, values, 'attribute_exists(#token)', removes));
  }

  async deactivate(instrumentToken: number, nowMs: number): Promise<StoredSubscription | undefined> {
    return this.update(instrumentToken, { status: 'inactive' }, nowMs);
  }

  async list(query: {
    status?: SubscriptionStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<StoredSubscription>> {
    const { filter, status, limit, afterToken } = parseListQuery(query);
    // One item beyond the page tells whether another page exists, so the last page has no cursor.
    const want = limit + 1;
    const statuses = status === undefined ? SubscriptionStatus.options : [status];
    const partitions = await Promise.all(statuses.map((s) => this.#queryStatus(s, afterToken, want)));
    const merged = dedupe(partitions.flat().sort((a, b) => a.instrumentToken - b.instrumentToken));
    const items = merged.slice(0, limit);
    const last = items.at(-1);
    return merged.length > limit && last ? { items, cursor: encodeCursor(filter, last.instrumentToken) } : { items };
  }

  async listActive(): Promise<readonly StoredSubscription[]> {
    return this.#queryStatus('active', undefined, Number.POSITIVE_INFINITY);
  }

  /**
   * Up to `want` records of one status with tokens above `afterToken`, in token order, read at most
   * {@link MAX_LIST_LIMIT} per request (bounded read units per call, so `listActive` over thousands
   * of records does not burst the table's throughput). It follows `LastEvaluatedKey`, which also
   * ends a page at 1 MB of data.
   */
  async #queryStatus(
    status: SubscriptionStatus,
    afterToken: number | undefined,
    want: number,
  ): Promise<StoredSubscription[]> {
    const found: StoredSubscription[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const remaining = want - found.length;
      const output = await this.#send('Query', () =>
        this.#documents.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: STATUS_INDEX,
            KeyConditionExpression:
              afterToken === undefined ? '#status = :status' : '#status = :status AND #token > :after',
            ExpressionAttributeNames: {
              '#status': NAMES['#status'],
              ...(afterToken !== undefined && { '#token': NAMES['#token'] }),
            },
            ExpressionAttributeValues: {
              ':status': status,
              ...(afterToken !== undefined && { ':after': afterToken }),
            },
            Limit: Math.min(remaining, MAX_LIST_LIMIT),
            ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
          }),
        ),
      );
      for (const item of output.Items ?? []) found.push(this.#decode(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined && found.length < want);
    return found;
  }

  /** The domain record of a stored item; an item that does not fit the shape is reported, not guessed at. */
  #decode(item: Record<string, unknown> | undefined): StoredSubscription {
    const i = decodeItem(SubscriptionItem, item, 'subscription', this.#table);
    return {
      instrumentToken: i.instrument_token,
      tradingsymbol: i.tradingsymbol,
      segment: i.segment,
      status: i.status,
      requestedMode: i.requested_mode,
      accountId: i.account_id ?? null,
      createdAt: i.created_at,
      updatedAt: i.updated_at,
    };
  }

  #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return sendToDynamoDb(this.#table, operation, call);
  }

  #failure(operation: string, error: unknown): PlatformError {
    return dynamoDbFailure(this.#table, operation, error);
  }
}

import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { DynamoDbConnectionStore } from '../../shared/adapters/dynamodb/dynamodb-connection-store.js';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { ConnectionRecord } from '../../shared/ports/connection-store.js';
import { physicalTableName, Tables } from '../../shared/tables.js';
import { connectionStoreContract } from '../support/connection-store-contract.js';
import { MOTO_LIMITATIONS } from '../support/known-limitations.js';
import { freePort } from '../support/redis-server.js';
import { motoTablePrefix, sharedMoto } from '../support/shared-moto.js';

const endpoint = inject('dynamodbEndpoint');
const client = localDynamoDbClient(endpoint);
afterAll(() => client.destroy());

/** Every table under a fresh prefix: each test starts from an empty connections table. */
async function freshPrefix(on: DynamoDBClient = client): Promise<string> {
  const tablePrefix = `conn-${randomUUID().slice(0, 8)}`;
  await ensureTables(on, tablePrefix);
  return tablePrefix;
}

connectionStoreContract(
  'dynamodb',
  async (clock) => ({ store: new DynamoDbConnectionStore({ client, tablePrefix: await freshPrefix(), clock }) }),
  { propertyRuns: 30 },
);

// The same suite against moto's DynamoDB, an implementation nobody here wrote.
const moto = sharedMoto();
connectionStoreContract(
  'dynamodb (moto)',
  async (clock) => {
    const motoClient = await moto.dynamodb();
    return {
      store: new DynamoDbConnectionStore({
        client: motoClient,
        tablePrefix: await motoTablePrefix(motoClient, Tables.connections),
        clock,
      }),
    };
  },
  { propertyRuns: 5, limitations: MOTO_LIMITATIONS },
);

const NOW_MS = Date.UTC(2025, 0, 8, 3, 45, 0);

function record(connectionId: string, overrides: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    connectionId,
    userId: 'ZX1234',
    email: 'asha@example.com',
    name: 'Asha Rao',
    tokens: [],
    delivery: 'tick',
    batchIntervalMs: null,
    connectedAt: NOW_MS,
    expiresAt: NOW_MS / 1000 + 7_500,
    ...overrides,
  };
}

type Step = (input: Record<string, unknown>) => Promise<void>;

/**
 * A client of its own whose requests first pass `step` (with the document-level input), so a test
 * can hold one request back or fail it, to replay the interleavings concurrent Lambdas produce.
 */
function interceptedClient(step: Step): DynamoDBClient {
  const own = localDynamoDbClient(endpoint);
  own.middlewareStack.add(
    (next) => async (args) => {
      await step(args.input as Record<string, unknown>);
      return next(args);
    },
    { step: 'initialize', name: 'testInterceptor' },
  );
  return own;
}

describe('DynamoDbConnectionStore', () => {
  const clock = new ManualClock(NOW_MS);

  it('stores snake_case attributes, tokens as a number set and expires_at in epoch seconds', async () => {
    const tablePrefix = await freshPrefix();
    const store = new DynamoDbConnectionStore({ client, tablePrefix, clock });
    await store.put(
      record('L0SM9cOFvHcCIhw=', { tokens: [256_265, 260_105], delivery: 'batch', batchIntervalMs: 500 }),
    );
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: physicalTableName(tablePrefix, Tables.connections),
        Key: { connection_id: { S: 'L0SM9cOFvHcCIhw=' } },
      }),
    );
    expect(Item).toMatchObject({
      connection_id: { S: 'L0SM9cOFvHcCIhw=' },
      user_id: { S: 'ZX1234' },
      email: { S: 'asha@example.com' },
      name: { S: 'Asha Rao' },
      delivery: { S: 'batch' },
      batch_interval_ms: { N: '500' },
      connected_at: { N: String(NOW_MS) },
      expires_at: { N: String(NOW_MS / 1000 + 7_500) },
    });
    expect(Item?.tokens?.NS?.map(Number).sort()).toEqual([256_265, 260_105]);
  });

  it('changes a record’s tokens with one request, however many tokens the call names', async () => {
    const tablePrefix = await freshPrefix();
    const sent: string[] = [];
    const counting = interceptedClient(async (input) => {
      sent.push(String(input.UpdateExpression ?? (input.Item ? 'put' : 'other')));
    });
    try {
      const store = new DynamoDbConnectionStore({ client: counting, tablePrefix, clock });
      const many = Array.from({ length: 50 }, (_, i) => 1_000 + i);
      await store.put(record('c1', { tokens: many }));
      expect(sent).toHaveLength(1);
      await store.addTokens(
        'c1',
        many.map((t) => t + 100),
      );
      expect(sent).toHaveLength(2);
      await store.removeTokens('c1', many);
      expect(sent).toHaveLength(3);
      await store.remove('c1');
      expect(sent).toHaveLength(4);
      expect(await store.get('c1')).toBeUndefined();
    } finally {
      counting.destroy();
    }
  });

  it('reads a tombstone an earlier version left as gone, and can put the id again over it', async () => {
    const tablePrefix = await freshPrefix();
    await client.send(
      new PutItemCommand({
        TableName: physicalTableName(tablePrefix, Tables.connections),
        Item: {
          connection_id: { S: 'c1' },
          item_type: { S: 'connection' },
          email: { NULL: true },
          name: { NULL: true },
          tokens: { NS: ['5'] },
          delivery: { S: 'tick' },
          batch_interval_ms: { NULL: true },
          connected_at: { N: String(NOW_MS) },
          expires_at: { N: String(NOW_MS / 1000 + 7_500) },
          version: { N: '3' },
          removed: { BOOL: true },
        },
      }),
    );
    const store = new DynamoDbConnectionStore({ client, tablePrefix, clock });
    expect(await store.get('c1')).toBeUndefined();
    await expect(store.addTokens('c1', [6])).rejects.toThrow(/No connection/);
    await store.put(record('c1', { tokens: [7] }));
    expect(await store.get('c1')).toEqual(record('c1', { tokens: [7] }));
  });

  it('reports an item that does not have the stored shape instead of guessing', async () => {
    const tablePrefix = await freshPrefix();
    await client.send(
      new PutItemCommand({
        TableName: physicalTableName(tablePrefix, Tables.connections),
        Item: { connection_id: { S: 'odd' }, user_id: { S: 'u' } },
      }),
    );
    const store = new DynamoDbConnectionStore({ client, tablePrefix, clock });
    await expect(store.get('odd')).rejects.toThrow(/malformed connection item/);
    await expect(store.addTokens('odd', [])).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  describe('when DynamoDB cannot be reached', () => {
    let unreachable: DynamoDBClient;
    beforeAll(async () => {
      // A closed port, one attempt, short timeouts: the failure must surface at once, not after retries.
      unreachable = new DynamoDBClient({
        endpoint: `http://127.0.0.1:${await freePort()}`,
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 300, requestTimeout: 1000 },
      });
    });
    afterAll(() => unreachable.destroy());

    it('rejects every method with DependencyUnavailableError carrying the SDK error', async () => {
      const store = new DynamoDbConnectionStore({ client: unreachable, tablePrefix: 'test', clock });
      const calls: (() => Promise<unknown>)[] = [
        () => store.put(record('c1', { tokens: [1] })),
        () => store.get('c1'),
        () => store.remove('c1'),
        () => store.addTokens('c1', [1]),
        () => store.removeTokens('c1', [1]),
        () => store.setDelivery('c1', 'batch', 500),
      ];
      for (const call of calls) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DependencyUnavailableError);
        expect((error as DependencyUnavailableError).dependency).toBe('dynamodb');
        expect((error as DependencyUnavailableError).cause).toBeInstanceOf(Error);
      }
    });
  });
});

import { randomUUID } from 'node:crypto';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { DynamoDbConnectionStore } from '../../shared/adapters/dynamodb/dynamodb-connection-store.js';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { ConnectionRecord } from '../../shared/ports/connection-store.js';
import { physicalTableName, Tables } from '../../shared/tables.js';
import { connectionStoreContract } from '../support/connection-store-contract.js';
import { freePort } from '../support/redis-server.js';

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

/** Whether `input` writes the index item of (token, connection) as present or absent. */
function indexWrite(input: Record<string, unknown>, token: number, connectionId: string): 'present' | 'absent' | null {
  const key = input.Key as { connection_id?: unknown } | undefined;
  if (key?.connection_id !== `token#${token}#${connectionId}`) return null;
  return String(input.UpdateExpression).includes('REMOVE') ? 'absent' : 'present';
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

  it('keeps the token index out of real users’ partitions, and a removed connection out of its user’s', async () => {
    const tablePrefix = await freshPrefix();
    const store = new DynamoDbConnectionStore({ client, tablePrefix, clock });
    const byUser = async (userId: string) =>
      (
        await client.send(
          new QueryCommand({
            TableName: physicalTableName(tablePrefix, Tables.connections),
            IndexName: 'user-index',
            KeyConditionExpression: 'user_id = :u',
            ExpressionAttributeValues: { ':u': { S: userId } },
          }),
        )
      ).Items?.map((i) => i.connection_id?.S);
    await store.put(record('c1', { tokens: [5, 6] }));
    await store.put(record('c2', { tokens: [5] }));
    expect((await byUser('ZX1234'))?.sort()).toEqual(['c1', 'c2']);
    await store.remove('c1');
    expect(await byUser('ZX1234')).toEqual(['c2']);
    expect(await store.connectionsFor(5)).toEqual(['c2']);
  });

  it('cannot be left listing a token the record dropped when an add’s index write lands after a racing remove', async () => {
    const tablePrefix = await freshPrefix();
    let releaseAdd: () => void = () => {};
    const addHeld = new Promise<void>((resolve) => {
      releaseAdd = resolve;
    });
    let addReachedIndex: () => void = () => {};
    const addAtIndex = new Promise<void>((resolve) => {
      addReachedIndex = resolve;
    });
    // Holds back the first "present" write of token 5: addTokens has updated the record by then.
    let held = false;
    const slow = interceptedClient(async (input) => {
      if (!held && indexWrite(input, 5, 'c1') === 'present') {
        held = true;
        addReachedIndex();
        await addHeld;
      }
    });
    try {
      const store = new DynamoDbConnectionStore({ client: slow, tablePrefix, clock });
      await store.put(record('c1', { tokens: [1] }));
      const adding = store.addTokens('c1', [5]);
      await addAtIndex;
      expect(await store.removeTokens('c1', [5])).toEqual([1]);
      releaseAdd();
      expect(await adding).toEqual([1, 5]);
      expect((await store.get('c1'))?.tokens).toEqual([1]);
      expect(await store.connectionsFor(5)).toEqual([]);
    } finally {
      slow.destroy();
    }
  });

  it('cannot list a removed connection when an add’s index write lands after the remove', async () => {
    const tablePrefix = await freshPrefix();
    let releaseAdd: () => void = () => {};
    const addHeld = new Promise<void>((resolve) => {
      releaseAdd = resolve;
    });
    let addReachedIndex: () => void = () => {};
    const addAtIndex = new Promise<void>((resolve) => {
      addReachedIndex = resolve;
    });
    let held = false;
    const slow = interceptedClient(async (input) => {
      if (!held && indexWrite(input, 9, 'c1') === 'present') {
        held = true;
        addReachedIndex();
        await addHeld;
      }
    });
    try {
      const store = new DynamoDbConnectionStore({ client: slow, tablePrefix, clock });
      await store.put(record('c1', { tokens: [1] }));
      const adding = store.addTokens('c1', [9]);
      await addAtIndex;
      await store.remove('c1');
      releaseAdd();
      await adding;
      expect(await store.get('c1')).toBeUndefined();
      expect(await store.connectionsFor(9)).toEqual([]);
      expect(await store.connectionsFor(1)).toEqual([]);
    } finally {
      slow.destroy();
    }
  });

  it('finishes an interrupted removal when remove is called again', async () => {
    const tablePrefix = await freshPrefix();
    let failIndexWrites = false;
    const flaky = interceptedClient(async (input) => {
      if (failIndexWrites && indexWrite(input, 7, 'c1') !== null) throw new Error('connection reset');
    });
    try {
      const store = new DynamoDbConnectionStore({ client: flaky, tablePrefix, clock });
      await store.put(record('c1', { tokens: [7, 8] }));
      failIndexWrites = true;
      await expect(store.remove('c1')).rejects.toBeInstanceOf(DependencyUnavailableError);
      expect(await store.get('c1')).toBeUndefined();
      failIndexWrites = false;
      await store.remove('c1');
      expect(await store.connectionsFor(7)).toEqual([]);
      expect(await store.connectionsFor(8)).toEqual([]);
    } finally {
      flaky.destroy();
    }
  });

  it('overwrites a stale index item left by a record that TTL deleted, when the id is put again', async () => {
    const tablePrefix = await freshPrefix();
    const table = physicalTableName(tablePrefix, Tables.connections);
    const later = new ManualClock(NOW_MS);
    const store = new DynamoDbConnectionStore({ client, tablePrefix, clock: later });
    await store.put(record('c1', { tokens: [3], expiresAt: NOW_MS / 1000 + 60 }));
    await store.removeTokens('c1', [3]);
    await store.addTokens('c1', [3]);
    await store.removeTokens('c1', [3]);
    // TTL deletes the record (version 4) but not yet its index item.
    later.advance(120_000);
    await client.send(new DeleteItemCommand({ TableName: table, Key: { connection_id: { S: 'c1' } } }));
    await store.put(record('c1', { tokens: [3], connectedAt: later.now(), expiresAt: later.now() / 1000 + 7_500 }));
    expect(await store.connectionsFor(3)).toEqual(['c1']);
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
        () => store.connectionsFor(1),
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

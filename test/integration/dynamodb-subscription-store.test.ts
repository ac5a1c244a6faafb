import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { DynamoDbSubscriptionStore } from '../../shared/adapters/dynamodb/dynamodb-subscription-store.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { createTableInput, physicalTableName, Tables } from '../../shared/tables.js';
import { MOTO_LIMITATIONS } from '../support/known-limitations.js';
import { freePort } from '../support/redis-server.js';
import { sharedMoto } from '../support/shared-moto.js';
import { subscriptionStoreContract } from '../support/subscription-store-contract.js';
import { waitFor } from '../support/wait.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

/** A subscriptions table of its own under a fresh prefix: every test starts from an empty table. */
async function freshStore(): Promise<{
  store: DynamoDbSubscriptionStore;
  tableName: string;
  dispose: () => Promise<void>;
}> {
  const tablePrefix = `sub-${randomUUID().slice(0, 8)}`;
  const tableName = physicalTableName(tablePrefix, Tables.subscriptions);
  await client.send(new CreateTableCommand(createTableInput(tablePrefix, Tables.subscriptions)));
  // dynalite answers CreateTable with CREATING and flips to ACTIVE a moment later; writes before fail.
  await waitFor(
    async () => (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus === 'ACTIVE',
    { intervalMs: 2, message: `${tableName} to become active` },
  );
  return {
    store: new DynamoDbSubscriptionStore({ client, tablePrefix }),
    tableName,
    dispose: async () => {
      await client.send(new DeleteTableCommand({ TableName: tableName }));
    },
  };
}

subscriptionStoreContract('dynamodb', freshStore, { propertyRuns: 25 });

// The same suite against moto's DynamoDB, an implementation nobody here wrote: its tables are
// ACTIVE as soon as CreateTable answers.
const moto = sharedMoto();
subscriptionStoreContract(
  'dynamodb (moto)',
  async () => {
    const motoClient = await moto.dynamodb();
    const tablePrefix = `sub-${randomUUID().slice(0, 8)}`;
    await motoClient.send(new CreateTableCommand(createTableInput(tablePrefix, Tables.subscriptions)));
    return {
      store: new DynamoDbSubscriptionStore({ client: motoClient, tablePrefix }),
      dispose: async () => {
        await motoClient.send(
          new DeleteTableCommand({ TableName: physicalTableName(tablePrefix, Tables.subscriptions) }),
        );
      },
    };
  },
  { propertyRuns: 5, limitations: MOTO_LIMITATIONS },
);

describe('DynamoDbSubscriptionStore', () => {
  const input = {
    instrumentToken: 256_265,
    tradingsymbol: 'NIFTY 50',
    segment: 'INDICES',
    status: 'active',
    requestedMode: 'FULL',
    accountId: null,
  } as const;

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

  it('rejects every method with DependencyUnavailableError, quickly, when the endpoint is unreachable', async () => {
    const store = new DynamoDbSubscriptionStore({ client: unreachable, tablePrefix: 'test' });
    const calls: (() => Promise<unknown>)[] = [
      () => store.upsert(input, 1_000),
      () => store.get(256_265),
      () => store.update(256_265, { requestedMode: 'LTP' }, 1_000),
      () => store.deactivate(256_265, 1_000),
      () => store.list({ limit: 10 }),
      () => store.list({ status: 'active', limit: 10 }),
      () => store.listActive(),
    ];
    for (const call of calls) {
      const started = Date.now();
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as DependencyUnavailableError).dependency).toBe('dynamodb');
      expect((error as DependencyUnavailableError).cause).toBeInstanceOf(Error);
      expect((error as DependencyUnavailableError).retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('rejects with DependencyUnavailableError naming the table when the table does not exist', async () => {
    const store = new DynamoDbSubscriptionStore({ client, tablePrefix: `missing-${randomUUID().slice(0, 8)}` });
    await expect(store.get(256_265)).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(store.upsert(input, 1_000)).rejects.toThrow(/missing-[0-9a-f]{8}-subscriptions/);
  });

  it('stores the REST shape: snake_case attributes, epoch-millisecond numbers, no account_id until one is assigned', async () => {
    const { store, tableName, dispose } = await freshStore();
    try {
      await store.upsert(input, 1_700_000_000_123);
      const { Item } = await client.send(
        new GetItemCommand({ TableName: tableName, Key: { instrument_token: { N: '256265' } } }),
      );
      expect(Item).toEqual({
        instrument_token: { N: '256265' },
        tradingsymbol: { S: 'NIFTY 50' },
        segment: { S: 'INDICES' },
        status: { S: 'active' },
        requested_mode: { S: 'FULL' },
        created_at: { N: '1700000000123' },
        updated_at: { N: '1700000000123' },
      });
      const key = { instrument_token: { N: '256265' } };
      await store.update(256_265, { accountId: 'primary' }, 1_700_000_000_200);
      expect((await client.send(new GetItemCommand({ TableName: tableName, Key: key }))).Item?.account_id).toEqual({
        S: 'primary',
      });
      await store.update(256_265, { accountId: null }, 1_700_000_000_300);
      const { Item: cleared } = await client.send(new GetItemCommand({ TableName: tableName, Key: key }));
      expect(cleared).not.toHaveProperty('account_id');
      expect(await store.get(256_265)).toMatchObject({ accountId: null, updatedAt: 1_700_000_000_300 });
    } finally {
      await dispose();
    }
  });

  it('gives a kept account to an item stored with a NULL account_id, as items were written before, and keeps a real one', async () => {
    const { store, tableName, dispose } = await freshStore();
    try {
      const stored = {
        tradingsymbol: { S: 'NIFTY 50' },
        segment: { S: 'INDICES' },
        status: { S: 'inactive' },
        requested_mode: { S: 'LTP' },
        created_at: { N: '1000' },
        updated_at: { N: '1000' },
      };
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { instrument_token: { N: '256265' }, account_id: { NULL: true }, ...stored },
        }),
      );
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { instrument_token: { N: '260105' }, account_id: { S: 'secondary' }, ...stored },
        }),
      );
      const keep = ['requestedMode', 'accountId'] as const;
      expect(await store.upsert({ ...input, accountId: 'primary', keep }, 2_000)).toEqual({
        ...input,
        requestedMode: 'LTP',
        accountId: 'primary',
        createdAt: 1_000,
        updatedAt: 2_000,
      });
      expect(
        await store.upsert({ ...input, instrumentToken: 260_105, accountId: 'primary', keep }, 2_000),
      ).toMatchObject({ accountId: 'secondary', requestedMode: 'LTP', status: 'active', createdAt: 1_000 });
      // A new record and one without an account take the kept account in one write, as before.
      expect(
        await store.upsert({ ...input, instrumentToken: 264_969, accountId: 'primary', keep }, 3_000),
      ).toMatchObject({ accountId: 'primary', requestedMode: 'FULL', createdAt: 3_000 });
    } finally {
      await dispose();
    }
  });

  it('reports an item that does not have the stored shape instead of guessing', async () => {
    const { store, tableName, dispose } = await freshStore();
    try {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { instrument_token: { N: '1' }, status: { S: 'active' }, tradingsymbol: { S: 'X' } },
        }),
      );
      await expect(store.get(1)).rejects.toThrow(/malformed subscription item/);
      await expect(store.listActive()).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      await dispose();
    }
  });
});

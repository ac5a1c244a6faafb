import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { DynamoDbConnectionStore } from '../../shared/adapters/dynamodb/dynamodb-connection-store.js';
import { IndexedConnectionStore } from '../../shared/adapters/indexed-connection-store.js';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { RedisConnectionIndex } from '../../shared/adapters/redis/redis-connection-index.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import { connectionIndexContract } from '../support/connection-index-contract.js';
import { connectionStoreContract } from '../support/connection-store-contract.js';
import { freePort, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl, sharedTablePrefix } from '../support/shared-services.js';

const redisUrl = sharedRedisUrl();
const dynamodb = localDynamoDbClient(inject('dynamodbEndpoint'));
const tablePrefix = sharedTablePrefix();
/** For looking at and cleaning up the keys the index writes. */
const admin = new Redis(redisUrl);
afterAll(async () => {
  dynamodb.destroy();
  await admin.quit();
});

/** Deletes every key under `prefix`: the Redis server is shared with other test files. */
async function deleteKeys(prefix: string): Promise<void> {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
}

async function openIndex(clock: Clock) {
  const keyPrefix = `test-${randomUUID().slice(0, 8)}:`;
  const index = await RedisConnectionIndex.connect(redisUrl, { clock, keyPrefix });
  return {
    index,
    keyPrefix,
    dispose: async () => {
      await index.close();
      await deleteKeys(keyPrefix);
    },
  };
}

connectionIndexContract('redis', openIndex);

// The connection store of the cloud (DynamoDB + Redis index, docs/architecture.md) passes the same
// contract as every other ConnectionStore; each test gets its own connection ids, so one table will do.
connectionStoreContract(
  'dynamodb + redis index',
  async (clock) => {
    const opened = await openIndex(clock);
    const records = new DynamoDbConnectionStore({ client: dynamodb, tablePrefix, clock });
    const run = randomUUID().slice(0, 8);
    const store = new IndexedConnectionStore(records, opened.index);
    // Ids are made unique per run by a wrapper, so runs sharing the table cannot see each other.
    const id = (connectionId: string) =>
      connectionId === '' || connectionId.startsWith('token#') ? connectionId : `${run}-${connectionId}`;
    const strip = (connectionId: string) => connectionId.slice(run.length + 1);
    return {
      store: {
        put: (record) => store.put({ ...record, connectionId: id(record.connectionId) }),
        get: async (connectionId) => {
          const record = await store.get(id(connectionId));
          return record && { ...record, connectionId: strip(record.connectionId) };
        },
        remove: (connectionId) => store.remove(id(connectionId)),
        addTokens: (connectionId, tokens) => store.addTokens(id(connectionId), tokens),
        removeTokens: (connectionId, tokens) => store.removeTokens(id(connectionId), tokens),
        changeTokens: (connectionId, action) => store.changeTokens(id(connectionId), action),
        setDelivery: (connectionId, delivery, interval) => store.setDelivery(id(connectionId), delivery, interval),
      },
      dispose: opened.dispose,
    };
  },
  { propertyRuns: 15 },
);

describe('IndexedConnectionStore on DynamoDB and Redis', () => {
  const clock = new ManualClock(Date.UTC(2025, 0, 8, 3, 45, 0));
  const record = (connectionId: string, tokens: number[]) => ({
    connectionId,
    userId: 'ZX1234',
    email: null,
    name: null,
    tokens,
    delivery: 'tick' as const,
    batchIntervalMs: null,
    connectedAt: clock.now(),
    expiresAt: clock.now() / 1000 + 7_500,
  });

  it('puts a connection the index lost (a Redis restart) back from DynamoDB on its next change', async () => {
    const { index, keyPrefix, dispose } = await openIndex(clock);
    try {
      const store = new IndexedConnectionStore(
        new DynamoDbConnectionStore({ client: dynamodb, tablePrefix, clock }),
        index,
      );
      const id = `heal-${randomUUID().slice(0, 8)}`;
      await store.put(record(id, [11, 12]));
      await deleteKeys(keyPrefix);
      expect(await index.connectionsFor(11)).toEqual([]);
      expect(await store.addTokens(id, [13])).toEqual([11, 12, 13]);
      for (const token of [11, 12, 13]) expect(await index.connectionsFor(token)).toEqual([id]);
      expect(await index.snapshot()).toEqual([
        {
          connectionId: id,
          userId: 'ZX1234',
          tokens: [11, 12, 13],
          delivery: 'tick',
          batchIntervalMs: null,
          expiresAt: clock.now() / 1000 + 7_500,
        },
      ]);
    } finally {
      await dispose();
    }
  });

  it('keeps the index in Redis under {ws} hash-tagged keys that Redis expires with the connection', async () => {
    const { index, keyPrefix, dispose } = await openIndex(clock);
    try {
      await index.put({
        connectionId: 'k1',
        userId: 'u1',
        tokens: [7],
        delivery: 'tick',
        batchIntervalMs: null,
        expiresAt: clock.now() / 1000 + 600,
      });
      const keys = (await admin.keys(`${keyPrefix}*`)).sort();
      expect(keys).toEqual(
        [
          `${keyPrefix}{ws}:conn:k1`,
          `${keyPrefix}{ws}:conn:k1:tokens`,
          `${keyPrefix}{ws}:conns`,
          `${keyPrefix}{ws}:token:7`,
        ].sort(),
      );
      const ttl = await admin.ttl(`${keyPrefix}{ws}:conn:k1`);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    } finally {
      await dispose();
    }
  });

  it('fails fast with DependencyUnavailableError while Redis is down, and works again once it is back', async () => {
    const server = await startRedisServer();
    try {
      const index = await RedisConnectionIndex.connect(server.url, { clock, commandTimeoutMs: 500 });
      await index.put({
        connectionId: 'r1',
        userId: 'u1',
        tokens: [1],
        delivery: 'tick',
        batchIntervalMs: null,
        expiresAt: clock.now() / 1000 + 600,
      });
      await server.stop();
      await expect(index.connectionsFor(1)).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(index.addTokens('r1', [2])).rejects.toBeInstanceOf(DependencyUnavailableError);
      await server.start();
      // Nothing persisted across the restart: the index is empty and says so.
      let known: boolean | undefined;
      for (let attempt = 0; attempt < 50 && known === undefined; attempt++) {
        known = await index.addTokens('r1', [2]).catch(() => undefined);
        if (known === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(known).toBe(false);
      await index.close();
    } finally {
      await server.stop();
    }
  });

  it('fails to connect with a clear message naming the address', async () => {
    const port = await freePort();
    await expect(RedisConnectionIndex.connect(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 })).rejects.toThrow(
      `Failed to connect to Redis at 127.0.0.1:${port}`,
    );
  });
});

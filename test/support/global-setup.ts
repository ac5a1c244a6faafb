import type { TestProject } from 'vitest/node';
import { ensureTables, localDynamoDbClient, startLocalDynamoDb } from '../../infra/local/dynamodb-local.js';
import { startMotoLauncher } from './moto-launcher.js';
import { REDIS_MISSING_MESSAGE, type RedisServer, startRedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * One Redis per worker slot (`VITEST_POOL_ID`), each a throwaway server, or `REDIS_URL` alone
     * when it is set. Read it through `sharedRedisUrl()` of `test/support/shared-services.ts`.
     */
    redisUrls: string[];
    /** The DynamoDB API (dynalite) with every table created under `${tablePrefix}${slot}` for each slot. */
    dynamodbEndpoint: string;
    tablePrefix: string;
    /** How many worker slots the Redis servers and table prefixes were made for. */
    workerSlots: number;
    /**
     * Where a test file asks for its worker slot's `moto_server`, started on first request. Read it
     * through `sharedMotoEndpoint()` of `test/support/shared-services.ts`.
     */
    motoLauncherUrl: string;
  }
}

/**
 * Starts the real parts the integration tests talk to, once for the whole run: a throwaway
 * `redis-server` per worker slot (unless `REDIS_URL` is given), one dynalite with every table
 * of `shared/tables.ts` under a prefix per slot, and a `moto_server` per slot when the slot's first
 * file asks for one; stops them afterwards. A worker runs one file at a
 * time, so files running side by side never share a Redis (whose pub/sub ignores database numbers)
 * nor a table, just as when they ran one after another.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const slots = Math.max(1, Number(project.vitest.config.maxWorkers) || 1);
  const redis: RedisServer[] = [];
  const given = process.env.REDIS_URL;
  if (given) {
    // One Redis for files running side by side would cross their pub/sub channels and keys.
    if (slots > 1) {
      throw new Error(
        `REDIS_URL is set, so every test worker would share that one Redis; run with --maxWorkers=1 (${slots} configured)`,
      );
    }
    project.provide('redisUrls', [given]);
  } else {
    try {
      redis.push(...(await Promise.all(Array.from({ length: slots }, () => startRedisServer()))));
    } catch (error) {
      if (error instanceof Error && error.message === REDIS_MISSING_MESSAGE) {
        console.error(REDIS_MISSING_MESSAGE);
      }
      await Promise.all(redis.map((server) => server.stop()));
      throw error;
    }
    project.provide(
      'redisUrls',
      redis.map((server) => server.url),
    );
  }

  const dynamodb = await startLocalDynamoDb();
  const tablePrefix = 'test';
  const client = localDynamoDbClient(dynamodb.endpoint);
  await Promise.all(Array.from({ length: slots }, (_, i) => ensureTables(client, `${tablePrefix}${i + 1}`)));
  client.destroy();
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  project.provide('tablePrefix', tablePrefix);
  project.provide('workerSlots', slots);
  const moto = await startMotoLauncher();
  project.provide('motoLauncherUrl', moto.url);

  return async () => {
    await moto.stop();
    await dynamodb.stop();
    await Promise.all(redis.map((server) => server.stop()));
  };
}

import type { TestProject } from 'vitest/node';
import { ensureTables, localDynamoDbClient, startLocalDynamoDb } from '../../infra/local/dynamodb-local.js';
import { REDIS_MISSING_MESSAGE, type RedisServer, startRedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Redis the integration tests may use (a throwaway server unless REDIS_URL is set). */
    redisUrl: string;
    /** The DynamoDB API (dynalite) with every table created under `tablePrefix`. */
    dynamodbEndpoint: string;
    tablePrefix: string;
  }
}

/**
 * Starts the real parts the integration tests talk to: a throwaway `redis-server` on a free port
 * (unless `REDIS_URL` is given) and dynalite on a free port with every table of `shared/tables.ts`;
 * stops both afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let redis: RedisServer | undefined;
  const given = process.env.REDIS_URL;
  if (given) {
    project.provide('redisUrl', given);
  } else {
    try {
      redis = await startRedisServer();
    } catch (error) {
      if (error instanceof Error && error.message === REDIS_MISSING_MESSAGE) {
        console.error(REDIS_MISSING_MESSAGE);
      }
      throw error;
    }
    project.provide('redisUrl', redis.url);
  }

  const dynamodb = await startLocalDynamoDb();
  const tablePrefix = 'test';
  const client = localDynamoDbClient(dynamodb.endpoint);
  await ensureTables(client, tablePrefix);
  client.destroy();
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  project.provide('tablePrefix', tablePrefix);

  return async () => {
    await dynamodb.stop();
    await redis?.stop();
  };
}

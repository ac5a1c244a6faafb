import { randomUUID } from 'node:crypto';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll } from 'vitest';
import { createTableInput, type TableDefinition } from '../../shared/tables.js';
import { motoDynamoDbClient, motoManagementApiClient, motoSecretsManagerClient, motoSqsClient } from './moto-server.js';
import { sharedMotoEndpoint } from './shared-services.js';

/** AWS SDK clients for this worker slot's moto, each made on first use and destroyed after the file. */
export interface SharedMoto {
  endpoint(): Promise<string>;
  sqs(): Promise<SQSClient>;
  dynamodb(): Promise<DynamoDBClient>;
  secretsManager(): Promise<SecretsManagerClient>;
  managementApi(): Promise<ApiGatewayManagementApiClient>;
}

/**
 * The shared moto of this file's worker slot, with its clients made on first use. Call at the top
 * level of a test file. The slot's moto is started (or found running) before the file's tests, so
 * its start, which takes many seconds on a loaded machine, never counts against a test's timeout;
 * should it fail, the file's other tests still run and each test that uses moto fails with the
 * reason.
 */
export function sharedMoto(): SharedMoto {
  const made: { destroy(): void }[] = [];
  beforeAll(async () => {
    await sharedMotoEndpoint().catch(() => {});
  }, 120_000);
  afterAll(() => {
    for (const client of made.splice(0)) client.destroy();
  });
  const lazy = <T extends { destroy(): void }>(make: (endpoint: string) => T) => {
    let client: T | undefined;
    return async () => {
      const endpoint = await sharedMotoEndpoint();
      if (client === undefined) {
        client = make(endpoint);
        made.push(client);
      }
      return client;
    };
  };
  return {
    endpoint: sharedMotoEndpoint,
    sqs: lazy(motoSqsClient),
    dynamodb: lazy(motoDynamoDbClient),
    secretsManager: lazy(motoSecretsManagerClient),
    managementApi: lazy(motoManagementApiClient),
  };
}

/**
 * A fresh table prefix on moto with only `tables` created under it: a store's tests need one or
 * two of the tables, and each CreateTable costs moto several milliseconds of CPU. moto's tables are
 * ACTIVE as soon as CreateTable answers, so there is nothing to wait for.
 */
export async function motoTablePrefix(client: DynamoDBClient, ...tables: readonly TableDefinition[]): Promise<string> {
  const tablePrefix = `moto-${randomUUID().slice(0, 8)}`;
  await Promise.all(tables.map((table) => client.send(new CreateTableCommand(createTableInput(tablePrefix, table)))));
  return tablePrefix;
}

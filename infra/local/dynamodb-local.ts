import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, physicalTableName, type TableDefinition, Tables } from '../../shared/tables.js';

/** A DynamoDB API endpoint served in this process by dynalite. */
export interface LocalDynamoDb {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts dynalite on `port` (0: any free port), in memory unless `path` names a directory to keep
 * the data in. Table operations complete at once, as tests and `npm start` want.
 */
export async function startLocalDynamoDb(options: { port?: number; path?: string } = {}): Promise<LocalDynamoDb> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path !== undefined && { path: options.path }),
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}

/** A DynamoDB client for a local endpoint (any credentials do). */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/**
 * Creates every table of {@link Tables} under `prefix` unless it exists. dynalite has no
 * `UpdateTimeToLive` and never expires items, so TTL is a cloud-only setting (the CDK stack's).
 */
export async function ensureTables(client: DynamoDBClient, prefix: string): Promise<void> {
  const definitions: readonly TableDefinition[] = Object.values(Tables);
  await Promise.all(
    definitions.map(async (table) => {
      try {
        await client.send(new CreateTableCommand(createTableInput(prefix, table)));
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilActive(client, physicalTableName(prefix, table));
    }),
  );
}

/** Waits until the table and its indexes are ACTIVE: dynalite reports CREATING briefly, and writes then fail. */
async function waitUntilActive(client: DynamoDBClient, TableName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Table ${TableName} did not become ACTIVE`);
}

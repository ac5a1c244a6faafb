import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, physicalTableName, type TableDefinition, Tables } from '../../shared/tables.js';

/** A DynamoDB API endpoint served by dynalite on a worker thread of this process. */
export interface LocalDynamoDb {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/*
 * dynalite runs on a thread of its own: every DynamoDB call is an HTTP request it parses, validates
 * and answers from LevelDB, which on the thread that also serves the platform's HTTP and WebSocket
 * traffic took most of a REST call's time. On its own thread it uses another core, the way the
 * real DynamoDB is another machine. The worker is plain JavaScript (it only loads dynalite), so it
 * runs the same under tsx, vitest and plain node.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dynalite = require(workerData.dynalite);
const server = dynalite(workerData.options);
server.on('error', (error) => parentPort.postMessage({ error: String(error && error.stack || error) }));
server.listen(workerData.port, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message === 'stop') {
    server.close(() => parentPort.close());
    server.closeAllConnections();
  }
});
`;

/** What startLocalDynamoDb takes. */
export interface LocalDynamoDbOptions {
  /** 0 (the default): any free port. */
  readonly port?: number;
  /** A directory to keep the data in; in memory without. */
  readonly path?: string;
  /** Told when dynalite fails after it started (its callers then get connection errors); default: a line on stderr. */
  readonly onError?: (error: Error) => void;
}

/**
 * Starts dynalite on a worker thread, in memory unless `path` names a directory to keep the data
 * in. Table operations complete at once, as tests and `npm start` want. Rejects, leaving nothing
 * running, when it cannot start (a port in use, a path it cannot open).
 */
export async function startLocalDynamoDb(options: LocalDynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      dynalite: createRequire(import.meta.url).resolve('dynalite'),
      port: options.port ?? 0,
      options: {
        createTableMs: 0,
        deleteTableMs: 0,
        updateTableMs: 0,
        ...(options.path !== undefined && { path: options.path }),
      },
    },
  });
  let failure: Error | undefined;
  let running = false;
  const onError =
    options.onError ?? ((error: Error) => process.stderr.write(`dynalite failed: ${error.stack ?? error.message}\n`));
  worker.on('error', (error: Error) => {
    failure = error;
    if (running) onError(error);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const started = await new Promise<{ port?: number; error?: string }>((resolve) => {
    worker.once('message', resolve);
    void exited.then((code) => resolve({ error: failure?.message ?? `the worker exited with code ${code}` }));
  });
  if (started.port === undefined) {
    await worker.terminate();
    throw new Error(`dynalite did not start: ${started.error}`);
  }
  running = true;
  return {
    endpoint: `http://127.0.0.1:${started.port}`,
    stop: async () => {
      running = false;
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5000);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
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

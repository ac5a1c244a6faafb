import { writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDynamoDb, localDynamoDbClient, startLocalDynamoDb } from '../../infra/local/dynamodb-local.js';
import { waitFor } from '../support/wait.js';

/*
 * The local DynamoDB API: dynalite on a worker thread. It must answer like DynamoDB, fail to
 * start with a clear error, say so when it fails later, and stop without holding the process.
 */

const started: LocalDynamoDb[] = [];
afterEach(async () => {
  for (const db of started.splice(0)) await db.stop();
});

describe('local DynamoDB (dynalite on a worker thread)', () => {
  it('answers DynamoDB API calls and stops, twice over without error', async () => {
    const db = await startLocalDynamoDb();
    const client = localDynamoDbClient(db.endpoint);
    try {
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      client.destroy();
    }
    await Promise.all([db.stop(), db.stop()]);
    await db.stop();
  });

  it('rejects with the reason when its port is taken', async () => {
    const first = await startLocalDynamoDb();
    started.push(first);
    const port = Number(new URL(first.endpoint).port);
    await expect(startLocalDynamoDb({ port })).rejects.toThrow(/dynalite did not start: .*EADDRINUSE/);
  });

  it('reports a failure after start instead of failing silently', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'dynalite-')), 'not-a-directory');
    writeFileSync(file, 'x');
    const errors: Error[] = [];
    const db = await startLocalDynamoDb({ path: file, onError: (error) => errors.push(error) });
    started.push(db);
    const client = localDynamoDbClient(db.endpoint);
    try {
      await expect(client.send(new ListTablesCommand({}))).rejects.toThrow();
    } finally {
      client.destroy();
    }
    await waitFor(() => errors.length > 0, { message: 'the failure reported' });
    expect(errors[0]?.message).toMatch(/\S/);
  });
});

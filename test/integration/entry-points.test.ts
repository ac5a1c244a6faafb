import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { startLocalPlatform } from '../../infra/local/platform.js';
import { loadConfig } from '../../shared/config.js';
import { HealthResponse } from '../../shared/contracts/health.js';
import { freePort, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl, sharedTablePrefix } from '../support/shared-services.js';
import { waitFor } from '../support/wait.js';

/** Runs an entry point with `env` added and collects how it ended. */
async function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, LOG_LEVEL: 'ERROR', PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

/** Starts the ingest task and resolves `ready` once its role is up; `exited` gives the exit code. */
function startIngest(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest-task/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'INFO', INGEST_ROLES: 'ingest', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ingest role ready')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`ingest task exited with ${code} before it was ready:\n${output}`)));
  });
  return { process: child, ready, exited, output: () => output };
}

describe('entry points', () => {
  it.each([
    ['infra/local/start.ts', 'CIRCUIT_BREAKER_FAILURE_THRESHOLD', '-5'],
    ['infra/local/start.ts', 'REDIS_URL', 'not a url'],
    ['ingest-task/main.ts', 'REDIS_URL', 'redis//missing-colon'],
    ['ingest-task/main.ts', 'MAX_TOKENS_PER_CONNECTION', '0'],
  ])('%s exits non-zero when %s=%s, naming the variable', async (entry, variable, value) => {
    const { code, stderr } = await run(entry, { [variable]: value, PORT: '0' });
    expect(code).toBe(78);
    expect(stderr).toContain(`${variable}:`);
    expect(stderr).toContain('Invalid configuration');
  });

  it('TC-MATL-005, TC-ERR-002: ingest-task/main.ts fails clearly when Redis is unreachable and starts once it is back', async () => {
    const server = await startRedisServer();
    await server.stop();
    const url = server.url.replace('redis://', 'redis://:sekret@');
    const env = { REDIS_URL: url, DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'), TABLE_PREFIX: sharedTablePrefix() };
    const failed = await run('ingest-task/main.ts', env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`Failed to connect to Redis at 127.0.0.1:${server.port}`);
    expect(failed.stderr).not.toContain('sekret');
    // The process is gone (no half-started state); once Redis is back the same start succeeds.
    await server.start();
    try {
      const child = startIngest({ ...env, REDIS_URL: server.url });
      await child.ready;
      child.process.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('TC-ERR-031: a host name that does not resolve fails start-up with "Failed to resolve hostname"', async () => {
    const redis = await run('ingest-task/main.ts', { REDIS_URL: 'redis://no-such-host.invalid:6379' });
    expect(redis.code).toBe(1);
    expect(redis.stderr).toContain(
      'Failed to connect to Redis at no-such-host.invalid:6379: Failed to resolve hostname',
    );
    const database = await run('ingest-task/main.ts', {
      DYNAMODB_ENDPOINT: 'http://no-such-host.invalid:8000',
      TABLE_PREFIX: sharedTablePrefix(),
    });
    expect(database.code).toBe(1);
    expect(database.stderr).toContain('Failed to connect to database (DynamoDB): Failed to resolve hostname');
  });

  it('TC-ERR-011: ingest-task/main.ts fails clearly when the database is unreachable and starts once it is there', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const env = { DYNAMODB_ENDPOINT: closed, TABLE_PREFIX: sharedTablePrefix(), INGEST_ROLES: 'ingest' };
    const failed = await run('ingest-task/main.ts', env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('Failed to connect to database (DynamoDB)');
    const child = startIngest({ ...env, DYNAMODB_ENDPOINT: inject('dynamodbEndpoint') });
    await child.ready;
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });

  it('TC-MATL-003: on SIGTERM the ingest task stops its services and exits by itself within 30 s', async () => {
    const child = startIngest({
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      TABLE_PREFIX: sharedTablePrefix(),
      REDIS_URL: sharedRedisUrl(),
      STREAM_INTERVAL_SECONDS: '0.1',
    });
    await child.ready;
    // Stop it while it streams: once the first reconcile has started the streams.
    await waitFor(() => child.output().includes('Subscriptions reconciled'), { message: 'the first reconcile' });
    const stopping = Date.now();
    child.process.kill('SIGTERM');
    // Exiting on its own proves nothing lingers: no socket, timer or connection keeps the loop alive.
    expect(await child.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(30_000);
    expect(child.output()).toContain('Shutting down');
    expect(child.output()).not.toContain('did not stop before the deadline');
  });
});

describe('local platform', () => {
  it('serves GET /health in the TC-REG-004 shape with Redis and DynamoDB checked', async () => {
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      REDIS_URL: sharedRedisUrl(),
      TABLE_PREFIX: 'health',
    });
    const platform = await startLocalPlatform(config);
    try {
      const response = await fetch(`${platform.url}/health`);
      expect(response.status).toBe(200);
      const body = HealthResponse.parse(await response.json());
      expect(body.dependencies).toMatchObject({ redis: 'ok', database: 'ok' });
      const missing = await fetch(`${platform.url}/no-such-route`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      await platform.close();
    }
  });
});

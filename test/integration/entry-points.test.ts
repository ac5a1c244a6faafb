import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { startLocalPlatform } from '../../infra/local/platform.js';
import { loadConfig } from '../../shared/config.js';
import { HealthResponse } from '../../shared/contracts/health.js';

/** Runs an entry point with `env` added and collects how it ended. */
async function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, LOG_LEVEL: 'ERROR', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
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

  it('ingest-task/main.ts exits with a clear message when Redis is unreachable', async () => {
    const { code, stderr } = await run('ingest-task/main.ts', { REDIS_URL: 'redis://:sekret@127.0.0.1:1/0' });
    expect(code).toBe(1);
    expect(stderr).toContain('Failed to connect to Redis at 127.0.0.1:1');
    expect(stderr).not.toContain('sekret');
  });
});

describe('local platform', () => {
  it('serves GET /health in the TC-REG-004 shape with Redis and DynamoDB checked', async () => {
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      REDIS_URL: inject('redisUrl'),
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

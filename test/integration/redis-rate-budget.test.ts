import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { lazyRedisRateBudget, RedisRateBudget } from '../../shared/adapters/redis/redis-rate-budget.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { CONTRACT_BUDGETS, rateBudgetContract } from '../support/rate-budget-contract.js';
import { freePort, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl } from '../support/shared-services.js';

/** Deletes every key under `prefix`, so a shared Redis (REDIS_URL) keeps nothing from the tests. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true });
  try {
    await client.connect();
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

rateBudgetContract('redis', () => {
  const url = sharedRedisUrl();
  // Each test its own keys: test files share one Redis and run at the same time.
  const keyPrefix = `test-budget:${randomUUID().slice(0, 8)}`;
  return {
    open: (calendar) => RedisRateBudget.connect(url, { budgets: CONTRACT_BUDGETS, keyPrefix, clock: calendar }),
    dispose: () => deleteKeys(url, keyPrefix),
  };
});

describe('RedisRateBudget', () => {
  it('expires a ring permit after its window plus margin, to the millisecond on Redis', async () => {
    const url = sharedRedisUrl();
    const keyPrefix = `test-budget:${randomUUID().slice(0, 8)}`;
    const budget = await RedisRateBudget.connect(url, { budgets: CONTRACT_BUDGETS, keyPrefix, marginMs: 250 });
    const redis = new Redis(url);
    try {
      expect(await budget.take('perSecond', 'k')).toBe(0);
      const [key] = await redis.keys(`${keyPrefix}*`);
      // The library's own script would have set EX 1 (1000 ms); the ring holds 1250.
      expect(await redis.pttl(key ?? '')).toBeGreaterThan(1000);
      expect(await redis.pttl(key ?? '')).toBeLessThanOrEqual(1250);
    } finally {
      redis.disconnect();
      await budget.close();
      await deleteKeys(url, keyPrefix);
    }
  });

  it('fails closed: a take rejects while Redis is away, and a lazy budget connects once it is there', async () => {
    const port = await freePort();
    const lazy = lazyRedisRateBudget(`redis://127.0.0.1:${port}`, {
      budgets: CONTRACT_BUDGETS,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 500,
    });
    try {
      await expect(lazy.take('perSecond', 'k')).rejects.toBeInstanceOf(DependencyUnavailableError);
      const server = await startRedisServer(port);
      try {
        expect(await lazy.take('perSecond', 'k')).toBe(0);
      } finally {
        await server.stop();
      }
      await expect(lazy.take('perSecond', 'k')).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      await lazy.close();
    }
  });
});

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
    open: (clock) => RedisRateBudget.connect(url, { budgets: CONTRACT_BUDGETS, keyPrefix, clock }),
    dispose: () => deleteKeys(url, keyPrefix),
  };
});

describe('RedisRateBudget', () => {
  it("counts on Redis's clock when given none, and keeps a key only as long as its longest window", async () => {
    const url = sharedRedisUrl();
    const keyPrefix = `test-budget:${randomUUID().slice(0, 8)}`;
    // Two holders on the server's clock: no clock of theirs to disagree.
    const budgets = [
      await RedisRateBudget.connect(url, { budgets: CONTRACT_BUDGETS, keyPrefix }),
      await RedisRateBudget.connect(url, { budgets: CONTRACT_BUDGETS, keyPrefix }),
    ] as const;
    const redis = new Redis(url);
    try {
      const before = Date.now();
      const waits = await Promise.all([0, 1, 2, 3].map((i) => budgets[i % 2]?.take('perSecond', 'k')));
      expect(waits.filter((w) => w === 0)).toHaveLength(3);
      const refused = waits.find((w) => w !== 0) ?? 0;
      expect(refused).toBeGreaterThan(1000 - (Date.now() - before) - 5);
      expect(refused).toBeLessThanOrEqual(1000);
      const [key] = await redis.keys(`${keyPrefix}*`);
      expect(await redis.zcard(key ?? '')).toBe(3);
      expect(await redis.pttl(key ?? '')).toBeGreaterThan(900);
      expect(await redis.pttl(key ?? '')).toBeLessThanOrEqual(1000);
    } finally {
      redis.disconnect();
      for (const budget of budgets) await budget.close();
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

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveStateKeys, RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { LiveStateStore } from '../../shared/ports/live-state-store.js';
import { liveStateStoreContract } from '../support/live-state-store-contract.js';
import { freePort, type RedisServer, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl } from '../support/shared-services.js';
import { sleep, waitFor } from '../support/wait.js';

/** Deletes every key under `prefix`, so a shared Redis (REDIS_URL) keeps nothing from the tests. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true });
  try {
    await client.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

liveStateStoreContract('redis', () => {
  const url = sharedRedisUrl();
  // Each test gets its own keys: test files share one Redis and run at the same time.
  const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
  return {
    ttlMs: 200,
    open: () => RedisLiveStateStore.connect(url, { keyPrefix }),
    elapse: sleep,
    dispose: () => deleteKeys(url, keyPrefix),
  };
});

describe('RedisLiveStateStore', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  const dedicatedServer = async (): Promise<RedisServer> => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    return server;
  };
  const rawClient = async (url: string): Promise<Redis> => {
    const client = new Redis(url, { lazyConnect: true });
    await client.connect();
    cleanup.push(async () => client.disconnect());
    return client;
  };

  it('fails to connect with a message naming Redis and its address, and leaves nothing open', async () => {
    const port = await freePort();
    const attempt = RedisLiveStateStore.connect(`redis://:hunter2@127.0.0.1:${port}/0`, { connectTimeoutMs: 1000 });
    await expect(attempt).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(attempt).rejects.toThrow(`Failed to connect to Redis at 127.0.0.1:${port}`);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it('keeps latest ticks in one hash written by HSETs of 25 fields and read by one HMGET, heartbeats and leases under their keys', async () => {
    const server = await dedicatedServer();
    const store = await RedisLiveStateStore.connect(server.url);
    cleanup.push(() => store.close());
    const raw = await rawClient(server.url);

    const entries = new Map(Array.from({ length: 5000 }, (_, i) => [100_000 + i, `tick-${i}`] as const));
    await raw.config('RESETSTAT');
    await store.putLatest(entries);
    expect((await store.getLatest([...entries.keys()])).size).toBe(5000);
    const stats = await raw.info('commandstats');
    // 5000 ticks: 200 HSETs of 25 fields, so none holds Redis or this process up for long.
    expect(stats).toMatch(/cmdstat_hset:calls=200,/);
    expect(stats).toMatch(/cmdstat_hmget:calls=1,/);
    expect(LiveStateKeys.latest).toBe('ticker:latest');
    expect(await raw.hlen('ticker:latest')).toBe(5000);
    expect(await raw.hget('ticker:latest', '100042')).toBe('tick-42');

    await store.putHeartbeat('ingest', 'alive', 30_000);
    expect(await raw.get('ticker:heartbeat:ingest')).toBe('alive');
    const heartbeatTtl = await raw.pttl('ticker:heartbeat:ingest');
    expect(heartbeatTtl).toBeGreaterThan(29_000);
    expect(heartbeatTtl).toBeLessThanOrEqual(30_000);

    expect(await store.acquireLease('ingest', 'task-a', 20_000)).toBe(true);
    expect(await raw.get('lease:ingest')).toBe('task-a');
    const leaseTtl = await raw.pttl('lease:ingest');
    expect(leaseTtl).toBeGreaterThan(19_000);
    expect(leaseTtl).toBeLessThanOrEqual(20_000);
    await store.releaseLease('ingest', 'task-a');
    expect(await raw.exists('lease:ingest')).toBe(0);
  });

  it('puts every key under the key prefix when one is given', async () => {
    const server = await dedicatedServer();
    const store = await RedisLiveStateStore.connect(server.url, { keyPrefix: 'staging:' });
    cleanup.push(() => store.close());
    const raw = await rawClient(server.url);

    await store.putLatest(new Map([[7, 'x']]));
    await store.putHeartbeat('ingest', 'alive', 30_000);
    await store.acquireLease('ingest', 'task-a', 30_000);
    expect((await raw.keys('*')).sort()).toEqual([
      'staging:lease:ingest',
      'staging:ticker:heartbeat:ingest',
      'staging:ticker:latest',
    ]);
  });

  it('gives a contested lease to exactly one of 10 owners on separate connections', async () => {
    const url = sharedRedisUrl();
    const keyPrefix = `test:${randomUUID().slice(0, 8)}:`;
    cleanup.push(() => deleteKeys(url, keyPrefix));
    const stores = await Promise.all(Array.from({ length: 10 }, () => RedisLiveStateStore.connect(url, { keyPrefix })));
    cleanup.push(async () => {
      await Promise.all(stores.map((store) => store.close()));
    });
    for (let round = 0; round < 5; round++) {
      const name = `ingest-${round}`;
      const results = await Promise.all(stores.map((store, i) => store.acquireLease(name, `task-${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('fails fast while the server is down and works again, lease scripts included, once it is back', async () => {
    const server = await dedicatedServer();
    const events: string[] = [];
    const store = await RedisLiveStateStore.connect(server.url, { onEvent: (event) => events.push(event.kind) });
    cleanup.push(() => store.close());

    await store.putLatest(new Map([[1, 'before']]));
    expect(await store.acquireLease('ingest', 'task-a', 10_000)).toBe(true);

    await server.stop();
    await waitFor(() => events.includes('reconnecting'), { message: 'the store to notice the outage' });
    const calls: [string, (s: LiveStateStore) => Promise<unknown>][] = [
      ['putLatest', (s) => s.putLatest(new Map([[1, 'during']]))],
      ['getLatest', (s) => s.getLatest([1])],
      ['putHeartbeat', (s) => s.putHeartbeat('ingest', 'x', 1000)],
      ['getHeartbeat', (s) => s.getHeartbeat('ingest')],
      ['acquireLease', (s) => s.acquireLease('ingest', 'task-a', 1000)],
      ['renewLease', (s) => s.renewLease('ingest', 'task-a', 1000)],
      ['releaseLease', (s) => s.releaseLease('ingest', 'task-a')],
    ];
    for (const [name, call] of calls) {
      const started = Date.now();
      await expect(call(store), name).rejects.toBeInstanceOf(DependencyUnavailableError);
      expect(Date.now() - started, name).toBeLessThan(500);
    }

    await server.start();
    await waitFor(
      async () => {
        try {
          await store.putHeartbeat('ingest', 'after', 10_000);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, intervalMs: 50, message: 'the store to reconnect' },
    );
    // The server kept nothing (no persistence), so the lease is free again and the scripts must be sent anew.
    expect(await store.getHeartbeat('ingest')).toBe('after');
    expect(await store.getLatest([1])).toEqual(new Map());
    await store.putLatest(new Map([[1, 'after']]));
    expect(await store.getLatest([1])).toEqual(new Map([[1, 'after']]));
    expect(await store.acquireLease('ingest', 'task-b', 10_000)).toBe(true);
    expect(await store.renewLease('ingest', 'task-a', 10_000)).toBe(false);
    expect(await store.renewLease('ingest', 'task-b', 10_000)).toBe(true);
    await store.releaseLease('ingest', 'task-b');
    expect(await store.acquireLease('ingest', 'task-a', 10_000)).toBe(true);
  });
});

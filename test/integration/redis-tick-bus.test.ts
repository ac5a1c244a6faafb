import { afterEach, describe, expect, it } from 'vitest';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { freePort, type RedisServer, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl } from '../support/shared-services.js';
import { tickBusContract } from '../support/tick-bus-contract.js';
import { waitFor } from '../support/wait.js';

tickBusContract('redis', ({ onHandlerError }) => RedisTickBus.connect(sharedRedisUrl(), { onHandlerError }));

describe('RedisTickBus', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('fails to connect with a message naming Redis and its address, and leaves nothing open', async () => {
    const port = await freePort();
    const attempt = RedisTickBus.connect(`redis://:hunter2@127.0.0.1:${port}/0`, { connectTimeoutMs: 1000 });
    await expect(attempt).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(attempt).rejects.toThrow(`Failed to connect to Redis at 127.0.0.1:${port}`);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it('survives a restart of the server: publish fails fast while it is down, subscriptions come back', async () => {
    const server: RedisServer = await startRedisServer();
    cleanup.push(() => server.stop());
    const events: string[] = [];
    const bus = await RedisTickBus.connect(server.url, {
      onEvent: (event) => events.push(`${event.connection}:${event.kind}`),
    });
    cleanup.push(() => bus.close());

    const exact: string[] = [];
    const pattern: string[] = [];
    await bus.subscribe('ticker:nifty:options', (_c, m) => exact.push(m));
    await bus.psubscribe('ticker:*', (_c, m) => pattern.push(m));
    await bus.publish('ticker:nifty:options', 'before');
    await waitFor(() => exact.length === 1 && pattern.length === 1, { message: 'delivery before the restart' });

    await server.stop();
    await waitFor(() => events.includes('publisher:reconnecting'), { message: 'the bus to notice the outage' });
    const started = Date.now();
    await expect(bus.publish('ticker:nifty:options', 'during')).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(Date.now() - started).toBeLessThan(500);
    await expect(bus.check()).rejects.toBeInstanceOf(DependencyUnavailableError);

    await server.start();
    // Publish until a message comes through: the subscriber reconnects and resubscribes on its own.
    let sent = 0;
    await waitFor(
      async () => {
        try {
          await bus.publish('ticker:nifty:options', `after-${sent++}`);
        } catch {
          return false;
        }
        return exact.some((m) => m.startsWith('after-')) && pattern.some((m) => m.startsWith('after-'));
      },
      { timeoutMs: 10_000, intervalMs: 50, message: 'delivery after the restart' },
    );
    expect(exact).not.toContain('during');
    expect(exact[0]).toBe('before');
    await expect(bus.check()).resolves.toBeUndefined();
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { createLogger } from '../../shared/logging.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { sampleOptionSnapshot } from '../support/fixtures.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/*
 * The fan-out listening on a real Redis. Each test has a redis-server of its own: other test files
 * publish mock ticks on the same channel names.
 */
describe('Fanout on Redis', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function running(server: RedisServer) {
    const listenerBus = await RedisTickBus.connect(server.url);
    const publisher = await RedisTickBus.connect(server.url);
    const gateway = new MemoryConnectionGateway();
    const fanout = new Fanout({ bus: listenerBus, gateway, clock: new SystemClock(), logger });
    const stop = new AbortController();
    const run = fanout.run(stop.signal);
    cleanup.push(async () => {
      stop.abort();
      await run;
      await listenerBus.close();
      await publisher.close();
    });
    gateway.connect('client');
    fanout.addConnection('client');
    fanout.subscribe('client', [256265]);
    const messages = () => gateway.received('client').map((m) => ServerMessage.parse(JSON.parse(m)));
    const ticks = () => messages().flatMap((m) => (m.type === 'tick' ? [m.data] : []));
    return { fanout, publisher, ticks, messages };
  }

  it('TC-WSS-040, TC-WSS-041: listens on ticker:* from start-up and delivers a ticker:nifty:options message', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const { fanout, publisher, ticks, messages } = await running(server);
    const sent = sampleOptionSnapshot({ last_price: 251.5 });
    // The pattern subscription is in place once the listener is running: publish until it answers.
    await waitFor(
      async () => {
        await publisher.publish(Channels.options('NIFTY'), JSON.stringify(sent));
        return ticks().length > 0;
      },
      { intervalMs: 50, message: 'the listener to receive' },
    );
    expect(ticks()[0]).toEqual(sent);
    // Underlying bars on `ticker:nifty:underlying` reach subscribers of the index token as `bar` messages.
    const bar = {
      instrument_token: 256265,
      tradingsymbol: 'NIFTY 50',
      open: 24_000,
      high: 24_010,
      low: 23_990,
      close: 24_005,
      volume: 1200,
      timestamp: '2025-01-08T09:15:01.000Z',
      is_mock: true,
    };
    await publisher.publish(Channels.underlying('NIFTY'), JSON.stringify(bar));
    await waitFor(() => messages().some((m) => m.type === 'bar'));
    expect(messages().find((m) => m.type === 'bar')).toEqual({ type: 'bar', data: bar });
    expect(fanout.counters.malformed).toBe(0);
  });

  it('TC-WSS-042: recovers from a Redis restart without intervention', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const { publisher, ticks } = await running(server);
    await waitFor(async () => {
      await publisher.publish(Channels.options('NIFTY'), JSON.stringify(sampleOptionSnapshot({ last_price: 1 })));
      return ticks().length > 0;
    });
    await server.stop();
    await server.start();
    await waitFor(
      async () => {
        await publisher
          .publish(Channels.options('NIFTY'), JSON.stringify(sampleOptionSnapshot({ last_price: 2 })))
          .catch(() => {});
        return ticks().some((t) => t.last_price === 2);
      },
      { timeoutMs: 10_000, intervalMs: 50, message: 'delivery after the restart' },
    );
  });
});

import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { createLogger } from '../../shared/logging.js';
import { chainOptionTokens, INDEX_TOKENS, type IngestChain, startIngestChain } from '../support/ingest-chain.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

/*
 * The soak cases scaled from hours to seconds: many rounds of subscribe → stream → unsubscribe on
 * the real ingest chain and a fan-out on the same Redis, with the faults a long run meets (Kite
 * connections dropped, Redis restarted). What a leak leaves behind is checked after every round:
 * open file descriptors back at their baseline, no Kite connection or subscription left over, the
 * publisher's queue and the fan-out's connections empty, no tick dropped, and nothing reconnected or
 * restarted that the test did not cause. Memory growth over a long run is measured by
 * `npm run bench -- soak` (the production bundle with 9,000 subscriptions, heap and RSS sampled), never here.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** File descriptors this process has open (sockets, pipes, files). */
const openFds = () => readdirSync('/proc/self/fd').length;

describe('ingest soak', () => {
  it('TC-PERF-011, TC-PERF-040: rounds of 1000 and 500 subscriptions with drops and Redis restarts leave no descriptor, connection or queue behind', async () => {
    const escaped: unknown[] = [];
    const onEscape = (error: unknown) => escaped.push(error);
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
    cleanup.push(() => {
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
    });

    const chain: IngestChain = await startIngestChain({ redisUrl: redis.url, tickIntervalMs: 100, logger });
    cleanup.push(() => chain.close());
    const fanoutBus = await RedisTickBus.connect(redis.url);
    const gateway = new MemoryConnectionGateway();
    const fanout = new Fanout({ bus: fanoutBus, gateway, clock: new SystemClock(), logger });
    const stopFanout = new AbortController();
    const fanning = fanout.run(stopFanout.signal);
    cleanup.push(async () => {
      stopFanout.abort();
      await fanning;
      await fanoutBus.close();
    });

    let drops = 0;
    let baseline = 0;
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      // Alternate the plans' two sizes, over different parts of the chain each time.
      const size = round % 2 === 0 ? 1000 : 500;
      const start = (round * 300) % (chainOptionTokens.length - size);
      const tokens = chainOptionTokens.slice(start, start + size);
      const client = `client-${round}`;
      gateway.connect(client);
      fanout.addConnection(client);
      fanout.subscribe(client, tokens.slice(0, 20));

      await chain.stream(tokens);
      const before = new Map(tokens.map((t) => [t, chain.traces.get(t)?.count ?? 0]));
      const fanoutTicks = fanout.counters.deliveries;
      if (round === 2 || round === 5 || round === 8) {
        chain.sim.drop();
        drops++;
      }
      if (round === 4 || round === 9) {
        await redis.stop();
        await sleep(300);
        await redis.start();
      }
      await waitFor(() => tokens.every((t) => (chain.traces.get(t)?.count ?? 0) >= (before.get(t) ?? 0) + 3), {
        timeoutMs: 20_000,
        intervalMs: 50,
        message: `round ${round}: every token streaming to Redis`,
      });
      await waitFor(() => fanout.counters.deliveries >= fanoutTicks + 20, {
        timeoutMs: 10_000,
        message: `round ${round}: the fan-out delivering`,
      });

      // End of the round: everything unsubscribed and disconnected.
      fanout.removeConnection(client);
      await chain.pool.unsubscribe([...INDEX_TOKENS, ...tokens]);
      await waitFor(() => chain.publisher.pending === 0 && chain.sim.connections().length === 0, {
        timeoutMs: 10_000,
        message: `round ${round}: the publisher drained and Kite disconnected`,
      });
      const pool = chain.pool.metrics();
      expect(pool.connections).toBe(0);
      expect(pool.subscribedTokens).toBe(0);
      expect(pool.perConnection).toEqual([]);
      expect(chain.pool.subscriptions().size).toBe(0);
      expect(fanout.connections).toBe(0);
      expect(chain.publisher.counters.dropped).toBe(0);
      expect(chain.pipeline.counters.errors).toBe(0);

      if (round === 0) {
        // The first round loads what a process loads once (modules, pooled sockets): the baseline.
        await sleep(200);
        baseline = openFds();
      } else {
        await waitFor(() => openFds() <= baseline, {
          timeoutMs: 10_000,
          message: `round ${round}: open file descriptors back to ${baseline} (now ${openFds()})`,
        });
      }
    }

    // Nothing restarted or reconnected that the test did not cause: one Kite connection per round
    // plus one reconnect per drop, and the publisher lost nothing across the Redis restart.
    const sim = chain.sim.counters();
    expect(sim.connectionsAccepted).toBe(rounds + drops);
    expect(sim.rejected).toEqual({ forbidden: 0, tooManyConnections: 0, badRequest: 0 });
    expect(chain.pool.metrics().counters.reconnects).toBe(drops);
    expect(chain.publisher.counters.published).toBe(chain.publisher.counters.enqueued);
    expect(chain.pipeline.counters.optionTicks).toBe(chain.publisher.counters.enqueued);
    expect(fanout.counters.postErrors).toBe(0);
    expect(escaped).toEqual([]);
  });
});

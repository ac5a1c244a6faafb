import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { KitePool } from '../../ingest-task/kite/kite-pool.js';
import { TickPipeline } from '../../ingest-task/pipeline/tick-pipeline.js';
import { TickPublisher } from '../../ingest-task/pipeline/tick-publisher.js';
import { MAX_RECONNECT_DELAY_MS } from '../../shared/adapters/redis/redis-connection.js';
import { type RedisBusEvent, RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { TickPayload } from '../../shared/contracts/tick.js';
import { price, timeToExpiryYears } from '../../shared/domain/greeks/index.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../shared/domain/market/mock-instruments.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import { type KiteSimulator, startKiteSimulator } from '../support/kite/simulator.js';
import { captureLogs } from '../support/log-capture.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { sharedRedisUrl } from '../support/shared-services.js';
import { waitFor } from '../support/wait.js';

/*
 * The ingest path end to end over real parts: the Kite simulator streams binary ticks, the pool
 * decodes them, the pipeline prices them, the publisher batches them onto a real Redis, and a
 * separate Redis subscriber reads what clients would get.
 */

const silent = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const pricing = { model: 'black-scholes', rate: 0.1, dividendYield: 0 } as const;
const instruments = mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10), strikesEachSide: 5 });
const byToken = new Map(instruments.map((i) => [i.instrumentToken, i]));
const options = instruments.filter(
  (i) => i.name === 'NIFTY' && (i.instrumentType === 'CE' || i.instrumentType === 'PE'),
);
const NIFTY = MOCK_UNDERLYINGS.NIFTY.indexToken;

/** Index at its mock spot; options at their Black-Scholes price at 14 % (so IV solves). */
function simulatedPrice(token: number, nowMs: number): number {
  const instrument = byToken.get(token);
  if (!instrument || instrument.instrumentType === 'INDEX') return MOCK_UNDERLYINGS.NIFTY.spot;
  const value = price({
    kind: instrument.instrumentType === 'PE' ? 'PE' : 'CE',
    model: 'black-scholes',
    underlying: MOCK_UNDERLYINGS.NIFTY.spot,
    strike: instrument.strike,
    timeToExpiryYears: Math.max(1e-4, timeToExpiryYears(instrument.expiry ?? '2099-01-01', nowMs)),
    volatility: 0.14,
    rate: 0.1,
  });
  return Math.max(0.05, Math.round(value * 20) / 20);
}

interface Rig {
  sim: KiteSimulator;
  pool: KitePool;
  pipeline: TickPipeline;
  publisher: TickPublisher;
  received: TickPayload[];
  /** Connection events of the publishing bus (`publisher`) and the listening one (`listener`), in order. */
  busEvents: { bus: 'publisher' | 'listener'; kind: RedisBusEvent['kind'] }[];
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});

async function rig(redisUrl: string, logger: Logger = silent, extraInstruments: Instrument[] = []): Promise<Rig> {
  const sim = await startKiteSimulator({
    accounts: [{ apiKey: 'key', accessToken: 'token' }],
    tickIntervalMs: 50,
    heartbeatIntervalMs: 100,
    price: simulatedPrice,
  });
  const busEvents: Rig['busEvents'] = [];
  const bus = await RedisTickBus.connect(redisUrl, {
    onEvent: ({ kind, connection }) => {
      if (connection === 'publisher') busEvents.push({ bus: 'publisher', kind });
    },
  });
  const listener = await RedisTickBus.connect(redisUrl, {
    onEvent: ({ kind, connection }) => {
      if (connection === 'subscriber') busEvents.push({ bus: 'listener', kind });
    },
  });
  const received: TickPayload[] = [];
  await listener.psubscribe('ticker:*', (_channel, message) => {
    const parsed = JSON.parse(message) as unknown;
    for (const tick of Array.isArray(parsed) ? parsed : [parsed]) received.push(TickPayload.parse(tick));
  });
  const publisher = new TickPublisher({ bus, clock, logger, retryDelayMs: { initial: 20, max: 200 } });
  const pipeline = new TickPipeline({
    instruments: [...instruments, ...extraInstruments],
    pricing,
    sink: publisher,
    clock,
    logger,
    isMock: () => false,
  });
  const pool = new KitePool({
    url: sim.url,
    accounts: [{ id: 'primary', apiKey: 'key', accessToken: () => 'token' }],
    logger,
    onTicks: (_account, ticks) => pipeline.handle(ticks),
    connection: { watchdogMs: 1000, reconnectDelayMs: { initial: 50, max: 300 } },
  });
  const stop = new AbortController();
  const publishing = publisher.run(stop.signal);
  const r: Rig = {
    sim,
    pool,
    pipeline,
    publisher,
    received,
    busEvents,
    close: async () => {
      await pool.close();
      stop.abort();
      await publishing;
      await bus.close();
      await listener.close();
      await sim.stop();
    },
  };
  rigs.push(r);
  return r;
}

describe('ingest pipeline', () => {
  it('TC-MATL-030: one account streams option ticks with Greeks to Redis', async () => {
    const r = await rig(sharedRedisUrl());
    const tokens = options.slice(0, 20).map((i) => i.instrumentToken);
    await r.pool.subscribe([NIFTY, ...tokens], 'full');
    await waitFor(() => tokens.every((t) => r.received.filter((tick) => tick.instrument_token === t).length >= 5), {
      timeoutMs: 10_000,
      message: 'five ticks for every subscribed option',
    });
    // Every tick taken in reaches Redis: none dropped, none still queued, none sent to nobody.
    await waitFor(() => r.publisher.pending === 0 && r.received.length === r.publisher.counters.published, {
      message: 'every published tick received',
    });
    expect(r.publisher.counters.enqueued).toBe(r.pipeline.counters.optionTicks);
    expect(r.publisher.counters.unheard).toBe(0);
    // Every option tick carries valid Greeks: the simulator prices them all at 14 % volatility.
    const optionTicks = r.received.filter((t) => t.option_type === 'CE' || t.option_type === 'PE');
    const priced = optionTicks.filter((t) => t.iv_status === 'ok');
    expect(optionTicks.length).toBeGreaterThanOrEqual(tokens.length);
    expect(priced).toHaveLength(optionTicks.length);
    for (const tick of priced) {
      expect(tick.iv).toBeCloseTo(0.14, 2);
      expect(tick.underlying_price).toBe(MOCK_UNDERLYINGS.NIFTY.spot);
      if (tick.option_type === 'CE') expect(tick.delta).toBeGreaterThan(0);
      else expect(tick.delta).toBeLessThan(0);
      expect(tick.gamma).toBeGreaterThan(0);
      expect(tick.is_mock).toBe(false);
    }
    expect(r.pipeline.counters.errors).toBe(0);
    expect(r.publisher.counters.dropped).toBe(0);
  });

  it('TC-MATL-032: a tick that fails is logged with its token, and the others keep streaming', async () => {
    const broken: Instrument = {
      ...(options[0] as Instrument),
      instrumentToken: 99_999 * 256 + 2,
      expiry: 'not-a-date',
    };
    const { result, logs } = await captureLogs(async (logger) => {
      const r = await rig(sharedRedisUrl(), logger, [broken]);
      const good = options.slice(0, 5).map((i) => i.instrumentToken);
      await r.pool.subscribe([NIFTY, broken.instrumentToken, ...good], 'full');
      await waitFor(() => r.pipeline.counters.errors >= 3, { timeoutMs: 10_000, message: 'failing ticks' });
      // After the failures every other option still ticks, on the same connection.
      const since = r.received.length;
      await waitFor(
        () => good.every((t) => r.received.slice(since).filter((k) => k.instrument_token === t).length >= 3),
        {
          timeoutMs: 10_000,
          message: 'the other options to keep ticking',
        },
      );
      const errorsBefore = r.pipeline.counters.errors;
      const brokenBefore = r.received.filter((t) => t.instrument_token === broken.instrumentToken).length;
      return {
        errorsBefore,
        brokenBefore,
        good,
        metrics: r.pool.metrics(),
      };
    });
    expect(result.errorsBefore).toBeGreaterThanOrEqual(3);
    expect(result.brokenBefore).toBe(0);
    // Nothing cascaded: no reconnect, the one connection still open with all seven tokens.
    expect(result.metrics.counters.reconnects).toBe(0);
    expect(result.metrics.perConnection).toEqual([{ accountId: 'primary', state: 'open', tokens: 7 }]);
    expect(
      logs.some((l) => l.message === 'Tick processing failed' && l.instrument_token === broken.instrumentToken),
    ).toBe(true);
  });
});

describe('ingest pipeline against a failing Redis', () => {
  let server: RedisServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** A throwaway Redis and a rig streaming the index and ten options onto it, ticks already arriving. */
  async function streamingOnFreshRedis(logger?: Logger) {
    const redis = await startRedisServer();
    server = redis;
    const r = await rig(redis.url, logger);
    await r.pool.subscribe([NIFTY, ...options.slice(0, 10).map((i) => i.instrumentToken)], 'full');
    await waitFor(() => r.received.length > 20, { timeoutMs: 10_000 });
    return { redis, r };
  }

  it('TC-ERR-001: a publish that fails while Redis is down is retried and nothing is lost after recovery', async () => {
    const { logs } = await captureLogs(async (logger) => {
      const { redis, r } = await streamingOnFreshRedis(logger);
      await redis.stop();
      await waitFor(() => r.publisher.counters.publishFailures >= 2, { message: 'failed publishes to be retried' });
      expect(r.publisher.pending).toBeGreaterThan(0);
      await redis.start();
      await waitFor(() => r.publisher.pending === 0 && r.publisher.counters.published > 0, {
        timeoutMs: 10_000,
        message: 'the queue to drain after the restart',
      });
      const afterRecovery = r.received.length;
      await waitFor(() => r.received.length > afterRecovery + 20, {
        timeoutMs: 10_000,
        message: 'publishing to resume',
      });
      expect(r.publisher.counters.dropped).toBe(0);
      expect(r.publisher.counters.published + r.publisher.pending).toBe(r.publisher.counters.enqueued);
      // No data loss: every tick published, the ones held through the outage included, reached the
      // subscriber (which reconnects on its own schedule), and none went out to nobody.
      const settleMs = 10 * MAX_RECONNECT_DELAY_MS;
      await waitFor(() => r.publisher.pending === 0 && r.received.length === r.publisher.counters.published, {
        timeoutMs: settleMs,
        message: 'every published tick received',
      });
      expect(r.publisher.counters.unheard).toBe(0);
    });
    // The failure is logged once with its context, and so is the recovery with the retries it took.
    const failed = logs.filter((l) => l.message === 'Tick publish failed; will retry');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ level: 'WARN', channel: expect.stringMatching(/^ticker:/) });
    expect(JSON.stringify(failed[0]?.error)).toMatch(/\S/);
    const recovered = logs.find((l) => l.message === 'Tick publishing recovered');
    expect(recovered?.attempts).toBeGreaterThanOrEqual(2);
  });

  it('keeps running through Redis stopped for 5 s mid-stream, publishes again within 2 s of its return, and accounts for every tick', async () => {
    const { redis, r } = await streamingOnFreshRedis();
    await redis.stop();
    const ticksAtStop = r.pipeline.counters.ticksIn;
    // The outage itself: time passing is the condition under test, not a wait for something.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    // Kite kept streaming while Redis was away, and the task kept taking it in.
    expect(r.pipeline.counters.ticksIn).toBeGreaterThan(ticksAtStop + 50);
    expect(r.publisher.pending).toBeGreaterThan(0);
    const publishedBefore = r.publisher.counters.published;
    await redis.start();
    const back = Date.now();
    await waitFor(() => r.publisher.counters.published > publishedBefore, {
      timeoutMs: 2000,
      intervalMs: 10,
      message: 'a publish within 2 s of Redis returning',
    });
    expect(Date.now() - back).toBeLessThan(2000);
    // The rest are conditions, not speed claims: their deadline is ten of the longest reconnect waits.
    const settleMs = 10 * MAX_RECONNECT_DELAY_MS;
    const received = r.received.length;
    await waitFor(() => r.received.length > received + 20, { timeoutMs: settleMs, message: 'ticks after the outage' });
    // Every option tick taken in is published, dropped (counted) or still queued: none vanishes.
    await waitFor(() => r.publisher.pending === 0, { timeoutMs: settleMs, message: 'the queue to drain' });
    const { enqueued, published, dropped } = r.publisher.counters;
    expect(published + dropped).toBe(enqueued);
    expect(enqueued).toBe(r.pipeline.counters.optionTicks);
    // And every tick published reached the subscriber, which reconnected on its own schedule:
    // what the publisher sent before it was back reached no one, so it was kept and sent again.
    await waitFor(() => r.received.length === published, {
      timeoutMs: settleMs,
      message: 'every published tick received',
    });
    expect(r.publisher.counters.unheard).toBe(0);
  });

  it('TC-ERR-003: after Redis resets the connections, streaming resumes within 10 seconds', async () => {
    const { redis, r } = await streamingOnFreshRedis();
    const eventsBefore = r.busEvents.length;
    const admin = new Redis(redis.url);
    try {
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await admin.client('KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
    const count = r.received.length;
    // The plan's 10 s bound is the wait's limit.
    await waitFor(() => r.received.length > count + 20, { timeoutMs: 10_000, message: 'ticks after the reset' });
    expect(r.publisher.counters.dropped).toBe(0);
    // Both sides saw the reset and reconnected on their own: reconnecting, then ready again.
    const after = r.busEvents.slice(eventsBefore);
    for (const side of ['publisher', 'listener'] as const) {
      const kinds = after.filter((e) => e.bus === side).map((e) => e.kind);
      expect(kinds, side).toContain('reconnecting');
      expect(kinds.lastIndexOf('ready'), side).toBeGreaterThan(kinds.indexOf('reconnecting'));
    }
  });
});

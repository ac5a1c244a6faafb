import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { type IngestRole, ingestRole } from '../../ingest-task/ingest-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { DynamoDbSubscriptionStore } from '../../shared/adapters/dynamodb/dynamodb-subscription-store.js';
import { RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { loadConfig } from '../../shared/config.js';
import { UnderlyingBar } from '../../shared/contracts/tick.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../shared/domain/market/mock-instruments.js';
import { createLogger } from '../../shared/logging.js';
import { referencePriceOf } from '../../shared/market-data/reference-price.js';
import { Heartbeats } from '../../shared/ports/live-state-store.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import { Channels, RECONCILE_NOW } from '../../shared/ports/tick-bus.js';
import { type KiteSimulator, startKiteSimulator } from '../support/kite/simulator.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/*
 * The ingest role as the task runs it, over real parts: subscriptions in DynamoDB (dynalite, a
 * table prefix of its own), the Kite simulator, Redis for the bus and the live state. Reconciles
 * are triggered the way the REST API triggers them: a message on the control channel.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const instruments = mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10), strikesEachSide: 80 });
const optionTokens = instruments
  .filter((i) => i.name === 'NIFTY' && (i.instrumentType === 'CE' || i.instrumentType === 'PE'))
  .map((i) => i.instrumentToken);
const byToken = new Map(instruments.map((i) => [i.instrumentToken, i]));
const INDICES: number[] = [MOCK_UNDERLYINGS.NIFTY.indexToken, MOCK_UNDERLYINGS.BANKNIFTY.indexToken];

interface Running {
  role: IngestRole;
  sim: KiteSimulator;
  store: DynamoDbSubscriptionStore;
  bus: RedisTickBus;
  state: RedisLiveStateStore;
  ticksByToken: Map<number, number>;
  /** Longest silence between two ticks of each token since `resetGaps`, in ms. */
  maxGap: Map<number, number>;
  resetGaps(): void;
  /** Option ticks the listener received. */
  received(): number;
  stop(): Promise<{ stoppedInMs: number; unfinished: readonly string[] }>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

// A Redis of this file's own: other files publish the same mock instruments' ticks on the same channels.
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

async function start(activeCount: number, tickIntervalMs = 100): Promise<Running> {
  const sim = await startKiteSimulator({
    accounts: [{ apiKey: 'key', accessToken: 'token' }],
    tickIntervalMs,
    heartbeatIntervalMs: 200,
  });
  const prefix = `role-${randomUUID().slice(0, 8)}`;
  const client = localDynamoDbClient(inject('dynamodbEndpoint'));
  await ensureTables(client, prefix);
  const store = new DynamoDbSubscriptionStore({ client, tablePrefix: prefix });
  for (const token of optionTokens.slice(0, activeCount)) await subscribe(store, token);
  const config = loadConfig({
    KITE_ACCOUNTS: 'primary:key:token',
    KITE_TICKER_URL: sim.url,
    STREAM_INTERVAL_SECONDS: '0.2',
    FOLLOW_MARKET_HOURS: 'false',
    LOG_LEVEL: 'SILENT',
  });
  const bus = await RedisTickBus.connect(redis.url);
  const state = await RedisLiveStateStore.connect(redis.url, { keyPrefix: `${prefix}:` });
  const role = ingestRole({ config, logger, clock: new SystemClock(), bus, state, subscriptions: store, instruments });
  const ticksByToken = new Map<number, number>();
  const lastSeen = new Map<number, number>();
  const maxGap = new Map<number, number>();
  let received = 0;
  const listener = await RedisTickBus.connect(redis.url);
  await listener.psubscribe(`ticker:*:options`, (_channel, message) => {
    const parsed = JSON.parse(message) as { instrument_token: number } | { instrument_token: number }[];
    const now = Date.now();
    for (const tick of Array.isArray(parsed) ? parsed : [parsed]) {
      const token = tick.instrument_token;
      received++;
      ticksByToken.set(token, (ticksByToken.get(token) ?? 0) + 1);
      const last = lastSeen.get(token);
      if (last !== undefined) maxGap.set(token, Math.max(maxGap.get(token) ?? 0, now - last));
      lastSeen.set(token, now);
    }
  });
  const shutdown = new AbortController();
  const supervised = supervise(role.services, shutdown.signal, logger);
  let stopped: { stoppedInMs: number; unfinished: readonly string[] } | undefined;
  const r: Running = {
    role,
    sim,
    store,
    bus,
    state,
    ticksByToken,
    maxGap,
    resetGaps: () => {
      maxGap.clear();
      lastSeen.clear();
    },
    received: () => received,
    stop: async () => {
      if (stopped) return stopped;
      const began = Date.now();
      shutdown.abort();
      const outcome = await supervised;
      stopped = { stoppedInMs: Date.now() - began, unfinished: outcome.unfinished };
      await bus.close();
      await listener.close();
      await state.close();
      await sim.stop();
      client.destroy();
      return stopped;
    },
  };
  running.push(r);
  return r;
}

async function subscribe(store: DynamoDbSubscriptionStore, token: number): Promise<void> {
  const instrument = byToken.get(token) as Instrument;
  await store.upsert(
    {
      instrumentToken: token,
      tradingsymbol: instrument.tradingsymbol,
      segment: instrument.segment,
      status: 'active',
      requestedMode: 'FULL',
      accountId: null,
    },
    Date.now(),
  );
}

/** Tokens the simulator streams, indices excluded. */
function streamed(sim: KiteSimulator): number[] {
  return sim
    .connections()
    .flatMap((c) => c.tokens)
    .filter((t) => !INDICES.includes(t))
    .sort((a, b) => a - b);
}

/** Waits until each of `tokens` has ticked `times` more times than now: its gap across what just happened is measured. */
async function tickedAgain(r: Running, tokens: readonly number[], times = 1, timeoutMs = 15_000): Promise<void> {
  const now = new Map(tokens.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
  await waitFor(() => tokens.every((t) => (r.ticksByToken.get(t) ?? 0) >= (now.get(t) ?? 0) + times), {
    timeoutMs,
    message: `${tokens.length} streams to tick ${times} more time(s)`,
  });
}

describe('ingest role', () => {
  it('TC-MATL-001: starts with its active subscriptions, streams them, aggregates underlying bars and reports running', async () => {
    const r = await start(3);
    const bars: UnderlyingBar[] = [];
    await r.bus.subscribe(Channels.underlying('NIFTY'), (_channel, message) => {
      bars.push(UnderlyingBar.parse(JSON.parse(message)));
    });
    const started = Date.now();
    await waitFor(() => streamed(r.sim).length === 3, { timeoutMs: 10_000, message: 'the subscriptions to stream' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.sim.connections().flatMap((c) => c.tokens)).toEqual(expect.arrayContaining(INDICES));
    await waitFor(() => optionTokens.slice(0, 3).every((t) => (r.ticksByToken.get(t) ?? 0) > 0), { timeoutMs: 10_000 });
    await waitFor(async () => JSON.parse((await r.state.getHeartbeat(Heartbeats.ingest)) ?? '{}').running === true);
    const heartbeat = JSON.parse((await r.state.getHeartbeat(Heartbeats.ingest)) ?? '{}');
    expect(heartbeat).toMatchObject({ running: true, source: 'kite', backpressure: 'HEALTHY' });
    expect(r.role.status().active_subscriptions).toBe(5);
    // The underlying aggregation runs too: bars of the index it streams, from Kite's ticks.
    await waitFor(() => bars.some((b) => b.instrument_token === MOCK_UNDERLYINGS.NIFTY.indexToken), {
      timeoutMs: 10_000,
      message: 'a NIFTY underlying bar',
    });
    expect(bars.every((b) => b.is_mock === false && b.low <= b.high)).toBe(true);
  });

  it('writes the 30-s average trade price of every streamed option to the live state, once a second', async () => {
    const r = await start(3);
    const tokens = optionTokens.slice(0, 3);
    await waitFor(async () => (await r.state.getReferencePrices(tokens)).size === 3, {
      timeoutMs: 10_000,
      message: 'reference prices of the streamed options',
    });
    // Written again each second, so each read may see a newer average: both are prices.
    for (const price of (await r.state.getReferencePrices(tokens)).values()) expect(price).toBeGreaterThan(0);
    for (const token of tokens) expect(await referencePriceOf(r.state, token)).toBeGreaterThan(0);
    expect(r.role.services.map((service) => service.name)).toContain('reference-prices');
  });

  it('TC-MATL-002: starts with no active subscriptions, stays ready and picks up new ones', async () => {
    const r = await start(0);
    await waitFor(() => r.sim.connections().length === 1, { message: 'the index stream' });
    expect(streamed(r.sim)).toEqual([]);
    await subscribe(r.store, optionTokens[0] as number);
    await r.bus.publish(Channels.control, RECONCILE_NOW);
    await waitFor(() => streamed(r.sim).length === 1, { timeoutMs: 10_000 });
  });

  it('TC-MATL-010: adding 5 to 10 streaming subscriptions streams all 15 without disturbing the first 10', async () => {
    const r = await start(10);
    await waitFor(() => streamed(r.sim).length === 10, { timeoutMs: 10_000 });
    const firstTen = optionTokens.slice(0, 10);
    const connectionsBefore = r.sim.connections().map((c) => c.id);
    for (const token of optionTokens.slice(10, 15)) await subscribe(r.store, token);
    const started = Date.now();
    await r.bus.publish(Channels.control, RECONCILE_NOW);
    await waitFor(() => streamed(r.sim).length === 15, { timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r.sim.connections().map((c) => c.id)).toEqual(connectionsBefore);
    const counts = new Map(optionTokens.slice(0, 15).map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    await waitFor(() => optionTokens.slice(0, 15).every((t) => (r.ticksByToken.get(t) ?? 0) > (counts.get(t) ?? 0)), {
      timeoutMs: 10_000,
      message: 'all 15 to tick',
    });
    expect(firstTen.every((t) => streamed(r.sim).includes(t))).toBe(true);
  });

  it('TC-MATL-011: deactivating 10 of 20 unsubscribes them and leaves the other 10 streaming', async () => {
    const r = await start(20);
    await waitFor(() => streamed(r.sim).length === 20, { timeoutMs: 10_000 });
    const gone = optionTokens.slice(0, 10);
    for (const token of gone) await r.store.deactivate(token, Date.now());
    await r.bus.publish(Channels.control, RECONCILE_NOW);
    await waitFor(() => streamed(r.sim).length === 10, { timeoutMs: 10_000 });
    expect(streamed(r.sim)).toEqual([...optionTokens.slice(10, 20)].sort((a, b) => a - b));
    const before = new Map(gone.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    const kept = optionTokens.slice(10, 20);
    const keptBefore = new Map(kept.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    await waitFor(() => kept.every((t) => (r.ticksByToken.get(t) ?? 0) > (keptBefore.get(t) ?? 0) + 2), {
      timeoutMs: 10_000,
    });
    // A tick or two may have been in flight when they were removed; after that, none. The kept
    // ones share the socket and the channel, whose order the bus keeps: once each has ticked twice
    // more, every tick sent meanwhile has arrived.
    const settled = new Map(gone.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    const keptSettled = new Map(kept.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    await waitFor(() => kept.every((t) => (r.ticksByToken.get(t) ?? 0) > (keptSettled.get(t) ?? 0) + 2), {
      timeoutMs: 10_000,
      message: 'the kept ones to tick twice more',
    });
    for (const token of gone) {
      expect(r.ticksByToken.get(token) ?? 0).toBe(settled.get(token));
      expect((settled.get(token) ?? 0) - (before.get(token) ?? 0)).toBeLessThanOrEqual(2);
    }
  });

  it('TC-MATL-012: five concurrent reload requests run one reconcile at a time, at most two in all, and end in the right state', async () => {
    const r = await start(5);
    await waitFor(() => streamed(r.sim).length === 5, { timeoutMs: 10_000 });
    const pool = r.role.pool as NonNullable<IngestRole['pool']>;
    // Kite slow to take the new subscriptions (1 s) keeps the first reconcile running while the
    // other requests arrive; a reconcile that starts meanwhile reads the store: counted.
    let applying = false;
    let readsWhileApplying = 0;
    const subscribeOriginal = pool.subscribe.bind(pool);
    pool.subscribe = async (...args) => {
      applying = true;
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return await subscribeOriginal(...args);
      } finally {
        applying = false;
      }
    };
    const listOriginal = r.store.listActive.bind(r.store);
    r.store.listActive = (...args) => {
      if (applying) readsWhileApplying++;
      return listOriginal(...args);
    };
    const runsBefore = r.role.reconciler.counters.runs;
    for (const token of optionTokens.slice(5, 8)) await subscribe(r.store, token);
    const first = r.role.reconciler.trigger();
    await waitFor(() => applying, { message: 'the first reconcile to reach Kite' });
    const results = await Promise.all([first, ...Array.from({ length: 4 }, () => r.role.reconciler.trigger())]);
    expect(readsWhileApplying).toBe(0);
    expect(r.role.reconciler.counters.runs - runsBefore).toBe(2);
    expect(results[0]).toMatchObject({ added: 3, failed: 0 });
    expect(results.every((result) => result.failed === 0)).toBe(true);
    await waitFor(() => streamed(r.sim).length === 8, { timeoutMs: 10_000 });
    expect(streamed(r.sim)).toEqual([...optionTokens.slice(0, 8)].sort((a, b) => a - b));
  });

  it('TC-MATL-013: adding 10 to 50 streaming subscriptions keeps every stream going, with the new ones live within 10 s', async () => {
    const r = await start(50, 200);
    await waitFor(() => streamed(r.sim).length === 50, { timeoutMs: 10_000 });
    const existing = optionTokens.slice(0, 50);
    await waitFor(() => existing.every((t) => (r.ticksByToken.get(t) ?? 0) > 1), { timeoutMs: 10_000 });
    r.resetGaps();
    for (const token of optionTokens.slice(50, 60)) await subscribe(r.store, token);
    const started = Date.now();
    await r.bus.publish(Channels.control, RECONCILE_NOW);
    await waitFor(() => optionTokens.slice(50, 60).every((t) => (r.ticksByToken.get(t) ?? 0) > 0), {
      timeoutMs: 10_000,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    // Every existing stream ticks again after the reload, which closes any pause it caused.
    await tickedAgain(r, existing);
    const gaps = existing.map((t) => r.maxGap.get(t) ?? Number.POSITIVE_INFINITY);
    expect(Math.max(...gaps)).toBeLessThan(5000);
    expect(r.role.publisher.counters.dropped).toBe(0);
  });

  it('TC-MATL-050: reloads during streaming at 50 ticks/s neither deadlock nor pause streams, and lose no tick', async () => {
    const r = await start(100, 2000);
    await waitFor(() => streamed(r.sim).length === 100, { timeoutMs: 10_000 });
    await waitFor(() => optionTokens.slice(0, 100).every((t) => (r.ticksByToken.get(t) ?? 0) > 1), {
      timeoutMs: 15_000,
    });
    r.resetGaps();
    for (const token of optionTokens.slice(100, 110)) await subscribe(r.store, token);
    for (const token of optionTokens.slice(0, 5)) await r.store.deactivate(token, Date.now());
    const started = Date.now();
    await Promise.all([r.role.reconciler.trigger(), r.role.reconciler.trigger(), r.role.reconciler.trigger()]);
    expect(Date.now() - started).toBeLessThan(60_000);
    const wanted = [...optionTokens.slice(5, 110)].sort((a, b) => a - b).join();
    await waitFor(() => streamed(r.sim).join() === wanted, { message: 'the simulator to stream the new set' });
    await tickedAgain(r, optionTokens.slice(5, 100), 2);
    // Streams at 2 s cadence: a pause of less than 1 s on top of it.
    const gaps = optionTokens.slice(5, 100).map((t) => r.maxGap.get(t) ?? Number.POSITIVE_INFINITY);
    expect(Math.max(...gaps)).toBeLessThan(3000);
    await waitFor(() => r.received() === r.role.publisher.counters.published, {
      message: 'every published tick to arrive',
    });
    expect(r.role.publisher.counters.dropped).toBe(0);
  }, 60_000);

  it('TC-REG-040, TC-PERF-022: adding 100 to 500 streaming subscriptions reloads in well under 30 s without a pause', async () => {
    const r = await start(500, 500);
    await waitFor(() => streamed(r.sim).length === 500, { timeoutMs: 20_000 });
    await waitFor(() => optionTokens.slice(0, 500).every((t) => (r.ticksByToken.get(t) ?? 0) > 1), {
      timeoutMs: 20_000,
    });
    r.resetGaps();
    for (const token of optionTokens.slice(500, 600)) await subscribe(r.store, token);
    const started = Date.now();
    const result = await r.role.reconciler.trigger();
    const reloadMs = Date.now() - started;
    expect(result).toMatchObject({ added: 100, removed: 0, failed: 0 });
    expect(reloadMs).toBeLessThan(30_000);
    await waitFor(() => optionTokens.slice(500, 600).every((t) => (r.ticksByToken.get(t) ?? 0) > 0), {
      timeoutMs: 60_000,
    });
    await tickedAgain(r, optionTokens.slice(0, 500));
    const gaps = optionTokens.slice(0, 500).map((t) => r.maxGap.get(t) ?? Number.POSITIVE_INFINITY);
    expect(Math.max(...gaps)).toBeLessThan(500 + 2000);
    await waitFor(() => r.received() === r.role.publisher.counters.published, {
      message: 'every published tick to arrive',
    });
    expect(r.role.publisher.counters.dropped).toBe(0);
  }, 90_000);

  it('TC-MATL-004: stops during streaming within 30 s with every queued tick published', async () => {
    const r = await start(30);
    await waitFor(() => streamed(r.sim).length === 30, { timeoutMs: 10_000 });
    await waitFor(() => r.role.publisher.counters.published > 100, { timeoutMs: 10_000 });
    const { stoppedInMs, unfinished } = await r.stop();
    expect(stoppedInMs).toBeLessThan(30_000);
    expect(unfinished).toEqual([]);
    expect(r.role.publisher.pending).toBe(0);
    expect(r.role.publisher.counters.dropped).toBe(0);
    expect(r.role.publisher.counters.published).toBe(r.role.publisher.counters.enqueued);
    expect(r.sim.connections()).toEqual([]);
  });
});

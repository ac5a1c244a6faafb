import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../infra/local/dynamodb-local.js';
import { type IngestRole, ingestRole } from '../../ingest-task/ingest-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { DynamoDbSubscriptionStore } from '../../shared/adapters/dynamodb/dynamodb-subscription-store.js';
import { RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { loadConfig } from '../../shared/config.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../shared/domain/market/mock-instruments.js';
import { createLogger } from '../../shared/logging.js';
import { Heartbeats } from '../../shared/ports/live-state-store.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { type KiteSimulator, startKiteSimulator } from '../support/kite/simulator.js';
import { waitFor } from '../support/wait.js';

/*
 * The ingest role as the task runs it, over real parts: subscriptions in DynamoDB (dynalite, a
 * table prefix of its own), the Kite simulator, Redis for the bus and the live state. Reconciles
 * are triggered the way the REST API triggers them: a message on the control channel.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const instruments = mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10), strikesEachSide: 20 });
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
  stop(): Promise<{ stoppedInMs: number; unfinished: readonly string[] }>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function start(activeCount: number): Promise<Running> {
  const sim = await startKiteSimulator({
    accounts: [{ apiKey: 'key', accessToken: 'token' }],
    tickIntervalMs: 100,
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
    LOG_LEVEL: 'SILENT',
  });
  const bus = await RedisTickBus.connect(inject('redisUrl'));
  const state = await RedisLiveStateStore.connect(inject('redisUrl'), { keyPrefix: `${prefix}:` });
  const role = ingestRole({ config, logger, clock: new SystemClock(), bus, state, subscriptions: store, instruments });
  const ticksByToken = new Map<number, number>();
  const listener = await RedisTickBus.connect(inject('redisUrl'));
  await listener.psubscribe('ticker:*:options', (_channel, message) => {
    const parsed = JSON.parse(message) as { instrument_token: number } | { instrument_token: number }[];
    for (const tick of Array.isArray(parsed) ? parsed : [parsed]) {
      ticksByToken.set(tick.instrument_token, (ticksByToken.get(tick.instrument_token) ?? 0) + 1);
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

describe('ingest role', () => {
  it('TC-MATL-001: starts with its active subscriptions, streams them and reports running', async () => {
    const r = await start(3);
    const started = Date.now();
    await waitFor(() => streamed(r.sim).length === 3, { timeoutMs: 10_000, message: 'the subscriptions to stream' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.sim.connections().flatMap((c) => c.tokens)).toEqual(expect.arrayContaining(INDICES));
    await waitFor(() => optionTokens.slice(0, 3).every((t) => (r.ticksByToken.get(t) ?? 0) > 0), { timeoutMs: 10_000 });
    await waitFor(async () => JSON.parse((await r.state.getHeartbeat(Heartbeats.ingest)) ?? '{}').running === true);
    const heartbeat = JSON.parse((await r.state.getHeartbeat(Heartbeats.ingest)) ?? '{}');
    expect(heartbeat).toMatchObject({ running: true, source: 'kite', backpressure: 'HEALTHY' });
    expect(r.role.status().active_subscriptions).toBe(5);
  });

  it('TC-MATL-002: starts with no active subscriptions, stays ready and picks up new ones', async () => {
    const r = await start(0);
    await waitFor(() => r.sim.connections().length === 1, { message: 'the index stream' });
    expect(streamed(r.sim)).toEqual([]);
    await subscribe(r.store, optionTokens[0] as number);
    await r.bus.publish(Channels.control, JSON.stringify({ reason: 'subscription created' }));
    await waitFor(() => streamed(r.sim).length === 1, { timeoutMs: 10_000 });
  });

  it('TC-MATL-010: adding 5 to 10 streaming subscriptions streams all 15 without disturbing the first 10', async () => {
    const r = await start(10);
    await waitFor(() => streamed(r.sim).length === 10, { timeoutMs: 10_000 });
    const firstTen = optionTokens.slice(0, 10);
    const connectionsBefore = r.sim.connections().map((c) => c.id);
    for (const token of optionTokens.slice(10, 15)) await subscribe(r.store, token);
    const started = Date.now();
    await r.bus.publish(Channels.control, '{}');
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
    await r.bus.publish(Channels.control, '{}');
    await waitFor(() => streamed(r.sim).length === 10, { timeoutMs: 10_000 });
    expect(streamed(r.sim)).toEqual([...optionTokens.slice(10, 20)].sort((a, b) => a - b));
    const before = new Map(gone.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    const kept = optionTokens.slice(10, 20);
    const keptBefore = new Map(kept.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    await waitFor(() => kept.every((t) => (r.ticksByToken.get(t) ?? 0) > (keptBefore.get(t) ?? 0) + 2), {
      timeoutMs: 10_000,
    });
    // A tick or two may have been in flight when they were removed; after that, none.
    const settled = new Map(gone.map((t) => [t, r.ticksByToken.get(t) ?? 0]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const token of gone) {
      expect(r.ticksByToken.get(token) ?? 0).toBe(settled.get(token));
      expect((settled.get(token) ?? 0) - (before.get(token) ?? 0)).toBeLessThanOrEqual(2);
    }
  });

  it('TC-MATL-012: five concurrent reload requests run at most two reconciles and end in the right state', async () => {
    const r = await start(5);
    await waitFor(() => streamed(r.sim).length === 5, { timeoutMs: 10_000 });
    const runsBefore = r.role.reconciler.counters.runs;
    for (const token of optionTokens.slice(5, 8)) await subscribe(r.store, token);
    const results = await Promise.all(Array.from({ length: 5 }, () => r.role.reconciler.trigger()));
    expect(r.role.reconciler.counters.runs - runsBefore).toBeLessThanOrEqual(2);
    expect(results.every((result) => result.failed === 0)).toBe(true);
    await waitFor(() => streamed(r.sim).length === 8, { timeoutMs: 10_000 });
  });

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

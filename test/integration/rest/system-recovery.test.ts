import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../infra/local/dynamodb-local.js';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { HealthResponse } from '../../../shared/contracts/health.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { type KiteSimulator, startKiteSimulator } from '../../support/kite/simulator.js';
import { type FakeKiteRest, startKiteRestServer } from '../../support/kite-rest/kite-rest-server.js';
import { freePort, type RedisServer, startRedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform, watchBus } from './rest-support.js';

/*
 * TC-ERR-040 on the local platform with all three of its outside dependencies of its own, each of
 * which the test can take away and give back: a redis-server (bus, heartbeats, indexes), dynalite
 * on a fixed port and a data directory (so it comes back with its tables), and the Kite simulator
 * (the stream). All three fail together; they come back one at a time, and after each /health and
 * the stream show exactly what recovered.
 */

const PREFIX = 'err-040';
/** Long enough for the ingest heartbeat (every 5 s) to report a change, with room on a loaded machine. */
const HEALTH_WAIT_MS = 20_000;

describe('TC-ERR-040 on the local platform', () => {
  let redis: RedisServer;
  let dataDir: string;
  let dynamoPort: number;
  let dynamo: LocalDynamoDb;
  let sim: KiteSimulator;
  let kite: FakeKiteRest;
  let platform: LocalPlatform;

  beforeAll(async () => {
    redis = await startRedisServer();
    dataDir = await mkdtemp(join(tmpdir(), 'err-040-'));
    dynamoPort = await freePort();
    dynamo = await startLocalDynamoDb({ port: dynamoPort, path: dataDir, onError: () => {} });
    sim = await startKiteSimulator({
      accounts: [{ apiKey: 'key-primary', accessToken: 'token-primary' }],
      tickIntervalMs: 100,
      heartbeatIntervalMs: 200,
    });
    kite = await startKiteRestServer({
      accounts: { 'key-primary': 'token-primary' },
      instruments: mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10), strikesEachSide: 2 }),
    });
    platform = await startPlatform(PREFIX, {
      REDIS_URL: redis.url,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      KITE_ACCOUNTS: 'primary:key-primary:token-primary',
      KITE_API_URL: kite.root,
      KITE_TICKER_URL: sim.url,
      ENABLE_MOCK_DATA: 'false',
      FOLLOW_MARKET_HOURS: 'false',
    });
  }, 30_000);

  afterAll(async () => {
    await platform?.close();
    await kite?.stop();
    await sim?.stop();
    await dynamo?.stop().catch(() => {});
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('TC-ERR-040: Redis, DynamoDB and Kite fail together; health names each, and health and streaming recover as each comes back', async () => {
    const api = restClient(platform);
    const health = async () => {
      const response = await api.get('/health');
      expect(response.status).toBe(200);
      return HealthResponse.parse(response.body);
    };
    /** Waits until /health satisfies `predicate`; returns that report. */
    const healthWhen = async (predicate: (h: HealthResponse) => boolean, message: string) => {
      let last: HealthResponse | undefined;
      await waitFor(
        async () => {
          last = await health();
          return predicate(last);
        },
        { timeoutMs: HEALTH_WAIT_MS, intervalMs: 200, message: `${message} (last: ${JSON.stringify(last)})` },
      );
      return last as HealthResponse;
    };
    const reasonsOf = (h: HealthResponse) => (h.reasons ?? []).map((r) => r.split(/[ :]/)[0]).sort();

    // Healthy: every dependency ok, the Kite account's connection open, ticks on the bus.
    const bus = await watchBus(platform);
    const instruments = await platform.components.loadInstruments();
    const option = instruments.find((i) => i.instrumentType === 'CE');
    if (!option) throw new Error('no option in the instrument master');
    const token = option.instrumentToken;
    expect((await api.post('/subscriptions', { instrument_token: token })).status).toBe(200);
    let since = Date.now();
    await waitFor(() => bus.sawTick(token, since), { timeoutMs: 15_000, message: 'ticks before the failures' });
    const openOf = (h: HealthResponse) => (h.ticker.accounts.primary as { open?: number } | undefined)?.open;
    const healthy = await healthWhen((h) => h.status === 'ok' && openOf(h) === 1, 'health ok before the failures');
    expect(healthy.dependencies).toMatchObject({ redis: 'ok', database: 'ok' });
    expect(healthy.ticker.accounts).toMatchObject({ primary: { status: 'ok', open: 1 } });

    // 1. All three fail together. The platform keeps answering; health names the failing parts.
    await Promise.all([sim.stop(), redis.stop(), dynamo.stop()]);
    const failedAt = Date.now();
    const down = await healthWhen(
      (h) => h.dependencies.redis.startsWith('unavailable') && h.dependencies.database.startsWith('unavailable'),
      'health to see Redis and the database gone',
    );
    expect(down.status).toBe('degraded');
    // The ingest heartbeat lives in Redis: without it the ticker's state is unknown, so "not running".
    expect(reasonsOf(down)).toEqual(['database', 'redis', 'ticker']);
    expect((await api.get('/subscriptions')).status).toBe(503);
    // What needs none of them still answers.
    expect((await api.get(`/instruments/${token}`)).status).toBe(200);

    // 2. Redis returns: the heartbeat is readable again and names the Kite account, still down.
    await redis.start();
    const redisBack = await healthWhen(
      (h) => h.dependencies.redis === 'ok' && h.ticker.running,
      'health to see Redis and the ingest heartbeat again',
    );
    expect(redisBack.status).toBe('degraded');
    expect(redisBack.dependencies.database).toMatch(/^unavailable/);
    expect(reasonsOf(redisBack)).toEqual(['database', 'kite']);
    expect(redisBack.ticker.accounts).toMatchObject({ primary: { open: 0 } });
    // The bus is back but Kite is not: nothing produced a tick since the failure.
    expect(bus.producedAfter(token, failedAt)).toBe(false);

    // 3. Kite returns: the account reconnects and resubscribes on its own (the subscription store
    // is still down), and ticks flow again while the database is still missing.
    await sim.restart();
    since = Date.now();
    await waitFor(() => bus.sawTick(token, since), { timeoutMs: 15_000, message: 'ticks after Kite came back' });
    const kiteBack = await healthWhen(
      (h) => !(h.reasons ?? []).some((r) => r.startsWith('kite')),
      'health to see the Kite account streaming again',
    );
    expect(kiteBack.status).toBe('degraded');
    expect(reasonsOf(kiteBack)).toEqual(['database']);
    expect(kiteBack.ticker.accounts).toMatchObject({ primary: { status: 'ok', open: 1 } });
    expect((await api.get('/subscriptions')).status).toBe(503);

    // 4. The database returns, with its data: health is ok, the API answers, ticks keep flowing.
    dynamo = await startLocalDynamoDb({ port: dynamoPort, path: dataDir, onError: () => {} });
    const recovered = await healthWhen((h) => h.status === 'ok', 'health ok after every dependency returned');
    expect(recovered.reasons).toBeUndefined();
    expect(recovered.dependencies).toMatchObject({ redis: 'ok', database: 'ok' });
    // dynalite came back with its data: the subscription made before the outage is still there.
    expect((await platform.components.subscriptions.get(token))?.status).toBe('active');
    expect((await api.get('/subscriptions')).status).toBe(200);
    since = Date.now();
    await waitFor(() => bus.sawTick(token, since), { timeoutMs: 15_000, message: 'ticks after full recovery' });
    await bus.close();
  });
});

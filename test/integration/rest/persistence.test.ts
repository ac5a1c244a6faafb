import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTables, localDynamoDbClient, startLocalDynamoDb } from '../../../infra/local/dynamodb-local.js';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { ApiErrorResponse, type SubscriptionMode } from '../../../shared/contracts/common.js';
import { HealthResponse } from '../../../shared/contracts/health.js';
import { type Subscription, SubscriptionListResponse } from '../../../shared/contracts/subscription.js';
import { freePort } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform, watchBus } from './rest-support.js';

const ACCOUNTS = ['primary', 'secondary', 'tertiary'] as const;
const MODES: readonly SubscriptionMode[] = ['FULL', 'QUOTE', 'LTP'];
const KITE = { KITE_ACCOUNTS: ACCOUNTS.map((id) => `${id}:k-${id}:t-${id}`).join(','), ENABLE_MOCK_DATA: 'true' };

async function everySubscription(api: ReturnType<typeof restClient>): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let cursor: string | null | undefined;
  do {
    const response = await api.get(`/subscriptions?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    const body = SubscriptionListResponse.parse(response.body);
    all.push(...body.subscriptions);
    cursor = body.next_cursor;
  } while (cursor);
  return all;
}

describe('REST subscription state across restarts and outages', () => {
  it('TC-REG-020, TC-SUB-010, TC-SUB-011: 50 subscriptions come back exactly after a restart, accounts unchanged, streaming resumes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rest-persistence-'));
    let platform: LocalPlatform | undefined;
    try {
      platform = await startPlatform('rest-persist', { LOCAL_DATA_DIR: dir, ...KITE });
      const api = restClient(platform);
      const instruments = await platform.components.loadInstruments();
      const expiries = [...new Set(instruments.map((i) => i.expiry).filter((e) => e !== null))].sort();
      const chosen = instruments.filter((i) => i.expiry !== null && i.expiry !== expiries[0]).slice(0, 50);
      expect(chosen).toHaveLength(50);
      for (const [n, instrument] of chosen.entries()) {
        const token = instrument.instrumentToken;
        const mode = MODES[n % 3] as SubscriptionMode;
        expect((await api.post('/subscriptions', { instrument_token: token, mode })).status).toBe(200);
        const changes = { account_id: ACCOUNTS[n % 3], ...(n % 5 === 0 && { status: 'inactive' }) };
        expect((await api.patch(`/subscriptions/${token}`, changes)).status).toBe(200);
      }
      const tokens = new Set(chosen.map((i) => i.instrumentToken));
      const before = (await everySubscription(api)).filter((s) => tokens.has(s.instrument_token));
      expect(before).toHaveLength(50);
      expect(new Set(before.map((s) => s.account_id))).toEqual(new Set(ACCOUNTS));
      await platform.close();
      platform = undefined;

      platform = await startPlatform('rest-persist', { LOCAL_DATA_DIR: dir, ...KITE });
      const bus = await watchBus(platform);
      const after = (await everySubscription(restClient(platform))).filter((s) => tokens.has(s.instrument_token));
      expect(after).toEqual(before);
      const streamed = before.find((s) => s.status === 'active');
      const since = Date.now();
      await waitFor(() => bus.sawTick(streamed?.instrument_token ?? 0, since), {
        timeoutMs: 30_000,
        message: 'streaming to resume',
      });
      await bus.close();
    } finally {
      await platform?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('TC-ERR-012: with the database gone the API answers 503 and /health is degraded; both recover when it is back', async () => {
    const port = await freePort();
    let dynamo = await startLocalDynamoDb({ port });
    const platform = await startPlatform('rest-outage', { DYNAMODB_ENDPOINT: dynamo.endpoint });
    try {
      const api = restClient(platform);
      expect((await api.get('/subscriptions')).status).toBe(200);

      await dynamo.stop();
      // The page read just before may be served from the list cache for up to its TTL (1 s); after
      // that the same call reads the store and is told it is unavailable.
      let listed = await api.get('/subscriptions');
      await waitFor(
        async () => {
          listed = await api.get('/subscriptions');
          return listed.status !== 200;
        },
        { timeoutMs: 5_000, message: 'the list to stop being served once its cached page expired' },
      );
      expect(listed.status).toBe(503);
      expect(ApiErrorResponse.parse(listed.body).error.code).toBe('DEPENDENCY_UNAVAILABLE');
      const created = await api.post('/subscriptions', { instrument_token: 256_265 });
      expect(created.status).toBe(503);
      const degraded = HealthResponse.parse((await api.get('/health')).body);
      expect(degraded.status).toBe('degraded');
      expect(degraded.dependencies.database).toMatch(/^unavailable/);
      expect(degraded.reasons?.some((r) => r.startsWith('database'))).toBe(true);
      // The instrument registry and the rest of the API still answer.
      expect((await api.get('/instruments/256265')).status).toBe(200);

      dynamo = await startLocalDynamoDb({ port });
      const client = localDynamoDbClient(dynamo.endpoint);
      await ensureTables(client, 'rest-outage');
      client.destroy();
      expect((await api.post('/subscriptions', { instrument_token: 256_265 })).status).toBe(200);
      expect((await api.get('/subscriptions')).status).toBe(200);
      await waitFor(async () => HealthResponse.parse((await api.get('/health')).body).dependencies.database === 'ok', {
        message: 'health to see the database again',
      });
    } finally {
      await platform.close();
      await dynamo.stop().catch(() => {});
    }
  });
});

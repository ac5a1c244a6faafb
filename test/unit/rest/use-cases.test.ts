import { describe, expect, it } from 'vitest';
import { THROTTLE_BURST } from '../../../functions/api/context.js';
import { healthUseCase } from '../../../functions/api/health.js';
import { historyUseCase } from '../../../functions/api/history.js';
import { createSubscriptionUseCase, listSubscriptionsUseCase } from '../../../functions/api/subscriptions.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { HealthResponse } from '../../../shared/contracts/health.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { MarketData } from '../../../shared/ports/market-data.js';
import { call, fakeComponents, routed } from './fake-components.js';

describe('REST use cases on memory adapters', () => {
  it('TC-ERR-040: /health names each Kite account that is refused or not fully connected, and only those', async () => {
    const { components } = fakeComponents();
    const healthWith = async (accounts: Record<string, unknown>) => {
      await components.state.putHeartbeat(
        'ingest',
        JSON.stringify({ running: true, active_subscriptions: 3, accounts }),
        15_000,
      );
      return HealthResponse.parse((await call(healthUseCase(components), { path: '/health' })).body);
    };
    const degraded = await healthWith({
      primary: { status: 'ok', connections: 2, tokens: 3, open: 1 },
      secondary: { status: 'auth-failed', connections: 0, tokens: 0, open: 0 },
      tertiary: { status: 'ok', connections: 1, tokens: 2, open: 1 },
    });
    expect(degraded.status).toBe('degraded');
    expect(degraded.reasons).toEqual([
      'kite account primary: 1 of 2 connections open',
      'kite account secondary auth-failed',
    ]);
    // Every connection open (or none needed), and the mock feed: nothing to report.
    const healthy = await healthWith({
      primary: { status: 'ok', connections: 2, tokens: 3, open: 2 },
      idle: { status: 'ok', connections: 0, tokens: 0, open: 0 },
      mock: { status: 'ok' },
    });
    expect(healthy.status).toBe('ok');
    expect(healthy.reasons).toBeUndefined();
  });

  it('TC-ERR-041: a registry that cannot load degrades /health with a reason while subscriptions keep answering', async () => {
    const { components } = fakeComponents({
      loadInstruments: async () => {
        throw new Error('instrument master download failed');
      },
    });
    await components.state.putHeartbeat(
      'ingest',
      JSON.stringify({ running: true, active_subscriptions: 0, accounts: {} }),
      15_000,
    );
    const health = await call(healthUseCase(components), { path: '/health' });
    expect(health.status).toBe(200);
    const body = HealthResponse.parse(health.body);
    expect(body.status).toBe('degraded');
    expect(body.reasons).toContain('instrument_registry unavailable');
    expect(body.dependencies.instrument_registry).toMatchObject({ status: 'unavailable', instruments: 0 });
    expect(body.dependencies.database).toBe('ok');
    // Core features that do not need the registry go on.
    expect((await call(routed(listSubscriptionsUseCase, components), { path: '/subscriptions' })).status).toBe(200);
    // New subscriptions need it: a clear 503, not a 500.
    const created = await call(routed(createSubscriptionUseCase, components), {
      method: 'POST',
      body: JSON.stringify({ instrument_token: 256265 }),
    });
    expect(created.status).toBe(503);
    expect(ApiErrorResponse.parse(created.body).error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });

  it('/health without the Kite secret (KITE_CREDENTIALS=withheld) never loads the instrument master, and is not degraded by it', async () => {
    let loads = 0;
    const { components } = fakeComponents({
      env: { KITE_CREDENTIALS: 'withheld' },
      loadInstruments: async () => {
        loads++;
        throw new Error('no Kite credentials here');
      },
    });
    await components.state.putHeartbeat(
      'ingest',
      JSON.stringify({ running: true, active_subscriptions: 0, accounts: {} }),
      15_000,
    );
    const body = HealthResponse.parse((await call(healthUseCase(components), { path: '/health' })).body);
    expect(loads).toBe(0);
    expect(body.status).toBe('ok');
    expect(body.dependencies.instrument_registry).toMatchObject({ status: 'not checked' });
  });

  it('TC-ERR-012: a store that is unreachable answers 503 DEPENDENCY_UNAVAILABLE, never 500', async () => {
    const { components } = fakeComponents();
    const failing = {
      ...components,
      subscriptions: {
        ...components.subscriptions,
        list: () => Promise.reject(new DependencyUnavailableError('dynamodb', 'DynamoDB is unavailable')),
      },
    };
    const listed = await call(routed(listSubscriptionsUseCase, failing), { path: '/subscriptions' });
    expect(listed.status).toBe(503);
    expect(ApiErrorResponse.parse(listed.body).error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });

  it('throttles each key with a token bucket: 429 with Retry-After once the burst is spent', async () => {
    const { components } = fakeComponents({ env: { API_KEYS: 'test-key,other-key' } });
    const list = routed(listSubscriptionsUseCase, components);
    for (let i = 0; i < THROTTLE_BURST; i++) {
      const { status } = await call(list, { path: '/subscriptions', query: { limit: '1' } });
      if (status !== 200) throw new Error(`request ${i} answered ${status}`);
    }
    const refused = await call(list, { path: '/subscriptions' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(ApiErrorResponse.parse(refused.body).error.code).toBe('RATE_LIMITED');
    // Another key has its own bucket.
    expect((await call(list, { path: '/subscriptions', headers: { 'x-api-key': 'other-key' } })).status).toBe(200);
  });

  it('TC-GRK-031: history with Greeks fetches the option and the underlying once each, however many candles', async () => {
    const { components } = fakeComponents();
    const calls: number[] = [];
    const counting: MarketData = {
      instruments: () => components.marketData.instruments(),
      lastPrices: (tokens) => components.marketData.lastPrices(tokens),
      historical: (query) => {
        calls.push(query.instrumentToken);
        return components.marketData.historical(query);
      },
    };
    const instruments = await components.loadInstruments();
    const option = instruments.find((i) => i.instrumentType === 'CE' && i.name === 'NIFTY' && i.strike === 24_000);
    const result = await call(routed(historyUseCase, { ...components, marketData: counting }), {
      path: '/history',
      query: {
        instrument_token: String(option?.instrumentToken),
        from: '2025-01-07',
        to: '2025-01-07',
        greeks: 'true',
      },
    });
    expect(result.status).toBe(200);
    expect(result.body.candles).toHaveLength(375);
    expect(calls.sort()).toEqual([256_265, option?.instrumentToken].sort());
  });
});

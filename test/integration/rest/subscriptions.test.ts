import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import {
  CreateSubscriptionResponse,
  DeleteSubscriptionResponse,
  SubscriptionListResponse,
  SubscriptionResponse,
} from '../../../shared/contracts/subscription.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { RECONCILE_NOW } from '../../../shared/ports/tick-bus.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform, watchBus } from './rest-support.js';

const ACCOUNTS = ['primary', 'secondary', 'tertiary'];

describe('REST subscriptions on the local platform', () => {
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  let bus: Awaited<ReturnType<typeof watchBus>>;
  let options: Instrument[];
  let next = 0;
  /** A registry option no other test has used (the platform seeds the nearest expiry, so skip it). */
  const freshOption = () => {
    const option = options[next++];
    if (option === undefined) throw new Error('out of options');
    return option;
  };

  beforeAll(async () => {
    platform = await startPlatform('rest-subscriptions', {
      // Three accounts for assignment; the feed stays the mock market.
      KITE_ACCOUNTS: ACCOUNTS.map((id) => `${id}:key-${id}:token-${id}`).join(','),
      ENABLE_MOCK_DATA: 'true',
    });
    api = restClient(platform);
    bus = await watchBus(platform);
    const instruments = await platform.components.loadInstruments();
    const expiries = [...new Set(instruments.map((i) => i.expiry).filter((e) => e !== null))].sort();
    options = instruments.filter((i) => i.instrumentType === 'CE' && i.expiry === expiries[1]);
  });

  afterAll(async () => {
    await bus?.close();
    await platform?.close();
  });

  it('TC-SUB-001: POST /subscriptions creates an active subscription on an account, announces it and starts streaming', async () => {
    const option = freshOption();
    const since = Date.now();
    const before = Date.now() - 1;
    const response = await api.post('/subscriptions', { instrument_token: option.instrumentToken });
    expect(response.status).toBe(200);
    expect(CreateSubscriptionResponse.parse(response.body)).toEqual({
      message: 'Subscription created',
      instrument_token: option.instrumentToken,
    });
    const stored = await platform.components.subscriptions.get(option.instrumentToken);
    expect(stored).toMatchObject({
      instrumentToken: option.instrumentToken,
      tradingsymbol: option.tradingsymbol,
      segment: option.segment,
      status: 'active',
      requestedMode: 'FULL',
    });
    expect(ACCOUNTS).toContain(stored?.accountId);
    expect(stored?.createdAt).toBeGreaterThanOrEqual(before);
    expect(stored?.updatedAt).toBe(stored?.createdAt);
    expect(bus.control).toContain(RECONCILE_NOW);
    await waitFor(() => bus.sawTick(option.instrumentToken, since), { message: 'a tick of the new subscription' });
  });

  it('TC-SUB-001: an instrument the registry does not list is a 404 with a clear message', async () => {
    const response = await api.post('/subscriptions', { instrument_token: 999_999_999 });
    expect(response.status).toBe(404);
    expect(ApiErrorResponse.parse(response.body).error.message).toBe(
      'Instrument 999999999 is not in the instrument registry',
    );
    expect(await platform.components.subscriptions.get(999_999_999)).toBeUndefined();
  });

  it('TC-SUB-002: a repeat POST updates the subscription instead of duplicating it', async () => {
    const option = freshOption();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken, mode: 'QUOTE' });
    const first = await platform.components.subscriptions.get(option.instrumentToken);
    // The repeat must come at a later millisecond for updatedAt to be able to advance.
    await waitFor(() => Date.now() > (first?.updatedAt ?? 0), { intervalMs: 1 });
    const again = await api.post('/subscriptions', { instrument_token: option.instrumentToken });
    expect(again.status).toBe(200);
    const second = await platform.components.subscriptions.get(option.instrumentToken);
    expect(second?.updatedAt).toBeGreaterThan(first?.updatedAt ?? Number.POSITIVE_INFINITY);
    expect(second).toMatchObject({
      status: 'active',
      createdAt: first?.createdAt,
      accountId: first?.accountId,
      // No mode in the repeat: the one asked for before stays.
      requestedMode: 'QUOTE',
    });
    const all = await platform.components.subscriptions.list({ limit: 1000 });
    expect(all.items.filter((s) => s.instrumentToken === option.instrumentToken)).toHaveLength(1);
  });

  it('TC-SUB-003: GET /subscriptions?status=active returns only active ones, every one exactly once across pages', async () => {
    const inactive = freshOption();
    await api.post('/subscriptions', { instrument_token: inactive.instrumentToken });
    await api.delete(`/subscriptions/${inactive.instrumentToken}`);
    const seen: number[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const query = `/subscriptions?status=active&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await api.get(query);
      expect(response.status).toBe(200);
      const body = SubscriptionListResponse.parse(response.body);
      expect(body.subscriptions.length).toBeLessThanOrEqual(7);
      for (const s of body.subscriptions) {
        expect(s.status).toBe('active');
        seen.push(s.instrument_token);
      }
      cursor = body.next_cursor;
      pages++;
    } while (cursor);
    const active = await platform.components.subscriptions.listActive();
    expect(seen.sort((a, b) => a - b)).toEqual(active.map((s) => s.instrumentToken).sort((a, b) => a - b));
    expect(seen).not.toContain(inactive.instrumentToken);
    expect(pages).toBeGreaterThan(1);
    const inactiveOnly = SubscriptionListResponse.parse((await api.get('/subscriptions?status=inactive')).body);
    expect(inactiveOnly.subscriptions.map((s) => s.instrument_token)).toContain(inactive.instrumentToken);
  });

  it('TC-SUB-003: a bad status, limit or cursor is a 400 naming the parameter', async () => {
    for (const [query, path] of [
      ['status=deleted', 'status'],
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ["status=active'%20OR%201=1--", 'status'],
    ] as const) {
      const response = await api.get(`/subscriptions?${query}`);
      expect(response.status, query).toBe(400);
      expect(ApiErrorResponse.parse(response.body).error.details?.map((d) => d.path)).toContain(path);
    }
    const page = SubscriptionListResponse.parse((await api.get('/subscriptions?status=active&limit=1')).body);
    const crossed = await api.get(`/subscriptions?status=inactive&cursor=${page.next_cursor}`);
    expect(crossed.status).toBe(400);
  });

  it('TC-SUB-004: DELETE deactivates softly, announces it and streaming stops', async () => {
    const option = freshOption();
    const since = Date.now();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken });
    await waitFor(() => bus.sawTick(option.instrumentToken, since), { message: 'streaming to start' });
    const response = await api.delete(`/subscriptions/${option.instrumentToken}`);
    const deleted = Date.now();
    expect(response.status).toBe(200);
    const body = DeleteSubscriptionResponse.parse(response.body);
    expect(body.subscription.status).toBe('inactive');
    const stored = await platform.components.subscriptions.get(option.instrumentToken);
    expect(stored?.status).toBe('inactive');
    expect(bus.control).toContain(RECONCILE_NOW);
    // Streaming stops with the reconcile that read the deactivation (its gap grows with load, to
    // 5 s at most): once it has ended and the feed's next ticks on the channel are in, the feed
    // produced none of this token after it.
    const ended = await bus.reconciledAndFlushed(option.instrumentToken, deleted);
    expect(bus.producedAfter(option.instrumentToken, ended)).toBe(false);
    expect((await api.delete('/subscriptions/999999999')).status).toBe(404);
  });

  // The move of the stream itself needs per-account sockets, which the mock feed lacks: account-move.test.ts.
  it('TC-SUB-005: PATCH stores the new account and rejects an unknown one', async () => {
    const option = freshOption();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken });
    const before = await platform.components.subscriptions.get(option.instrumentToken);
    const target = ACCOUNTS.find((a) => a !== before?.accountId) ?? 'secondary';
    const response = await api.patch(`/subscriptions/${option.instrumentToken}`, { account_id: target });
    expect(response.status).toBe(200);
    expect(SubscriptionResponse.parse(response.body).subscription.account_id).toBe(target);
    expect((await platform.components.subscriptions.get(option.instrumentToken))?.accountId).toBe(target);
    const unknown = await api.patch(`/subscriptions/${option.instrumentToken}`, { account_id: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(ApiErrorResponse.parse(unknown.body).error.details?.[0]?.path).toBe('account_id');
  });

  it('TC-SUB-020: activating an inactive subscription starts streaming within 10 s', async () => {
    const option = freshOption();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken, mode: 'LTP' });
    await waitFor(() => bus.sawTick(option.instrumentToken, 0), { message: 'streaming to start' });
    expect((await api.patch(`/subscriptions/${option.instrumentToken}`, { status: 'inactive' })).status).toBe(200);
    // Reactivate only once the deactivation has taken effect, so the ticks after it are the reactivation's.
    const stopped = await bus.reconciledAndFlushed(option.instrumentToken, Date.now());
    expect(bus.producedAfter(option.instrumentToken, stopped)).toBe(false);
    const since = Date.now();
    const response = await api.patch(`/subscriptions/${option.instrumentToken}`, { status: 'active' });
    expect(SubscriptionResponse.parse(response.body).subscription).toMatchObject({
      status: 'active',
      requested_mode: 'LTP',
    });
    await waitFor(() => bus.sawTick(option.instrumentToken, since), { timeoutMs: 10_000, message: 'streaming' });
  });

  it('TC-SUB-021: deactivate then reactivate: active → inactive → active, streaming stops and resumes, fields intact', async () => {
    const option = freshOption();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken, mode: 'QUOTE' });
    const original = await platform.components.subscriptions.get(option.instrumentToken);
    await waitFor(() => bus.sawTick(option.instrumentToken, 0), { message: 'streaming to start' });
    await api.delete(`/subscriptions/${option.instrumentToken}`);
    const stopped = await bus.reconciledAndFlushed(option.instrumentToken, Date.now());
    expect(bus.producedAfter(option.instrumentToken, stopped)).toBe(false);
    const since = Date.now();
    const response = await api.patch(`/subscriptions/${option.instrumentToken}`, { status: 'active' });
    expect(response.status).toBe(200);
    await waitFor(() => bus.sawTick(option.instrumentToken, since), { message: 'streaming to resume' });
    const after = await platform.components.subscriptions.get(option.instrumentToken);
    expect(after).toMatchObject({
      status: 'active',
      requestedMode: 'QUOTE',
      accountId: original?.accountId,
      tradingsymbol: original?.tradingsymbol,
      segment: original?.segment,
      createdAt: original?.createdAt,
    });
  });

  it('PATCH rejects bodies without a known field, unknown fields and unknown subscriptions', async () => {
    const option = freshOption();
    await api.post('/subscriptions', { instrument_token: option.instrumentToken });
    for (const body of [{}, { status: 'paused' }, { mode: 1 }, { colour: 'red' }]) {
      const response = await api.patch(`/subscriptions/${option.instrumentToken}`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      ApiErrorResponse.parse(response.body);
    }
    expect((await api.patch('/subscriptions/999999999', { status: 'active' })).status).toBe(404);
  });
});

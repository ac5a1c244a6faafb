import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { SubscriptionResponse } from '../../../shared/contracts/subscription.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { type KiteSimulator, startKiteSimulator } from '../../support/kite/simulator.js';
import { type FakeKiteRest, startKiteRestServer } from '../../support/kite-rest/kite-rest-server.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform, watchBus } from './rest-support.js';

/*
 * TC-SUB-005 end to end against Kite: the local platform streams from the Kite simulator with
 * three accounts (the simulator sees each account's sockets by api key) and reads the instrument
 * master from the fake Kite REST server. A PATCH of `account_id` must move the token from the old
 * account's socket to the new one's while its ticks keep coming.
 */

const ACCOUNTS = ['primary', 'secondary', 'tertiary'] as const;
const keyOf = (account: string) => `key-${account}`;
const TICK_MS = 100;
/**
 * The longest silence of a moving token's ticks the test accepts: thirty of the simulator's
 * intervals, since a busy machine can stall this process for a second; the order of the sockets'
 * subscribe and unsubscribe is what proves there is no hole.
 */
const MAX_GAP_MS = 30 * TICK_MS;

describe('TC-SUB-005 on Kite', () => {
  let sim: KiteSimulator;
  let kite: FakeKiteRest;
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  let bus: Awaited<ReturnType<typeof watchBus>>;

  beforeAll(async () => {
    const instruments = mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10), strikesEachSide: 10 });
    sim = await startKiteSimulator({
      accounts: ACCOUNTS.map((a) => ({ apiKey: keyOf(a), accessToken: `token-${a}` })),
      tickIntervalMs: TICK_MS,
      heartbeatIntervalMs: 200,
    });
    kite = await startKiteRestServer({
      accounts: Object.fromEntries(ACCOUNTS.map((a) => [keyOf(a), `token-${a}`])),
      instruments,
    });
    platform = await startPlatform('rest-account-move', {
      KITE_ACCOUNTS: ACCOUNTS.map((a) => `${a}:${keyOf(a)}:token-${a}`).join(','),
      KITE_API_URL: kite.root,
      KITE_TICKER_URL: sim.url,
      ENABLE_MOCK_DATA: 'false',
      FOLLOW_MARKET_HOURS: 'false',
    });
    api = restClient(platform);
    bus = await watchBus(platform);
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await platform?.close();
    await kite?.stop();
    await sim?.stop();
  });

  /** The api keys of the simulator connections that stream `token`. */
  const streamingKeys = (token: number) =>
    sim
      .connections()
      .filter((c) => c.tokens.includes(token))
      .map((c) => c.apiKey);

  /** The longest silence between consecutive ticks of `token` from `from` until `to` (epoch ms). */
  const longestGap = (token: number, from: number, to: number) => {
    const times = bus.ticks.filter((t) => t.token === token && t.at >= from && t.at <= to).map((t) => t.at);
    let gap =
      times.length === 0 ? Number.POSITIVE_INFINITY : Math.max((times[0] ?? from) - from, to - (times.at(-1) ?? 0));
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
    return gap;
  };

  it('TC-SUB-005: PATCH account_id moves the token to the new account’s socket and its ticks never stop', async () => {
    const instruments = await platform.components.loadInstruments();
    const expiries = [...new Set(instruments.map((i) => i.expiry).filter((e) => e !== null))].sort();
    const option = instruments.find((i) => i.instrumentType === 'PE' && i.expiry === expiries[1]);
    if (!option) throw new Error('no option in the instrument master');
    const token = option.instrumentToken;

    expect((await api.post('/subscriptions', { instrument_token: token })).status).toBe(200);
    const from = (await platform.components.subscriptions.get(token))?.accountId as string;
    expect(ACCOUNTS).toContain(from);
    await waitFor(() => streamingKeys(token).join() === keyOf(from), { message: 'the token on its first account' });
    const since = Date.now();
    await waitFor(() => bus.sawTick(token, since), { message: 'ticks from the first account' });

    const to = ACCOUNTS.find((a) => a !== from) as string;
    const patchedAt = Date.now();
    const response = await api.patch(`/subscriptions/${token}`, { account_id: to });
    expect(response.status).toBe(200);
    expect(SubscriptionResponse.parse(response.body).subscription.account_id).toBe(to);
    expect((await platform.components.subscriptions.get(token))?.accountId).toBe(to);

    // The old account's socket got the unsubscribe, the new one's the subscribe: only it streams the token.
    await waitFor(() => streamingKeys(token).join() === keyOf(to), {
      timeoutMs: 10_000,
      message: `the token to move from ${from} to ${to}`,
    });
    // Make before break: the new account's subscribe reached Kite before the old one's unsubscribe,
    // so at every moment some socket streams the token.
    const log = sim.subscriptionLog();
    const subscribedOnNew = log.findIndex(
      (e) => e.apiKey === keyOf(to) && e.action === 'subscribe' && e.tokens.includes(token),
    );
    const unsubscribedOnOld = log.findIndex(
      (e) => e.apiKey === keyOf(from) && e.action === 'unsubscribe' && e.tokens.includes(token),
    );
    expect(subscribedOnNew).toBeGreaterThanOrEqual(0);
    expect(unsubscribedOnOld).toBeGreaterThan(subscribedOnNew);
    const movedAt = Date.now();
    await waitFor(() => bus.ticks.filter((t) => t.token === token && t.at > movedAt).length >= 5, {
      message: 'ticks from the new account',
    });
    // And the client-visible stream never paused for long (wall time, so a generous bound).
    // Measured from the first tick seen: the token began streaming only just before the PATCH.
    const firstTickAt = bus.ticks.find((t) => t.token === token && t.at > since)?.at ?? patchedAt;
    expect(longestGap(token, Math.min(firstTickAt, patchedAt), Date.now())).toBeLessThan(MAX_GAP_MS);
    expect(platform.components.config.kite.accounts.map((a) => a.id)).toContain(to);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { KiteAuthError } from '../../ingest-task/kite/errors.js';
import { type KiteAccount, KitePool, type KitePoolOptions } from '../../ingest-task/kite/kite-pool.js';
import { ConnectionState, KiteTickerConnection } from '../../ingest-task/kite/ticker-connection.js';
import { KitePoolTarget } from '../../ingest-task/reconcile/stream-targets.js';
import type { MarketTick } from '../../shared/contracts/tick.js';
import { TimeoutError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';
import { type KiteSimulator, startKiteSimulator } from '../support/kite/simulator.js';
import { captureLogs } from '../support/log-capture.js';
import { waitFor } from '../support/wait.js';

/*
 * The pool and its connections against the Kite simulator over real sockets. Times are scaled
 * down from the plan's (watchdog 5 s → 400 ms, subscribe timeout 10 s → 300 ms, reconnect
 * backoff from 50 ms); the assertions keep the plan's numbers.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const KEYS = ['keyA', 'keyB', 'keyC'] as const;

/** NFO option tokens (segment byte 2), distinct per `base`. */
const tokens = (count: number, base = 0) => Array.from({ length: count }, (_, i) => (40_000 + base + i) * 256 + 2);

interface Harness {
  sim: KiteSimulator;
  pool: KitePool;
  ticks: Map<string, number>;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.pool.close();
    await h.sim.stop();
  }
});

async function harness(
  options: {
    accounts?: number;
    maxTokensPerConnection?: number;
    tokenFor?: (apiKey: string) => string;
    pool?: Partial<KitePoolOptions>;
    sim?: KiteSimulator;
  } = {},
): Promise<Harness> {
  const count = options.accounts ?? 1;
  const keys = KEYS.slice(0, count);
  const sim =
    options.sim ??
    (await startKiteSimulator({
      accounts: keys.map((apiKey) => ({ apiKey, accessToken: `token-${apiKey}` })),
      tickIntervalMs: 100,
      heartbeatIntervalMs: 100,
    }));
  const ticks = new Map<string, number>();
  const accounts: KiteAccount[] = keys.map((apiKey) => ({
    id: apiKey.replace('key', 'account-'),
    apiKey,
    accessToken: () => options.tokenFor?.(apiKey) ?? `token-${apiKey}`,
  }));
  const pool = new KitePool({
    url: sim.url,
    accounts,
    logger,
    maxTokensPerConnection: options.maxTokensPerConnection ?? 1000,
    subscribeTimeoutMs: 300,
    onTicks: (accountId: string, batch: MarketTick[]) =>
      ticks.set(accountId, (ticks.get(accountId) ?? 0) + batch.length),
    connection: { watchdogMs: 400, reconnectDelayMs: { initial: 50, max: 400 }, startTimeoutMs: 2000 },
    ...options.pool,
  });
  const h = { sim, pool, ticks };
  open.push(h);
  return h;
}

/** Token counts per simulator connection of `apiKey`, in connection order. */
function simLoads(sim: KiteSimulator, apiKey = 'keyA'): number[] {
  return sim
    .connections()
    .filter((c) => c.apiKey === apiKey)
    .map((c) => c.tokens.length);
}

/** Token counts per pool connection, in pool order. */
function poolLoads(pool: KitePool): number[] {
  return pool.metrics().perConnection.map((c) => c.tokens);
}

describe('KitePool: connection pooling', () => {
  it('TC-WSP-001: 500 tokens open exactly one connection that streams all of them', async () => {
    const { sim, pool } = await harness();
    const result = await pool.subscribe(tokens(500));
    expect(result.subscribed).toHaveLength(500);
    expect(result.failed).toEqual([]);
    await waitFor(() => simLoads(sim).join() === '500');
    const metrics = pool.metrics();
    expect(metrics.connections).toBe(1);
    expect(metrics.subscribedTokens).toBe(500);
    expect(metrics.perConnection).toEqual([{ accountId: 'account-A', state: ConnectionState.open, tokens: 500 }]);
  });

  it('TC-WSP-002: 1500 tokens over a 1000-token limit open two connections loaded [1000, 500]', async () => {
    const { sim, pool, ticks } = await harness();
    await pool.subscribe(tokens(1500));
    await waitFor(() => simLoads(sim).join() === '1000,500');
    const metrics = pool.metrics();
    expect(metrics.connections).toBe(2);
    expect(poolLoads(pool)).toEqual([1000, 500]);
    // Capacity here is 3 connections × 1000 per account (the plan's pool had 2500).
    expect(metrics.capacity).toBe(3000);
    expect(metrics.utilization).toBeCloseTo(0.5);
    const before = ticks.get('account-A') ?? 0;
    await waitFor(() => (ticks.get('account-A') ?? 0) >= before + 1500, { message: 'ticks from both connections' });
  });

  it('TC-WSP-003: freed room is refilled before any new connection: [1000, 300] after -600 +400', async () => {
    const { sim, pool } = await harness();
    const first = tokens(1500);
    await pool.subscribe(first);
    await pool.unsubscribe([...first.slice(0, 300), ...first.slice(1000, 1300)]);
    expect(poolLoads(pool)).toEqual([700, 200]);
    await pool.subscribe(tokens(400, 5000));
    expect(poolLoads(pool)).toEqual([1000, 300]);
    expect(pool.metrics().connections).toBe(2);
    expect(pool.metrics().subscribedTokens).toBe(1300);
    await waitFor(() => simLoads(sim).join() === '1000,300');
  });

  it('TC-WSP-004: a connection left without tokens is closed', async () => {
    const { sim, pool } = await harness();
    const all = tokens(2500);
    await pool.subscribe(all);
    expect(poolLoads(pool)).toEqual([1000, 1000, 500]);
    await pool.unsubscribe(all.slice(2000));
    expect(pool.metrics().connections).toBe(2);
    expect(poolLoads(pool)).toEqual([1000, 1000]);
    await waitFor(() => simLoads(sim).length === 2, { message: 'the simulator to see the socket closed' });
  });
});

describe('KitePool: subscribe and unsubscribe', () => {
  it('TC-WSP-010: subscribes three tokens within a second and counts them', async () => {
    const { sim, pool } = await harness();
    const three = tokens(3);
    const started = Date.now();
    const result = await pool.subscribe(three, 'quote');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toEqual({ subscribed: three, duplicates: [], failed: [] });
    expect(pool.metrics().counters.subscribes).toBe(3);
    await waitFor(() => sim.connections()[0]?.tokens.length === 3);
    expect([...(sim.connections()[0]?.modes.values() ?? [])]).toEqual(['quote', 'quote', 'quote']);
  });

  it('TC-WSP-011: a subscribe that cannot complete in time fails with TimeoutError and is rolled back', async () => {
    const { sim, pool } = await harness();
    await pool.subscribe(tokens(10));
    await sim.stop();
    const late = tokens(5, 100);
    const result = await pool.subscribe(late);
    expect(result.subscribed).toEqual([]);
    expect(result.failed.map((f) => f.token)).toEqual(late);
    expect(result.failed.every((f) => f.error instanceof TimeoutError)).toBe(true);
    expect(late.map((t) => pool.accountOf(t))).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(pool.metrics().subscribedTokens).toBe(10);
    expect(pool.metrics().counters.subscriptionErrors).toBe(1);
    await sim.restart();
    await waitFor(() => pool.metrics().perConnection[0]?.state === ConnectionState.open, { message: 'the reconnect' });
    const retry = await pool.subscribe(late);
    expect(retry.subscribed).toEqual(late);
    await waitFor(() => simLoads(sim).join() === '15', { message: 'resubscription after the restart' });
  });

  it('TC-WSP-012: unsubscribing 20 of 100 tokens leaves the other 80 streaming', async () => {
    const { sim, pool } = await harness();
    const hundred = tokens(100);
    await pool.subscribe(hundred);
    const result = await pool.unsubscribe(hundred.slice(0, 20));
    expect(result.unsubscribed).toEqual(hundred.slice(0, 20));
    expect(pool.metrics().counters.unsubscribes).toBe(20);
    expect(pool.metrics().subscribedTokens).toBe(80);
    await waitFor(() => simLoads(sim).join() === '80');
    expect(sim.connections()[0]?.tokens).toEqual(hundred.slice(20));
  });

  it('TC-WSP-013: a token already subscribed is skipped with a warning and nothing is sent', async () => {
    const { result, logs } = await captureLogs(async (log) => {
      const { sim, pool } = await harness({ pool: { logger: log } });
      await pool.subscribe([256265 * 256 + 2]);
      await waitFor(() => simLoads(sim).join() === '1');
      const messagesBefore = sim.counters().clientMessages;
      const metricsBefore = pool.metrics();
      const again = await pool.subscribe([256265 * 256 + 2]);
      return {
        again,
        messagesBefore,
        messagesAfter: sim.counters().clientMessages,
        metricsBefore,
        metricsAfter: pool.metrics(),
      };
    });
    expect(result.again).toEqual({ subscribed: [], duplicates: [256265 * 256 + 2], failed: [] });
    expect(result.messagesAfter).toBe(result.messagesBefore);
    expect(result.metricsAfter.subscribedTokens).toBe(result.metricsBefore.subscribedTokens);
    expect(result.metricsAfter.counters.subscribes).toBe(result.metricsBefore.counters.subscribes);
    expect(logs.some((l) => l.level === 'WARN' && l.message === `Token ${256265 * 256 + 2} already subscribed`)).toBe(
      true,
    );
  });
});

describe('KitePool: concurrency', () => {
  it('TC-WSP-020: a subscribe that opens a connection inside the pool lock completes without deadlock', async () => {
    const { pool } = await harness();
    const started = Date.now();
    await pool.subscribe(tokens(1));
    await pool.subscribe(tokens(1500, 10));
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await pool.unsubscribe(tokens(1))).unsubscribed).toHaveLength(1);
    expect(pool.metrics().subscribedTokens).toBe(1500);
  });

  // Callers of a shared pool do not know what the others hold: every token below is asked for by
  // two callers at once, so the duplicate check and the placement must not interleave across the
  // awaits of a subscribe (the pool's mutex). Without it a token is placed twice and counted twice.
  it('TC-WSP-021: five concurrent callers of 100 tokens each (each also re-asking a neighbour’s) end with exactly 500 subscribed', async () => {
    const { sim, pool } = await harness();
    const own = (i: number) => tokens(100, i * 100);
    const started = Date.now();
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => pool.subscribe([...own(i), ...own((i + 1) % 5)])));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(results.flatMap((r) => r.subscribed).sort()).toEqual(tokens(500).sort());
    expect(results.flatMap((r) => r.duplicates).sort()).toEqual(tokens(500).sort());
    expect(results.flatMap((r) => r.failed)).toEqual([]);
    const metrics = pool.metrics();
    expect(metrics.subscribedTokens).toBe(500);
    expect(metrics.counters.subscribes).toBe(500);
    expect(metrics.counters.duplicates).toBe(500);
    await waitFor(() => simLoads(sim).join() === '500');
    expect(new Set(sim.connections()[0]?.tokens).size).toBe(500);
  });

  // Five callers in ten overlapping rounds each: subscribes, re-subscribes and unsubscribes of
  // the same tokens in flight together, while the calls open connections (100 tokens each).
  it('TC-REG-041: 500 tokens from 5 concurrent callers complete within 10 s with no deadlock, in the order they were asked', async () => {
    const { sim, pool } = await harness({ maxTokensPerConnection: 200 });
    const mine = (i: number) => tokens(100, 7000 + i * 100);
    const caller = async (i: number) => {
      for (let round = 0; round < 10; round++) {
        const batch = mine(i).slice(round * 10, round * 10 + 10);
        const next = mine((i + 1) % 5).slice(round * 10, round * 10 + 10);
        // Not awaited one by one: a caller's calls overlap its own and the others'.
        await Promise.all([pool.subscribe(batch), pool.subscribe(next), pool.unsubscribe(next), pool.subscribe(next)]);
      }
    };
    const started = Date.now();
    await Promise.all([0, 1, 2, 3, 4].map(caller));
    expect(Date.now() - started).toBeLessThan(10_000);
    const all = tokens(500, 7000);
    expect([...pool.subscriptions().keys()].sort()).toEqual(all.sort());
    const metrics = pool.metrics();
    expect(metrics.subscribedTokens).toBe(500);
    expect(metrics.counters.subscribes - metrics.counters.unsubscribes).toBe(500);
    expect(poolLoads(pool).every((n) => n <= 200)).toBe(true);
    await waitFor(() => simLoads(sim).reduce((a, b) => a + b, 0) === 500, { message: 'the simulator to agree' });
    expect(new Set(sim.connections().flatMap((c) => c.tokens)).size).toBe(500);
  });

  // The 500 are still being subscribed when the +100, −50 and +75 arrive: the pool applies the
  // calls in the order they were made, so the −50 finds its tokens and the result is exact.
  it('TC-WSP-040: concurrent +100, −50, +75 on 500 tokens ends at exactly 625', async () => {
    const { sim, pool } = await harness();
    const base = tokens(500);
    const results = await Promise.all([
      pool.subscribe(base),
      pool.subscribe(tokens(100, 1000)),
      pool.unsubscribe(base.slice(0, 50)),
      pool.subscribe(tokens(75, 2000)),
    ]);
    expect(results[2]).toEqual({ unsubscribed: base.slice(0, 50) });
    const expected = [...base.slice(50), ...tokens(100, 1000), ...tokens(75, 2000)].sort();
    expect(pool.metrics().subscribedTokens).toBe(625);
    expect([...pool.subscriptions().keys()].sort()).toEqual(expected);
    await waitFor(() => simLoads(sim).reduce((a, b) => a + b, 0) === 625, { message: 'the simulator to agree' });
    expect(
      sim
        .connections()
        .flatMap((c) => c.tokens)
        .sort(),
    ).toEqual(expected);
  });

  it('TC-WSP-041: metrics match the real state after every 100 of 1000 random operations', async () => {
    const { sim, pool } = await harness();
    const universe = tokens(2500);
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let lastSubscribes = 0;
    for (let round = 0; round < 10; round++) {
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        const pick = universe.slice(Math.floor(random() * 2400)).slice(0, 1 + Math.floor(random() * 50));
        ops.push(random() < 0.6 ? pool.subscribe(pick) : pool.unsubscribe(pick));
      }
      await Promise.all(ops);
      const metrics = pool.metrics();
      const actual = pool.subscriptions().size;
      expect(metrics.subscribedTokens).toBe(actual);
      expect(metrics.perConnection.reduce((sum, c) => sum + c.tokens, 0)).toBe(actual);
      expect(metrics.perConnection.every((c) => c.tokens > 0 && c.tokens <= 1000)).toBe(true);
      expect(metrics.counters.subscribes).toBeGreaterThanOrEqual(lastSubscribes);
      lastSubscribes = metrics.counters.subscribes;
      expect(metrics.counters.subscribes - metrics.counters.unsubscribes).toBe(actual);
    }
    const expected = pool.subscriptions().size;
    await waitFor(() => simLoads(sim).reduce((a, b) => a + b, 0) === expected, { message: 'the simulator to agree' });
  });
});

describe('KitePool: health and recovery', () => {
  it('TC-WSP-030: a stalled connection is detected and reconnected with all its tokens and modes, others untouched', async () => {
    const { sim, pool, ticks } = await harness();
    await pool.subscribe(tokens(1000), 'full');
    await pool.subscribe(tokens(200, 5000), 'ltp');
    await waitFor(() => simLoads(sim).join() === '1000,200');
    const [stalled, healthy] = sim.connections();
    sim.stall(stalled?.id);
    const started = Date.now();
    await waitFor(
      () => {
        const replacement = sim.connections().find((c) => c.id !== stalled?.id && c.id !== healthy?.id);
        return replacement?.tokens.length === 1000 && [...replacement.modes.values()].every((m) => m === 'full');
      },
      { timeoutMs: 10_000, message: 'resubscription on the new connection' },
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sim.connections().find((c) => c.id === healthy?.id)?.tokens.length).toBe(200);
    expect(sim.connections().some((c) => c.id === stalled?.id)).toBe(false);
    expect(pool.metrics().counters.reconnects).toBe(1);
    const before = ticks.get('account-A') ?? 0;
    await waitFor(() => (ticks.get('account-A') ?? 0) > before + 1000, { message: 'ticks after the reconnect' });
  });

  it('TC-WSP-031: a dropped connection reconnects and restores its subscriptions', async () => {
    const { sim, pool, ticks } = await harness();
    await pool.subscribe(tokens(300));
    await waitFor(() => simLoads(sim).join() === '300');
    const started = Date.now();
    sim.drop();
    await waitFor(() => sim.connections().length === 1 && simLoads(sim).join() === '300', {
      message: 'reconnection with all tokens',
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const before = ticks.get('account-A') ?? 0;
    await waitFor(() => (ticks.get('account-A') ?? 0) > before + 300);
  });

  it('TC-MATL-041: after a disconnect the subscriptions are re-established well within 30 s and ticks resume', async () => {
    const { sim, pool, ticks } = await harness({ accounts: 2 });
    await pool.subscribe(tokens(600));
    await waitFor(() => sim.connections().length === 2);
    const started = Date.now();
    sim.drop();
    await waitFor(() => pool.metrics().counters.reconnects === 2, { message: 'both accounts to reconnect' });
    expect(Date.now() - started).toBeLessThan(30_000);
    await waitFor(() => sim.connections().reduce((sum, c) => sum + c.tokens.length, 0) === 600);
    const before = [...ticks.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => [...ticks.values()].reduce((a, b) => a + b, 0) > before + 600);
  });

  it('recovers when the simulator is killed and started again, without the process exiting', async () => {
    const { sim, pool, ticks } = await harness();
    await pool.subscribe(tokens(50));
    await sim.stop();
    // Restarted only once the pool has seen Kite go and is trying again.
    await waitFor(() => pool.metrics().perConnection.every((c) => c.state === 'reconnecting'), {
      message: 'the pool to notice the simulator gone',
    });
    await sim.restart();
    await waitFor(() => simLoads(sim).join() === '50', { timeoutMs: 5000, message: 'resubscription after restart' });
    const before = ticks.get('account-A') ?? 0;
    await waitFor(() => (ticks.get('account-A') ?? 0) > before + 50);
  });

  it('asks for a fresh access token when Kite refuses the old one at reconnect', async () => {
    let current = 'token-keyA';
    const { sim, pool } = await harness({ tokenFor: () => current });
    await pool.subscribe(tokens(20));
    sim.setAccessToken('keyA', 'rotated');
    sim.drop();
    await waitFor(() => sim.counters().rejected.forbidden >= 1, { message: 'the expired token to be refused' });
    current = 'rotated';
    await waitFor(() => simLoads(sim).join() === '20', { timeoutMs: 5000, message: 'reconnect with the new token' });
  });
});

describe('KitePool: accounts', () => {
  it('TC-MATL-031: 1500 subscriptions spread evenly over 3 accounts, none above 1000, all streaming', async () => {
    const { sim, pool, ticks } = await harness({ accounts: 3 });
    await pool.subscribe(tokens(1500));
    const perAccount = Object.values(pool.metrics().accounts).map((a) => a.tokens);
    expect(perAccount).toHaveLength(3);
    for (const count of perAccount) {
      expect(count).toBeLessThanOrEqual(1000);
      expect(Math.abs(count - 500)).toBeLessThan(75);
    }
    expect(Object.values(pool.metrics().accounts).every((a) => a.status === 'ok')).toBe(true);
    await waitFor(() => ['account-A', 'account-B', 'account-C'].every((id) => (ticks.get(id) ?? 0) > 0));
    expect(sim.counters().rejected.tooManyConnections).toBe(0);
  });

  it('TC-REG-021, TC-SUB-011: token → account assignment is the same across three restarts', async () => {
    const wanted = tokens(300);
    const runs: string[][] = [];
    const sim = await startKiteSimulator({
      accounts: KEYS.map((apiKey) => ({ apiKey, accessToken: `token-${apiKey}` })),
      tickIntervalMs: 1000,
    });
    try {
      for (let restart = 0; restart < 3; restart++) {
        const h = await harness({ accounts: 3, sim });
        open.splice(open.indexOf(h), 1);
        const order = restart % 2 === 0 ? wanted : [...wanted].reverse();
        await h.pool.subscribe(order);
        runs.push(wanted.map((t) => h.pool.accountOf(t) ?? 'none'));
        await h.pool.close();
      }
    } finally {
      await sim.stop();
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    expect(new Set(runs[0]).size).toBe(3);
  });

  it('TC-MATL-040: a rate-limited account fails over to another with capacity, and is used again after its cooldown', async () => {
    const cooldownMs = 1500;
    const { sim, pool, ticks } = await harness({ accounts: 2, pool: { rateLimitCooldownMs: cooldownMs } });
    const target = new KitePoolTarget(pool);
    // Three outside connections use up account A's key: Kite answers the pool's upgrade with 429.
    const outside = await Promise.all(
      [0, 1, 2].map(
        () =>
          new KiteTickerConnection({
            url: sim.url,
            accountId: 'outside',
            apiKey: 'keyA',
            accessToken: () => 'token-keyA',
            logger,
            onTicks: () => {},
          }),
      ),
    );
    await Promise.all(outside.map((c) => c.start()));
    // The subscriptions name account A, as the store would for tokens assigned to it.
    const wanted = tokens(200);
    const desired = new Map(wanted.map((t) => [t, { mode: 'full' as const, accountId: 'account-A' }]));
    let failedOverAt = 0;
    try {
      const started = Date.now();
      const result = await target.apply(desired);
      failedOverAt = Date.now();
      expect(failedOverAt - started).toBeLessThan(5000);
      expect(result).toMatchObject({ added: 200, failed: 0 });
      expect(new Set(wanted.map((t) => pool.accountOf(t)))).toEqual(new Set(['account-B']));
      expect(pool.metrics().accounts['account-A']?.status).toBe('rate-limited');
      expect(sim.counters().rejected.tooManyConnections).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all(outside.map((c) => c.close()));
    }
    // No data lost on the way: every token streams from B.
    await waitFor(() => simLoads(sim, 'keyB').join() === '200');
    const fromB = ticks.get('account-B') ?? 0;
    await waitFor(() => (ticks.get('account-B') ?? 0) >= fromB + 200, { message: 'ticks on account B' });
    // Within the cooldown the account is left alone even though Kite would take it now.
    const early = await target.apply(desired);
    if (Date.now() - failedOverAt < cooldownMs) {
      expect(early.moved ?? 0).toBe(0);
      expect(pool.metrics().accounts['account-A']?.status).toBe('rate-limited');
    }
    // After it, the next reconcile tries A again and the tokens go back to their account.
    await waitFor(() => pool.metrics().accounts['account-A']?.status === 'ok', {
      timeoutMs: cooldownMs + 2000,
      message: 'account A to come out of its cooldown',
    });
    expect(await target.apply(desired)).toMatchObject({ moved: 200, failed: 0 });
    expect(new Set(wanted.map((t) => pool.accountOf(t)))).toEqual(new Set(['account-A']));
    await waitFor(() => simLoads(sim, 'keyA').join() === '200' && simLoads(sim, 'keyB').length === 0, {
      message: 'the simulator to stream the tokens from A only',
    });
    const fromA = ticks.get('account-A') ?? 0;
    await waitFor(() => (ticks.get('account-A') ?? 0) >= fromA + 200, { message: 'ticks on account A' });
  });

  it('TC-ERR-022: invalid credentials for one account skip it with a clear error and keep the others', async () => {
    const { result, logs } = await captureLogs(async (log) => {
      const { pool } = await harness({
        accounts: 2,
        tokenFor: (apiKey) => (apiKey === 'keyA' ? 'wrong' : `token-${apiKey}`),
        pool: { logger: log },
      });
      const outcome = await pool.subscribe(tokens(100));
      return { outcome, metrics: pool.metrics() };
    });
    expect(result.outcome.subscribed).toHaveLength(100);
    expect(result.metrics.accounts['account-A']).toMatchObject({ status: 'auth-failed' });
    expect(result.metrics.accounts['account-A']?.lastError).toContain('Invalid API credentials');
    expect(result.metrics.accounts['account-B']?.tokens).toBe(100);
    expect(
      logs.some(
        (l) => l.level === 'ERROR' && String(l.message).includes('Invalid API credentials for Kite account account-A'),
      ),
    ).toBe(true);
  });

  it('rejects a connection start with KiteAuthError when the token stays refused after a refresh', async () => {
    const sim = await startKiteSimulator({ accounts: [{ apiKey: 'keyA', accessToken: 'good' }] });
    const refreshes: boolean[] = [];
    const connection = new KiteTickerConnection({
      url: sim.url,
      accountId: 'A',
      apiKey: 'keyA',
      accessToken: ({ refresh }) => {
        refreshes.push(refresh);
        return 'bad';
      },
      logger,
      onTicks: () => {},
    });
    try {
      await expect(connection.start()).rejects.toBeInstanceOf(KiteAuthError);
      expect(refreshes).toEqual([false, true]);
      expect(connection.state).toBe(ConnectionState.closed);
    } finally {
      await connection.close();
      await sim.stop();
    }
  });
});

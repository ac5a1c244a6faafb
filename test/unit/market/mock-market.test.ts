import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MockFeed } from '../../../ingest-task/feeds/mock-feed.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MarketTick, TickPayload } from '../../../shared/contracts/tick.js';
import { greeks, impliedVolatility, price, timeToExpiryYears } from '../../../shared/domain/greeks/index.js';
import { TICK_DECIMALS } from '../../../shared/domain/market/decimal-places.js';
import { MOCK_UNDERLYINGS } from '../../../shared/domain/market/mock-instruments.js';
import type { MarketSnapshot } from '../../../shared/domain/market/mock-market.js';
import { MockPricePath } from '../../../shared/domain/market/mock-price-path.js';
import { buildOptionSnapshot } from '../../../shared/domain/market/option-snapshot.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import {
  allFinite,
  byToken,
  MARKET_OPEN_MS,
  MOCK_CONFIG,
  market,
  onTick,
  PRICING,
  registry,
} from './market-fixtures.js';

/** Checks that every option state of `snapshot` was computed from that same snapshot's index level. */
function assertConsistent(snapshot: MarketSnapshot): void {
  expect(Object.isFrozen(snapshot)).toBe(true);
  for (const option of snapshot.options.values()) {
    expect(Object.isFrozen(option)).toBe(true);
    expect(option.underlyingPrice).toBe(snapshot.underlyings.get(option.underlying)?.price);
  }
}

/**
 * The option's value on its underlying's smile (σ = atm + skew·m + curvature·m², m = ln(K/F)),
 * written out here rather than taken from the mock, to the nearest tick and at least one tick.
 */
function smilePrice(option: Instrument, spot: number, atMs: number): number {
  const spec = option.name === 'NIFTY' ? MOCK_UNDERLYINGS.NIFTY : MOCK_UNDERLYINGS.BANKNIFTY;
  const time = timeToExpiryYears(option.expiry ?? '', atMs);
  const m = Math.log(option.strike / (spot * Math.exp(PRICING.rate * time)));
  const volatility = spec.volatility + spec.smile.skew * m + spec.smile.curvature * m * m;
  const value = price({
    kind: option.instrumentType as 'CE' | 'PE',
    model: 'black-scholes',
    underlying: spot,
    strike: option.strike,
    timeToExpiryYears: time,
    volatility,
    rate: PRICING.rate,
  });
  return Math.max(0.05, Math.round(value * 20) / 20);
}

/** `actual` is `exact` rounded to `decimals` places (within half a unit of the last place, and a little for the clock's arithmetic). */
function expectRounded(actual: number, exact: number, decimals: number): void {
  expect(Math.abs(actual - exact)).toBeLessThanOrEqual(0.5 * 10 ** -decimals + 1e-9);
}

describe('MockMarket', () => {
  it('TC-MATL-020: initialises the mock state once, with realistic base values for every option, when its loop starts', async () => {
    const instruments = registry();
    const options = instruments.filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE');
    const mock = market(instruments);
    const clock = new ManualClock(MARKET_OPEN_MS);
    const received: MarketTick[][] = [];
    const feed = new MockFeed({ market: mock, clock, intervalMs: 1000, onTicks: (ticks) => received.push([...ticks]) });
    expect(mock.snapshot()).toBeUndefined();

    const stop = new AbortController();
    const running = feed.run(stop.signal);
    // Initialisation is part of starting the loop, not of its first interval: the state and the
    // first ticks exist before the clock moves at all.
    expect(mock.initialisations).toBe(1);
    expect(received).toHaveLength(1);
    clock.advance(5000);
    stop.abort();
    await running;

    expect(mock.initialisations).toBe(1);
    expect(received.length).toBeGreaterThan(1);
    expect(received[0]?.[0]?.exchangeTimestampMs).toBe(MARKET_OPEN_MS);
    const initial = received[0] ?? [];
    expect(initial).toHaveLength(instruments.length);
    const snapshot = mock.snapshot() as MarketSnapshot;
    expect(snapshot.options.size).toBe(options.length);
    for (const option of options) expect(snapshot.options.has(option.instrumentToken)).toBe(true);

    const prices = new Map(initial.map((t) => [t.instrumentToken, t.lastPrice]));
    // Base prices: the seeded path's level at the start, within 10 % of the configured spot.
    const path = new MockPricePath({ seed: MOCK_CONFIG.seed, ...PRICING });
    const spots = new Map<string, number>();
    for (const spec of [MOCK_UNDERLYINGS.NIFTY, MOCK_UNDERLYINGS.BANKNIFTY]) {
      const level = prices.get(spec.indexToken) ?? Number.NaN;
      expect(level).toBe(path.indexLevel(spec, MARKET_OPEN_MS));
      expect(Math.abs(level / spec.spot - 1)).toBeLessThan(0.1);
      spots.set(spec.name, level);
    }
    for (const option of options) {
      const value = prices.get(option.instrumentToken) ?? Number.NaN;
      const spot = spots.get(option.name) ?? Number.NaN;
      // No-arbitrage floor of a European option: the discounted forward's intrinsic value.
      const discountedStrike =
        option.strike * Math.exp(-PRICING.rate * timeToExpiryYears(option.expiry ?? '', MARKET_OPEN_MS));
      const floor = Math.max(0, option.instrumentType === 'CE' ? spot - discountedStrike : discountedStrike - spot);
      expect(value).toBeGreaterThanOrEqual(Math.max(0.05, floor - 0.05));
      expect(value).toBeLessThan(option.instrumentType === 'CE' ? spot : option.strike);
      expect(onTick(value)).toBe(true);
    }
  });

  it('TC-MATL-021: generates 100 consecutive option ticks within the configured bounds, with correct Greeks', () => {
    // The configured bound caps each index step; every option is priced by the model from its index's
    // tick (on the smile, to the tick), so its variation is what the bounded index move implies.
    const instruments = registry();
    const mock = market(instruments);
    const bps = MOCK_CONFIG.priceVariationBps;
    const variation = MOCK_CONFIG.volumeVariation;
    const ticks: MarketTick[] = [];
    const spots: number[] = [];
    for (let i = 0; i < 100; i++) {
      const snapshot = mock.advanceTo(MARKET_OPEN_MS + i * 1000);
      ticks.push(...mock.ticks(snapshot));
      spots.push(snapshot.underlyings.get('NIFTY')?.price ?? Number.NaN);
    }
    const series = byToken(ticks);
    const problems: string[] = [];
    let moves = 0;
    const instrumentOf = new Map(instruments.map((i) => [i.instrumentToken, i]));
    const indexSeries = new Map<string, MarketTick[]>(
      [MOCK_UNDERLYINGS.NIFTY, MOCK_UNDERLYINGS.BANKNIFTY].map((u) => [u.name, series.get(u.indexToken) ?? []]),
    );
    for (const [token, list] of series) {
      const instrument = instrumentOf.get(token) as Instrument;
      if (list.length !== 100) problems.push(`${token}: ${list.length} ticks`);
      const base = mock.snapshot()?.options.get(token)?.baseQuantity;
      for (let i = 0; i < list.length; i++) {
        const tick = list[i] as MarketTick;
        const at = `${token}#${i}`;
        if (!allFinite(tick)) problems.push(`${at}: non-finite number`);
        if (!(tick.lastPrice > 0) || !onTick(tick.lastPrice)) problems.push(`${at}: price ${tick.lastPrice}`);
        if (i === 0) continue;
        const previous = list[i - 1] as MarketTick;
        if (!((tick.exchangeTimestampMs ?? 0) > (previous.exchangeTimestampMs ?? Number.POSITIVE_INFINITY))) {
          problems.push(`${at}: timestamp not increasing`);
        }
        if (instrument.instrumentType === 'INDEX') {
          if (Math.abs(tick.lastPrice - previous.lastPrice) > (previous.lastPrice * bps) / 10_000 + 1e-9) {
            problems.push(`${at}: ${previous.lastPrice} -> ${tick.lastPrice} exceeds ${bps} bps`);
          }
        } else {
          const spot = indexSeries.get(instrument.name)?.[i]?.lastPrice ?? Number.NaN;
          const expected = smilePrice(instrument, spot, tick.exchangeTimestampMs ?? Number.NaN);
          if (Math.abs(tick.lastPrice - expected) > 0.05 + 1e-9) {
            problems.push(`${at}: ${tick.lastPrice} is not the model's ${expected} at index ${spot}`);
          }
        }
        if (tick.lastPrice !== previous.lastPrice) moves++;
        const traded = (tick.volumeTraded ?? 0) - (previous.volumeTraded ?? 0);
        if (traded !== tick.lastTradedQuantity) problems.push(`${at}: volume delta ${traded}`);
        if (base !== undefined && (traded < base * (1 - variation) - 1e-9 || traded > base * (1 + variation) + 1e-9)) {
          problems.push(`${at}: traded ${traded} outside ${base} ± ${variation * 100} %`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(ticks.slice(0, 400).every((t) => MarketTick.safeParse(t).success)).toBe(true);
    expect(moves).toBeGreaterThan(1000);

    // Greeks of the 100 ticks of the at-the-money NIFTY call and put of the nearest expiry.
    const atm = instruments.filter((i) => i.name === 'NIFTY' && i.strike === 24000 && i.expiry === '2025-01-14');
    expect(atm).toHaveLength(2);
    for (const instrument of atm) {
      const list = series.get(instrument.instrumentToken) ?? [];
      for (const [i, tick] of list.entries()) {
        const snapshot = buildOptionSnapshot({
          tick,
          instrument,
          underlyingPrice: spots[i] ?? Number.NaN,
          nowMs: tick.exchangeTimestampMs ?? Number.NaN,
          pricing: PRICING,
          isMock: true,
          fallbackVolatility: 0.15,
        });
        expect(snapshot.iv_status).toBe('ok');
        const market = {
          kind: instrument.instrumentType as 'CE' | 'PE',
          model: PRICING.model,
          underlying: spots[i] ?? Number.NaN,
          strike: instrument.strike,
          timeToExpiryYears: (Date.UTC(2025, 0, 14, 10) - (tick.exchangeTimestampMs ?? 0)) / (365 * 86_400_000),
          rate: PRICING.rate,
        };
        // The snapshot carries the volatility its price implies, and the Greeks at it, to TICK_DECIMALS places.
        const volatility = impliedVolatility({ ...market, price: tick.lastPrice }).volatility;
        expect(volatility).toBeGreaterThan(0.05);
        expect(volatility).toBeLessThan(0.5);
        expect(price({ ...market, volatility })).toBeCloseTo(tick.lastPrice, 6);
        expectRounded(snapshot.iv ?? Number.NaN, volatility, TICK_DECIMALS.iv);
        const expected = greeks({ ...market, volatility });
        for (const field of ['delta', 'gamma', 'theta', 'vega'] as const) {
          expectRounded(snapshot[field], expected[field], TICK_DECIMALS[field]);
        }
        if (instrument.instrumentType === 'CE') {
          expect(snapshot.delta).toBeGreaterThan(0);
          expect(snapshot.delta).toBeLessThan(1);
        } else {
          expect(snapshot.delta).toBeGreaterThan(-1);
          expect(snapshot.delta).toBeLessThan(0);
        }
        expect(snapshot.gamma).toBeGreaterThan(0);
        expect(snapshot.vega).toBeGreaterThan(0);
        expect(snapshot.theta).toBeLessThan(0);
      }
    }
  });

  it('TC-MATL-023: five account tasks starting together initialise the state once and see one snapshot', async () => {
    const instruments = registry();
    const mock = market(instruments);
    const clock = new ManualClock(MARKET_OPEN_MS);
    const tokens = instruments.map((i) => i.instrumentToken);
    const firstBatches: MarketTick[][] = [];
    const stop = new AbortController();

    // Each task first asks for the state, as the earlier service's tasks did, then starts its feed.
    const snapshots = await Promise.all(
      Array.from({ length: 5 }, async (_, account) => {
        await Promise.resolve();
        return mock.ensureInitialised(clock.now() + account);
      }),
    );
    const runs = Array.from({ length: 5 }, (_, account) => {
      const subset = new Set([256265, ...tokens.filter((_, k) => k % 5 === account)]);
      const feed = new MockFeed({
        name: `account-${account}`,
        market: mock,
        clock,
        intervalMs: 1000,
        tokens: () => subset,
        onTicks: (ticks) => {
          if (firstBatches.length < 5) firstBatches.push([...ticks]);
        },
      });
      return feed.run(stop.signal);
    });
    clock.advance(10_000);
    stop.abort();
    await expect(Promise.all(runs)).resolves.toHaveLength(5);

    expect(mock.initialisations).toBe(1);
    for (const snapshot of snapshots) expect(snapshot).toBe(snapshots[0]);
    assertConsistent(snapshots[0] as MarketSnapshot);
    // Every account's first batch carries the same index tick (same time, same level).
    const indexTicks = firstBatches.map((batch) => batch.find((t) => t.instrumentToken === 256265));
    expect(indexTicks).toHaveLength(5);
    for (const tick of indexTicks) expect(tick).toEqual(indexTicks[0]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('TC-MATL-051: readers racing the seed task always see a whole, unchanging snapshot or none', async () => {
    const mock = market(registry());
    const observed: (MarketSnapshot | undefined)[] = [];
    let writerDone = false;
    const readers = Array.from({ length: 5 }, async () => {
      let reads = 0;
      while (!writerDone || reads < 50) {
        observed.push(mock.snapshot());
        reads++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
    const writer = (async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (let step = 0; step < 200; step++) {
        mock.advanceTo(MARKET_OPEN_MS + step * 250);
        if (step % 10 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      writerDone = true;
    })();
    await expect(Promise.all([writer, ...readers])).resolves.toBeDefined();

    expect(observed.some((s) => s === undefined)).toBe(true);
    const seen = observed.filter((s): s is MarketSnapshot => s !== undefined);
    expect(new Set(seen.map((s) => s.version)).size).toBeGreaterThan(5);
    const distinct = [...new Set(seen)];
    for (const snapshot of distinct) assertConsistent(snapshot);

    // A snapshot a reader holds does not change while the market moves on.
    const held = mock.snapshot() as MarketSnapshot;
    const before = JSON.stringify([held.version, held.atMs, [...held.underlyings], [...held.options]]);
    for (let step = 1; step <= 20; step++) mock.advanceTo(held.atMs + step * 1000);
    expect(JSON.stringify([held.version, held.atMs, [...held.underlyings], [...held.options]])).toBe(before);
    expect(mock.snapshot()?.version).toBe(held.version + 20);
  });

  it('reproduces the same ticks from the same seed and different ones from another seed', () => {
    const instruments = registry(MARKET_OPEN_MS, 2);
    const run = (seed: number) => {
      const mock = market(instruments, { seed });
      const out: MarketTick[] = [];
      for (let i = 0; i < 20; i++) out.push(...mock.ticks(mock.advanceTo(MARKET_OPEN_MS + i * 1000)));
      return out;
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('does not advance when time does not move forward, so timestamps strictly increase', () => {
    const mock = market(registry(MARKET_OPEN_MS, 1));
    const first = mock.advanceTo(MARKET_OPEN_MS + 1000);
    expect(mock.advanceTo(MARKET_OPEN_MS + 1000)).toBe(first);
    expect(mock.advanceTo(MARKET_OPEN_MS)).toBe(first);
    expect(mock.advanceTo(MARKET_OPEN_MS + 1001).atMs).toBe(MARKET_OPEN_MS + 1001);
  });

  it('keeps pricing expired options at one tick or more, never NaN', () => {
    const instruments = registry(MARKET_OPEN_MS, 3);
    const mock = market(instruments);
    mock.advanceTo(MARKET_OPEN_MS);
    const afterExpiry = MARKET_OPEN_MS + 40 * 86_400_000;
    const ticks = mock.ticks(mock.advanceTo(afterExpiry));
    for (const tick of ticks) {
      expect(tick.lastPrice).toBeGreaterThanOrEqual(0.05);
      expect(allFinite(tick)).toBe(true);
    }
  });

  it('rejects instruments it cannot simulate', () => {
    const future: Instrument = {
      instrumentToken: 13_238_786,
      tradingsymbol: 'NIFTY25JANFUT',
      name: 'NIFTY',
      exchange: 'NFO',
      segment: 'NFO-FUT',
      instrumentType: 'FUT',
      strike: 0,
      expiry: '2025-01-30',
      lotSize: 65,
      tickSize: 0.05,
    };
    expect(() => market([future])).toThrow(/not FUT/);
    expect(() => market([{ ...future, instrumentType: 'CE', strike: 24000, name: 'FINNIFTY' }])).toThrow(/FINNIFTY/);
    expect(() => market([{ ...future, instrumentType: 'CE', strike: 24000, expiry: '30-01-2025' }])).toThrow(
      RangeError,
    );
    expect(() => market(registry(), { priceVariationBps: -1 })).toThrow(/priceVariationBps/);
  });

  it('never produces NaN, Infinity, off-tick or non-positive prices, whatever the seed, bounds and step times', () => {
    const instruments = registry(MARKET_OPEN_MS, 2);
    const byToken = new Map(instruments.map((i) => [i.instrumentToken, i]));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.integer({ min: 1, max: 3 * 86_400_000 }), { minLength: 1, maxLength: 15 }),
        (seed, bps, variation, steps) => {
          const mock = market(instruments, { seed, priceVariationBps: bps, volumeVariation: variation });
          let now = MARKET_OPEN_MS;
          let snapshot = mock.advanceTo(now);
          const last = new Map<number, MarketTick>();
          for (const dt of steps) {
            now += dt;
            snapshot = mock.advanceTo(now);
            for (const tick of mock.ticks(snapshot)) {
              if (!allFinite(tick)) return false;
              if (!(tick.lastPrice > 0) || !onTick(tick.lastPrice)) return false;
              const previous = last.get(tick.instrumentToken);
              if (previous && !((tick.exchangeTimestampMs ?? 0) > (previous.exchangeTimestampMs ?? 0))) return false;
              if (previous && (tick.volumeTraded ?? 0) < (previous.volumeTraded ?? 0)) return false;
              last.set(tick.instrumentToken, tick);
              const instrument = byToken.get(tick.instrumentToken) as Instrument;
              if (instrument.instrumentType === 'INDEX') continue;
              const payload = buildOptionSnapshot({
                tick,
                instrument,
                underlyingPrice: snapshot.underlyings.get(instrument.name)?.price ?? Number.NaN,
                nowMs: now,
                pricing: PRICING,
                isMock: true,
                fallbackVolatility: 0.2,
              });
              if (!TickPayload.safeParse(payload).success) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 40 },
    );
  });
});

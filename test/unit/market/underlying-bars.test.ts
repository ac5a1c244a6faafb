import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MockFeed } from '../../../ingest-task/feeds/mock-feed.js';
import { UnderlyingBarPublisher } from '../../../ingest-task/feeds/underlying-bar-publisher.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { type MarketTick, UnderlyingBar } from '../../../shared/contracts/tick.js';
import { UnderlyingBarAggregator } from '../../../shared/domain/market/underlying-bars.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { waitFor } from '../../support/wait.js';
import { MARKET_OPEN_MS, market, registry } from './market-fixtures.js';

const NIFTY_INDEX = { instrumentToken: 256265, tradingsymbol: 'NIFTY 50', name: 'NIFTY' } as const;
const BANK_INDEX = { instrumentToken: 260105, tradingsymbol: 'NIFTY BANK', name: 'BANKNIFTY' } as const;

function indexTick(atMs: number, lastPrice: number, volumeTraded?: number, token = 256265): MarketTick {
  return {
    instrumentToken: token,
    mode: 'full',
    tradable: false,
    lastPrice,
    ...(volumeTraded !== undefined && { volumeTraded }),
    exchangeTimestampMs: atMs,
    receivedAtMs: atMs,
  };
}

describe('UnderlyingBarAggregator', () => {
  it('TC-MATL-022: publishes one valid OHLCV bar per interval for 60 s of mock data on ticker:nifty:underlying', async () => {
    const instruments = registry(MARKET_OPEN_MS, 2);
    const mock = market(instruments);
    const clock = new ManualClock(MARKET_OPEN_MS);
    const bus = new MemoryTickBus();
    const received: { channel: string; bar: UnderlyingBar }[] = [];
    await bus.psubscribe('ticker:*', (channel, message) =>
      received.push({ channel, bar: UnderlyingBar.parse(JSON.parse(message)) }),
    );
    const streamIntervalSeconds = 1;
    const indices = instruments.filter((i) => i.instrumentType === 'INDEX');
    const publisher = new UnderlyingBarPublisher({
      aggregator: new UnderlyingBarAggregator({
        intervalSeconds: streamIntervalSeconds,
        instruments: indices,
        isMock: true,
      }),
      bus,
      clock,
    });
    // The feed ticks five times per bar, so the bars aggregate several ticks each.
    const feed = new MockFeed({ market: mock, clock, intervalMs: 200, onTicks: publisher.accept });
    const stop = new AbortController();
    const runs = [publisher.run(stop.signal), feed.run(stop.signal)];
    for (let second = 0; second < 60; second++) {
      clock.advance(1000);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    stop.abort();
    await Promise.all(runs);
    await waitFor(() => received.length >= 120);

    const niftyBars = received.filter((r) => r.channel === 'ticker:nifty:underlying').map((r) => r.bar);
    const bankBars = received.filter((r) => r.channel === 'ticker:banknifty:underlying').map((r) => r.bar);
    expect(niftyBars).toHaveLength(60);
    expect(bankBars).toHaveLength(60);
    const starts = niftyBars.map((b) => Date.parse(b.timestamp));
    expect(starts).toEqual(Array.from({ length: 60 }, (_, i) => MARKET_OPEN_MS + i * streamIntervalSeconds * 1000));

    const baseQuantity = mock.snapshot()?.underlyings.get('NIFTY')?.baseQuantity ?? 0;
    for (const [i, bar] of niftyBars.entries()) {
      expect(bar).toMatchObject({ instrument_token: 256265, tradingsymbol: 'NIFTY 50', is_mock: true });
      expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
      expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
      expect(bar.low).toBeGreaterThan(24000 * 0.95);
      expect(bar.high).toBeLessThan(24000 * 1.05);
      // Five ticks per bar, each trading the base quantity ± 10 %; the very first tick only sets the baseline.
      const ticksCounted = i === 0 ? 4 : 5;
      expect(bar.volume).toBeGreaterThanOrEqual(Math.floor(ticksCounted * baseQuantity * 0.9));
      expect(bar.volume).toBeLessThanOrEqual(Math.ceil(ticksCounted * baseQuantity * 1.1));
    }
    // The index moves within bars, not only between them.
    expect(niftyBars.some((b) => b.high > b.low)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await bus.close();
  });

  it('combines the ticks of several accounts into one bar: max high, min low, summed volume (TC-MATL-033 shape)', () => {
    const aggregator = new UnderlyingBarAggregator({ intervalSeconds: 1, instruments: [NIFTY_INDEX], isMock: false });
    const t = MARKET_OPEN_MS;
    // Baselines (first tick of each account only sets the cumulative volume it counts from).
    aggregator.add('a', indexTick(t - 500, 24000, 1_000));
    aggregator.add('b', indexTick(t - 400, 24001, 5_000));
    aggregator.add('c', indexTick(t - 300, 24002, 9_000));
    aggregator.flush(t);
    expect(aggregator.add('a', indexTick(t + 100, 24010, 1_100))).toBeUndefined();
    aggregator.add('b', indexTick(t + 50, 24005, 5_020));
    aggregator.add('c', indexTick(t + 900, 23990, 9_300));
    aggregator.add('b', indexTick(t + 700, 24030, 5_070));
    aggregator.add('a', indexTick(t + 950, 24000, 1_160));
    expect(aggregator.flush(t + 999)).toEqual([]);
    const [bar, ...rest] = aggregator.flush(t + 1000);
    expect(rest).toEqual([]);
    expect(bar).toEqual({
      underlying: 'NIFTY',
      bar: {
        instrument_token: 256265,
        tradingsymbol: 'NIFTY 50',
        open: 24005,
        high: 24030,
        low: 23990,
        close: 24000,
        volume: 160 + 70 + 300,
        timestamp: '2025-01-08T03:45:00.000Z',
        is_mock: false,
      },
    });
  });

  it('drops ticks for intervals already emitted, ignores unknown tokens and bad prices, and resets on volume drops', () => {
    const aggregator = new UnderlyingBarAggregator({ intervalSeconds: 1, instruments: [NIFTY_INDEX], isMock: true });
    const t = MARKET_OPEN_MS;
    aggregator.add('a', indexTick(t, 24000, 100));
    aggregator.flush(t + 1000);
    expect(aggregator.add('a', indexTick(t + 999, 24001, 110))).toBe('late');
    expect(aggregator.add('a', indexTick(t + 1000, 24001, 150, 999))).toBe('unknown-instrument');
    expect(aggregator.add('a', indexTick(t + 1000, Number.NaN, 150))).toBe('invalid');
    expect(aggregator.add('a', indexTick(t + 1000, 0, 150))).toBe('invalid');
    expect(aggregator.add('a', indexTick(t + 1100, 24002, 40))).toBeUndefined();
    expect(aggregator.add('a', indexTick(t + 1200, 24003, 70))).toBeUndefined();
    expect(aggregator.flush(t + 2000).map((c) => c.bar.volume)).toEqual([30]);
    expect(aggregator.rejected).toEqual({ 'unknown-instrument': 1, late: 1, invalid: 2 });
  });

  it('waits graceMs for late ticks before emitting a bar, and skips intervals without ticks', () => {
    const aggregator = new UnderlyingBarAggregator({
      intervalSeconds: 5,
      instruments: [NIFTY_INDEX, BANK_INDEX],
      isMock: true,
      graceMs: 300,
    });
    const t = MARKET_OPEN_MS;
    aggregator.add('a', indexTick(t + 1000, 24000));
    aggregator.add('a', indexTick(t + 12_000, 24010));
    aggregator.add('a', indexTick(t + 1000, 52000, undefined, 260105));
    expect(aggregator.flush(t + 5200)).toEqual([]);
    expect(aggregator.add('b', indexTick(t + 4999, 24020))).toBeUndefined();
    const flushed = aggregator.flush(t + 15_300);
    expect(flushed.map((c) => [c.underlying, c.bar.timestamp, c.bar.close])).toEqual([
      ['NIFTY', '2025-01-08T03:45:00.000Z', 24020],
      ['NIFTY', '2025-01-08T03:45:10.000Z', 24010],
      ['BANKNIFTY', '2025-01-08T03:45:00.000Z', 52000],
    ]);
    expect(flushed.every((c) => UnderlyingBar.safeParse(c.bar).success)).toBe(true);
  });

  it('keeps low ≤ open, close ≤ high and volume = the sum of each source’s increases, for any ticks', () => {
    const tickArb = fc.record({
      source: fc.constantFrom('a', 'b', 'c'),
      offsetMs: fc.integer({ min: 0, max: 10_000 }),
      price: fc.double({ min: 1, max: 100_000, noNaN: true }),
      traded: fc.integer({ min: 0, max: 10_000 }),
    });
    fc.assert(
      fc.property(fc.array(tickArb, { maxLength: 200 }), fc.constantFrom(0.5, 1, 3), (ticks, intervalSeconds) => {
        const aggregator = new UnderlyingBarAggregator({ intervalSeconds, instruments: [NIFTY_INDEX], isMock: true });
        const cumulative = new Map<string, number>();
        let expectedVolume = 0;
        for (const t of ticks) {
          const previous = cumulative.get(t.source);
          const next = (previous ?? 0) + t.traded;
          if (previous !== undefined) expectedVolume += t.traded;
          cumulative.set(t.source, next);
          aggregator.add(t.source, indexTick(MARKET_OPEN_MS + t.offsetMs, t.price, next));
        }
        const bars = aggregator.flush(MARKET_OPEN_MS + 20_000).map((c) => c.bar);
        const prices = ticks.map((t) => t.price);
        return (
          bars.every((b) => b.low <= Math.min(b.open, b.close) && Math.max(b.open, b.close) <= b.high) &&
          bars.reduce((sum, b) => sum + b.volume, 0) === expectedVolume &&
          bars.length <= new Set(ticks.map((t) => Math.floor(t.offsetMs / (intervalSeconds * 1000)))).size &&
          (ticks.length === 0 ||
            (Math.max(...bars.map((b) => b.high)) === Math.max(...prices) &&
              Math.min(...bars.map((b) => b.low)) === Math.min(...prices)))
        );
      }),
    );
  });

  it('rejects a non-positive interval and a negative or non-finite grace, naming them', () => {
    const instruments: Instrument[] = [];
    expect(() => new UnderlyingBarAggregator({ intervalSeconds: 0, instruments, isMock: true })).toThrow(
      new RangeError('intervalSeconds must be a positive number, got 0'),
    );
    for (const graceMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new UnderlyingBarAggregator({ intervalSeconds: 1, instruments, isMock: true, graceMs })).toThrow(
        new RangeError(`graceMs must be >= 0, got ${graceMs}`),
      );
    }
    // The publisher schedules its flushes from these.
    const aggregator = new UnderlyingBarAggregator({ intervalSeconds: 5, instruments, isMock: true, graceMs: 300 });
    expect([aggregator.intervalMs, aggregator.graceMs]).toEqual([5000, 300]);
  });

  it('takes open and close by tick time, ties by arrival, and refuses an infinite price', () => {
    const aggregator = new UnderlyingBarAggregator({ intervalSeconds: 1, instruments: [NIFTY_INDEX], isMock: true });
    const t = MARKET_OPEN_MS;
    aggregator.add('a', indexTick(t + 500, 24000));
    // Same instant as the open: it closes the bar (for now) but does not open it.
    aggregator.add('a', indexTick(t + 500, 24010));
    // Earlier than everything so far, arriving late: it opens the bar and does not close it.
    aggregator.add('b', indexTick(t + 100, 23990));
    expect(aggregator.add('a', indexTick(t + 600, Number.POSITIVE_INFINITY))).toBe('invalid');
    expect(aggregator.flush(t + 1000).map((c) => [c.bar.open, c.bar.high, c.bar.low, c.bar.close])).toEqual([
      [23990, 24010, 23990, 24010],
    ]);
  });

  it('emits the due bars of an instrument oldest first, whatever order their ticks came in', () => {
    const aggregator = new UnderlyingBarAggregator({ intervalSeconds: 1, instruments: [NIFTY_INDEX], isMock: true });
    const t = MARKET_OPEN_MS;
    for (const second of [3, 1, 2, 0]) aggregator.add('a', indexTick(t + second * 1000, 24000 + second));
    expect(aggregator.flush(t + 4000).map((c) => c.bar.close)).toEqual([24000, 24001, 24002, 24003]);
  });
});

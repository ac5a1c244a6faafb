import { describe, expect, it } from 'vitest';
import { MockFeed } from '../../../ingest-task/feeds/mock-feed.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import type { Clock } from '../../../shared/ports/clock.js';
import { MARKET_OPEN_MS, market, registry } from './market-fixtures.js';

/** A clock whose time the test sets directly, exposing the one pending timer. */
class SteppedClock implements Clock {
  nowMs = MARKET_OPEN_MS;
  timer: { callback: () => void; ms: number } | undefined;
  now(): number {
    return this.nowMs;
  }
  setTimeout(callback: () => void, ms: number): () => void {
    const timer = { callback, ms };
    this.timer = timer;
    return () => {
      if (this.timer === timer) this.timer = undefined;
    };
  }
  fire(): void {
    const timer = this.timer;
    this.timer = undefined;
    timer?.callback();
  }
}

describe('MockFeed', () => {
  it('hands the market’s ticks to the callback once per interval, timestamps strictly increasing', async () => {
    const clock = new ManualClock(MARKET_OPEN_MS);
    const batches: { ticks: readonly MarketTick[]; source: string }[] = [];
    const feed = new MockFeed({
      name: 'mock-feed:acc-1',
      market: market(registry(MARKET_OPEN_MS, 1)),
      clock,
      intervalMs: 500,
      onTicks: (ticks, source) => batches.push({ ticks, source }),
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    clock.advance(10_000);
    stop.abort();
    await running;

    expect(batches).toHaveLength(21);
    expect(new Set(batches.map((b) => b.source))).toEqual(new Set(['mock-feed:acc-1']));
    const times = batches.map((b) => b.ticks[0]?.exchangeTimestampMs);
    expect(times).toEqual(Array.from({ length: 21 }, (_, i) => MARKET_OPEN_MS + i * 500));
    for (const batch of batches) expect(new Set(batch.ticks.map((t) => t.exchangeTimestampMs)).size).toBe(1);
  });

  it('leaves the market unstepped while it has no tokens to stream, and streams from the next step once it has', async () => {
    const clock = new ManualClock(MARKET_OPEN_MS);
    const mockMarket = market(registry(MARKET_OPEN_MS, 1));
    let tokens = new Set<number>();
    const batches: (readonly MarketTick[])[] = [];
    const feed = new MockFeed({
      market: mockMarket,
      clock,
      intervalMs: 500,
      tokens: () => tokens,
      onTicks: (t) => batches.push(t),
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    clock.advance(5_000);
    expect(mockMarket.snapshot()).toBeUndefined();
    expect(batches).toEqual([]);
    const [first] = mockMarket.ticks(mockMarket.ensureInitialised(clock.now()));
    tokens = new Set([first?.instrumentToken ?? -1]);
    clock.advance(500);
    stop.abort();
    await running;
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((t) => t.instrumentToken)).toEqual([first?.instrumentToken]);
  });

  it('stops promptly on abort and leaves no timer behind', async () => {
    const clock = new ManualClock(MARKET_OPEN_MS);
    let calls = 0;
    const feed = new MockFeed({
      market: market(registry(MARKET_OPEN_MS, 1)),
      clock,
      intervalMs: 1000,
      onTicks: () => calls++,
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    clock.advance(2500);
    expect(clock.pendingTimers).toBe(1);
    stop.abort();
    await running;
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(calls).toBe(3);

    const already = new AbortController();
    already.abort();
    await feed.run(already.signal);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops when the callback aborts from inside a step, without scheduling another', async () => {
    const clock = new ManualClock(MARKET_OPEN_MS);
    const stop = new AbortController();
    const feed = new MockFeed({
      market: market(registry(MARKET_OPEN_MS, 1)),
      clock,
      intervalMs: 1000,
      onTicks: () => stop.abort(),
    });
    await feed.run(stop.signal);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with the callback’s error and cancels its timer, so a broken consumer stops the process', async () => {
    const clock = new ManualClock(MARKET_OPEN_MS);
    let calls = 0;
    const feed = new MockFeed({
      market: market(registry(MARKET_OPEN_MS, 1)),
      clock,
      intervalMs: 1000,
      onTicks: () => {
        if (++calls === 3) throw new Error('pipeline bug');
      },
    });
    const running = feed.run(new AbortController().signal);
    clock.advance(5000);
    await expect(running).rejects.toThrow('pipeline bug');
    expect(clock.pendingTimers).toBe(0);
    expect(calls).toBe(3);
  });

  it('streams only the tokens the selector returns at each step', async () => {
    const instruments = registry(MARKET_OPEN_MS, 1);
    const clock = new ManualClock(MARKET_OPEN_MS);
    let selected: ReadonlySet<number> | undefined = new Set([256265]);
    const seen: number[][] = [];
    const feed = new MockFeed({
      market: market(instruments),
      clock,
      intervalMs: 1000,
      tokens: () => selected,
      onTicks: (ticks) => seen.push(ticks.map((t) => t.instrumentToken)),
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    selected = new Set([256265, 260105]);
    clock.advance(1000);
    selected = new Set();
    clock.advance(1000);
    selected = undefined;
    clock.advance(1000);
    stop.abort();
    await running;
    expect(seen).toEqual([
      [256265],
      [256265, 260105],
      instruments.map((i) => i.instrumentToken).sort(ascendingIndexFirst),
    ]);
  });

  it('keeps to its schedule: a late step skips the missed slots instead of bursting', async () => {
    const clock = new SteppedClock();
    const times: number[] = [];
    const feed = new MockFeed({
      market: market(registry(MARKET_OPEN_MS, 0)),
      clock,
      intervalMs: 1000,
      onTicks: (ticks) => times.push(ticks[0]?.exchangeTimestampMs ?? Number.NaN),
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    expect(clock.timer?.ms).toBe(1000);
    clock.nowMs += 1200;
    clock.fire();
    expect(clock.timer?.ms).toBe(800);
    clock.nowMs += 4500;
    clock.fire();
    expect(clock.timer?.ms).toBe(300);
    stop.abort();
    await running;
    expect(clock.timer).toBeUndefined();
    expect(times).toEqual([MARKET_OPEN_MS, MARKET_OPEN_MS + 1200, MARKET_OPEN_MS + 5700]);
  });

  it('rejects a non-positive interval', () => {
    const make = (intervalMs: number) =>
      new MockFeed({
        market: market(registry(MARKET_OPEN_MS, 0)),
        clock: new ManualClock(),
        intervalMs,
        onTicks: () => {},
      });
    expect(() => make(0)).toThrow(RangeError);
    expect(() => make(Number.NaN)).toThrow(RangeError);
  });
});

/** The market emits index ticks first, then options by token. */
function ascendingIndexFirst(a: number, b: number): number {
  const index = (token: number) => (token & 0xff) === 9;
  return index(a) === index(b) ? a - b : index(a) ? -1 : 1;
}

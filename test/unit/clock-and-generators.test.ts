import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { MarketTick } from '../../shared/contracts/tick.js';
import { generateTestCandles, generateTestInstruments, generateTestTicks } from '../support/generators.js';

describe('ManualClock', () => {
  it('moves only when advanced and fires due timers in time order at their own time', () => {
    const clock = new ManualClock(1_000);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const cancel = clock.setTimeout(() => fired.push(['never', clock.now()]), 150);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 200);
    cancel();
    expect(clock.now()).toBe(1_000);
    clock.advance(150);
    expect(fired).toEqual([['a', 1_100]]);
    clock.advance(3_600_000);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_200],
      ['c', 1_200],
    ]);
    expect(clock.now()).toBe(3_601_150);
    expect(clock.pendingTimers).toBe(0);
    expect(() => clock.set(0)).toThrow(RangeError);
  });

  it('fires a timer set by a timer within the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 50), 50);
    clock.advance(100);
    expect(fired).toEqual([100]);
  });
});

describe('SystemClock', () => {
  it('reads the real time and runs and cancels timers', async () => {
    const clock = new SystemClock();
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    let cancelled = false;
    clock.setTimeout(() => {
      cancelled = true;
    }, 5)();
    // Set later and due later, so it runs after the cancelled one would have.
    const ranAt = await new Promise<number>((resolve) => clock.setTimeout(() => resolve(clock.now()), 10));
    expect(ranAt).toBeGreaterThan(0);
    expect(cancelled).toBe(false);
  });
});

describe('test data generators', () => {
  it('generate the plan’s instruments: NIFTY calls from 19000 in steps of 50 with tokens from 256000', () => {
    const instruments = generateTestInstruments(100);
    expect(instruments).toHaveLength(100);
    expect(instruments[0]).toMatchObject({
      instrumentToken: 256000,
      tradingsymbol: 'NIFTY25JAN19000CE',
      strike: 19000,
    });
    expect(instruments[99]).toMatchObject({ instrumentToken: 256099, strike: 23950, lotSize: 25, tickSize: 0.05 });
    expect(new Set(instruments.map((i) => i.instrumentToken)).size).toBe(100);
  });

  it('generate valid ticks one second apart, the same for the same seed', () => {
    const ticks = generateTestTicks(256265, 100, { seed: 7 });
    for (const tick of ticks) {
      expect(MarketTick.parse(tick)).toEqual(tick);
      expect(tick.lastPrice).toBeGreaterThanOrEqual(240);
      expect(tick.lastPrice).toBeLessThanOrEqual(260);
    }
    const times = ticks.map((t) => t.exchangeTimestampMs ?? 0);
    expect(times.slice(1).every((t, i) => t - (times[i] ?? 0) === 1000)).toBe(true);
    expect(generateTestTicks(256265, 100, { seed: 7 })).toEqual(ticks);
    expect(generateTestTicks(256265, 100, { seed: 8 })).not.toEqual(ticks);
  });

  it('generate consistent candles: each opens at the previous close, low ≤ open, close ≤ high', () => {
    const candles = generateTestCandles(100, { basePrice: 250, intervalMinutes: 5 });
    expect(candles).toHaveLength(100);
    candles.forEach((c, i) => {
      expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close));
      expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
      if (i > 0) {
        expect(c.open).toBe(candles[i - 1]?.close);
        expect(c.date - (candles[i - 1]?.date ?? 0)).toBe(300_000);
      }
    });
  });
});

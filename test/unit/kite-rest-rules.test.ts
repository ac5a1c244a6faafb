import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DAYS_PER_REQUEST, splitHistoricalRange } from '../../shared/domain/kite/historical-range.js';
import { KiteRateLimits, RateLimiter } from '../../shared/domain/kite/rate-limiter.js';

describe('RateLimiter', () => {
  it('lets 3 historical requests through per second and says how long to wait for the 4th', () => {
    const limiter = new RateLimiter(KiteRateLimits.historical);
    expect([limiter.tryTake(0), limiter.tryTake(0), limiter.tryTake(0)]).toEqual([0, 0, 0]);
    const wait = limiter.tryTake(0);
    expect(wait).toBe(1000);
    expect(limiter.tryTake(wait)).toBe(0);
  });

  it('never admits more orders than 10 in any second or 400 in any minute', () => {
    const limiter = new RateLimiter(KiteRateLimits.orders);
    const admitted: number[] = [];
    for (let now = 0; now < 180_000; now += 5) if (limiter.tryTake(now) === 0) admitted.push(now);
    for (let i = 0; i < admitted.length; i++) {
      const t = admitted[i] ?? 0;
      expect(admitted.filter((a) => a >= t && a < t + 1000).length).toBeLessThanOrEqual(10);
      expect(admitted.filter((a) => a >= t && a < t + 60_000).length).toBeLessThanOrEqual(400);
    }
    expect(admitted.length).toBe(1200);
  });
});

describe('splitHistoricalRange', () => {
  it('splits a year of minute candles into 60-day requests that cover the range exactly once', () => {
    const from = Date.UTC(2024, 0, 1);
    const to = Date.UTC(2024, 11, 31, 23, 59);
    const pieces = splitHistoricalRange(from, to, 'minute');
    expect(pieces).toHaveLength(7);
    expect(pieces[0]?.from).toBe(from);
    expect(pieces.at(-1)?.to).toBe(to);
    for (const [i, p] of pieces.entries()) {
      expect(p.to - p.from).toBeLessThan(60 * 86_400_000);
      if (i > 0) expect(p.from).toBe((pieces[i - 1]?.to ?? 0) + 1);
    }
  });

  it('keeps every piece within the interval’s limit for any range', () => {
    const intervals = Object.keys(MAX_DAYS_PER_REQUEST) as (keyof typeof MAX_DAYS_PER_REQUEST)[];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 41 }),
        fc.integer({ min: 0, max: 3000 * 86_400_000 }),
        fc.constantFrom(...intervals),
        (from, length, interval) => {
          const pieces = splitHistoricalRange(from, from + length, interval);
          expect(pieces[0]?.from).toBe(from);
          expect(pieces.at(-1)?.to).toBe(from + length);
          for (const p of pieces) expect(p.to - p.from).toBeLessThan(MAX_DAYS_PER_REQUEST[interval] * 86_400_000);
        },
      ),
    );
    expect(splitHistoricalRange(10, 5, 'day')).toEqual([]);
  });
});

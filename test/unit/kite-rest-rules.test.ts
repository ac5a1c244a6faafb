import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DAYS_PER_REQUEST, splitHistoricalRange } from '../../shared/domain/kite/historical-range.js';

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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryRateBudget } from '../../shared/adapters/memory/memory-rate-budget.js';
import { MAX_DAYS_PER_REQUEST, splitHistoricalRange } from '../../shared/domain/kite/historical-range.js';
import { KiteRateLimits } from '../../shared/domain/kite/rate-limiter.js';

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

describe('Kite REST limits as the rate budget enforces them', () => {
  /** A budget over Kite's limits on a clock the test moves, from midnight IST of 8 January 2025. */
  const budgetAt = (start = Date.UTC(2025, 0, 7, 18, 30)) => {
    const clock = { at: start, now: () => clock.at };
    return { budget: new MemoryRateBudget({ budgets: KiteRateLimits, clock }), clock };
  };
  const takeMany = async (budget: MemoryRateBudget, name: string, n: number) => {
    const waits: number[] = [];
    for (let i = 0; i < n; i++) waits.push(await budget.take(name, 'acct'));
    return waits;
  };

  it('asks for each interval’s documented span per historical request', () => {
    expect(MAX_DAYS_PER_REQUEST).toEqual({
      minute: 60,
      '3minute': 100,
      '5minute': 100,
      '10minute': 100,
      '15minute': 200,
      '30minute': 200,
      '60minute': 400,
      day: 2000,
    });
    // A 60-minute range of 400 days and 1 ms is two requests, the first exactly 400 days long.
    const day = 86_400_000;
    expect(splitHistoricalRange(0, 400 * day, '60minute')).toEqual([
      { from: 0, to: 400 * day - 1 },
      { from: 400 * day, to: 400 * day },
    ]);
    expect(splitHistoricalRange(7, 7, 'day')).toEqual([{ from: 7, to: 7 }]);
  });

  it('grants quotes 1 a second and historical 3, each held 250 ms past its second', async () => {
    const { budget, clock } = budgetAt();
    expect(await takeMany(budget, 'quote', 2)).toEqual([0, 1250]);
    expect(await takeMany(budget, 'historical', 4)).toEqual([0, 0, 0, 1250]);
    clock.at += 1250;
    expect(await takeMany(budget, 'quote', 1)).toEqual([0]);
    expect(await takeMany(budget, 'historical', 4)).toEqual([0, 0, 0, 1250]);
  });

  it('grants other calls 10 a second, held 250 ms past it', async () => {
    const { budget } = budgetAt();
    expect(await takeMany(budget, 'other', 11)).toEqual([...Array(10).fill(0), 1250]);
  });

  it('grants orders exactly 10 a second, 400 a minute (plus 250 ms) and 5000 an IST day', async () => {
    const { budget, clock } = budgetAt();
    // The 11th in a second waits exactly the rest of that second: no margin on the second.
    expect(await takeMany(budget, 'orders', 11)).toEqual([...Array(10).fill(0), 1000]);
    for (let second = 1; second < 40; second++) {
      clock.at += 1000;
      expect(await takeMany(budget, 'orders', 10)).toEqual(Array(10).fill(0));
    }
    // 400 in the minute: the next waits for the first ten to be 60.25 s old.
    clock.at += 1000;
    expect(await takeMany(budget, 'orders', 1)).toEqual([60_250 - 40_000]);
    // One a second from then on: the 5001st of the IST day is refused until the next midnight IST.
    let granted = 400;
    let refusedUntilMidnight = 0;
    while (granted < 5000 + 1) {
      clock.at += 1000;
      const wait = await budget.take('orders', 'acct');
      if (wait === 0) granted++;
      else if (granted === 5000) {
        refusedUntilMidnight = wait;
        break;
      }
    }
    expect(granted).toBe(5000);
    expect(clock.at + refusedUntilMidnight).toBe(Date.UTC(2025, 0, 8, 18, 30));
  });
});

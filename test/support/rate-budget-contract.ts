import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../shared/ports/clock.js';
import type { RateBudget, RateWindow } from '../../shared/ports/rate-budget.js';

/** Midnight IST of 8 January 2025, in epoch ms. */
const IST_MIDNIGHT = Date.UTC(2025, 0, 7, 18, 30);

/** The budgets the contract takes from; each test uses its own keys. */
export const CONTRACT_BUDGETS = {
  /** Kite's historical limit: 3 in any second. */
  perSecond: [{ limit: 3, perMs: 1000 }],
  /** Kite's orders in small: 5 a calendar day (IST) and 2 a second. */
  dayAndSecond: [
    { limit: 5, perMs: 86_400_000, calendarOffsetMs: 19_800_000 },
    { limit: 2, perMs: 1000 },
  ],
  /** Kite's order windows as they are: 10 a second, 400 a minute (its margin included). */
  kiteOrders: [
    { limit: 10, perMs: 1000 },
    { limit: 400, perMs: 60_000, marginMs: 250 },
  ],
} as const satisfies Record<string, readonly RateWindow[]>;

/** What the contract needs from one adapter. */
export interface RateBudgetHarness {
  /**
   * Opens a handle on a budget store that starts empty for this test, counting on `clock`. Called twice in a test, it returns two handles on the same store (two
   * processes on one Redis; one process's budget for the in-memory adapter).
   */
  open(clock: Pick<Clock, 'now'>): Promise<RateBudget>;
  /** Removes what the test left behind in a shared store. */
  dispose?(): Promise<void>;
}

/** The largest number of `times` inside any half-open window of `windowMs`. */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] ?? 0) - (sorted[j] ?? 0) >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * The contract every {@link RateBudget} adapter passes (docs/architecture.md), on a clock the test
 * moves: no test sleeps, and every bound is exact.
 */
export function rateBudgetContract(adapter: string, factory: () => RateBudgetHarness): void {
  describe(`RateBudget contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    /** Two handles on one fresh store, on a clock at `start` that `clock.now` reads and tests move. */
    const setup = async (start = 1_000_000_000_000) => {
      const clock = { at: start, now: () => clock.at };
      const harness = factory();
      if (harness.dispose) teardown.push(() => harness.dispose?.() ?? Promise.resolve());
      const first = await harness.open(clock);
      const second = await harness.open(clock);
      teardown.push(
        () => first.close(),
        () => second.close(),
      );
      return { first, second, clock };
    };

    it('grants the limit of a short window at once, then refuses until the first permit is a window old', async () => {
      const { first, clock } = await setup();
      const taken = await Promise.all(Array.from({ length: 3 }, () => first.take('perSecond', 'k')));
      expect(taken).toEqual([0, 0, 0]);
      clock.at += 400;
      expect(await first.take('perSecond', 'k')).toBe(600);
      clock.at += 599;
      expect(await first.take('perSecond', 'k')).toBe(1);
      clock.at += 1;
      expect(await first.take('perSecond', 'k')).toBe(0);
    });

    it('shares one budget between two handles and keeps keys and budgets apart', async () => {
      const { first, second } = await setup();
      expect(await first.take('perSecond', 'acct-1')).toBe(0);
      expect(await second.take('perSecond', 'acct-1')).toBe(0);
      expect(await first.take('perSecond', 'acct-1')).toBe(0);
      expect(await second.take('perSecond', 'acct-1')).toBe(1000);
      expect(await second.take('perSecond', 'acct-2')).toBe(0);
      expect(await second.take('kiteOrders', 'acct-1')).toBe(0);
    });

    it('never lets more than the limit into any sliding second, and grants the limit in every one', async () => {
      const { first, second, clock } = await setup();
      const admitted: number[] = [];
      // Six takers on two handles at once, every 37 ms of the clock for 5 s.
      for (let step = 0; step * 37 < 5000; step++) {
        const takes = [first, second, first, second, first, second].map((b) => b.take('perSecond', 'busy'));
        for (const wait of await Promise.all(takes)) if (wait === 0) admitted.push(clock.at);
        clock.at += 37;
      }
      expect(busiestWindow(admitted, 1000)).toBe(3);
      // Exact, not just safe: three every second (each triple granted at the first step a second on).
      expect(admitted.length).toBeGreaterThanOrEqual(15);
    });

    it('keeps a sliding window to the limit when permits are spread (where fixed windows would allow twice it)', async () => {
      const { first, clock } = await setup();
      expect(await first.take('perSecond', 'spread')).toBe(0);
      clock.at += 600;
      expect([await first.take('perSecond', 'spread'), await first.take('perSecond', 'spread')]).toEqual([0, 0]);
      // A window counted from the first permit would grant three more now; a sliding one, one.
      clock.at += 400;
      expect(await first.take('perSecond', 'spread')).toBe(0);
      expect(await first.take('perSecond', 'spread')).toBe(600);
    });

    it("grants Kite's 10 a second for 40 s, then holds the 401st until the first is a minute (and margin) old", async () => {
      const { first, second, clock } = await setup();
      const start = clock.at;
      for (let i = 0; i < 400; i++) {
        expect(await (i % 2 === 0 ? first : second).take('kiteOrders', 'acct')).toBe(0);
        clock.at += 100;
      }
      // 40 s in: the minute is full; the first permit leaves it at 60 s plus the 250 ms margin.
      expect(await first.take('kiteOrders', 'acct')).toBe(start + 60_250 - clock.at);
      clock.at = start + 60_249;
      expect(await first.take('kiteOrders', 'acct')).toBe(1);
      clock.at = start + 60_250;
      expect(await first.take('kiteOrders', 'acct')).toBe(0);
      // The next frees as its own permit ages out, 100 ms later: a sliding minute, not a bucket.
      expect(await first.take('kiteOrders', 'acct')).toBe(100);
    });

    it('refuses the 401st in any minute, however the 400 were spread', async () => {
      const { first, clock } = await setup();
      const admitted: number[] = [];
      // 10 at once every 1.5 s for 100 s: the minute is full at 60 s, then has room as bursts age.
      for (let t = 0; t < 100_000; t += 1500) {
        for (let i = 0; i < 10; i++) {
          if ((await first.take('kiteOrders', 'acct')) === 0) admitted.push(clock.at);
        }
        clock.at += 1500;
      }
      expect(busiestWindow(admitted, 60_250)).toBe(400);
      expect(busiestWindow(admitted, 1000)).toBe(10);
      // Of the 67 bursts only the one at 60 s is refused (its minute holds 40 bursts); each later
      // one finds the refused burst's gap in its minute.
      expect(admitted.length).toBe(660);
    });

    it('counts a calendar window per IST day, and a refusal by a shorter window takes nothing from it', async () => {
      const { first, clock } = await setup(IST_MIDNIGHT + 86_400_000 - 10_000);
      expect([await first.take('dayAndSecond', 'acct'), await first.take('dayAndSecond', 'acct')]).toEqual([0, 0]);
      // The per-second window refuses the next ten: none of them spends the day's five.
      for (let i = 0; i < 10; i++) expect(await first.take('dayAndSecond', 'acct')).toBe(1000);
      for (let i = 0; i < 3; i++) {
        clock.at += 1000;
        expect(await first.take('dayAndSecond', 'acct')).toBe(0);
      }
      // Five taken today: the day refuses until midnight IST, 7 s away.
      clock.at += 1000;
      expect(await first.take('dayAndSecond', 'acct')).toBe(6000);
      clock.at += 6000;
      expect(await first.take('dayAndSecond', 'acct')).toBe(0);
    });

    it('rejects a budget it was not given', async () => {
      const { first } = await setup();
      await expect(first.take('nope', 'k')).rejects.toThrow(/Unknown rate budget nope/);
    });
  });
}

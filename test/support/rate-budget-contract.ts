import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../shared/ports/clock.js';
import type { RateBudget, RateWindow } from '../../shared/ports/rate-budget.js';
import { sleep } from './wait.js';

/** Midnight IST of 8 January 2025, in epoch ms. */
const IST_MIDNIGHT = Date.UTC(2025, 0, 7, 18, 30);

/** The budgets the contract takes from; each test uses its own keys. */
export const CONTRACT_BUDGETS = {
  /** Kite's historical limit: a ring of 3. */
  perSecond: [{ limit: 3, perMs: 1000 }],
  /** A long window: buckets of 1 s holding floor(28 / 14) = 2 each. */
  perTwelveSeconds: [{ limit: 28, perMs: 12_000 }],
  /** Kite's orders in small: 5 a calendar day (IST) and 2 a second. */
  dayAndSecond: [
    { limit: 5, perMs: 86_400_000, calendarOffsetMs: 19_800_000 },
    { limit: 2, perMs: 1000 },
  ],
} as const satisfies Record<string, readonly RateWindow[]>;

/** What the contract needs from one adapter. */
export interface RateBudgetHarness {
  /**
   * Opens a handle on a budget store that starts empty for this test, reading calendar periods
   * from `calendar`. Called twice in a test, it returns two handles on the same store (two
   * processes on one Redis; one process's budget for the in-memory adapter).
   */
  open(calendar: Pick<Clock, 'now'>): Promise<RateBudget>;
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
 * The contract every {@link RateBudget} adapter passes (docs/architecture.md). Windows run on real time
 * (the library's counters expire on the machine's clock or Redis's), so each test lasts a second
 * or two, and bounds are one-sided where the machine's speed could move them.
 */
export function rateBudgetContract(adapter: string, factory: () => RateBudgetHarness): void {
  describe(`RateBudget contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    const setup = async (calendar: Pick<Clock, 'now'> = { now: () => Date.now() }) => {
      const harness = factory();
      if (harness.dispose) teardown.push(() => harness.dispose?.() ?? Promise.resolve());
      const first = await harness.open(calendar);
      const second = await harness.open(calendar);
      teardown.push(
        () => first.close(),
        () => second.close(),
      );
      return { first, second };
    };

    it('grants the limit of a short window at once, then refuses with a wait of about one window', async () => {
      const { first } = await setup();
      const taken = await Promise.all(Array.from({ length: 3 }, () => first.take('perSecond', 'k')));
      expect(taken).toEqual([0, 0, 0]);
      const wait = await first.take('perSecond', 'k');
      // Held one window plus the adapter's jitter margin; the time spent so far only shortens it.
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1250);
      await sleep(wait);
      expect(await first.take('perSecond', 'k')).toBe(0);
    });

    it('shares one budget between two handles and keeps keys and budgets apart', async () => {
      const { first, second } = await setup();
      expect(await first.take('perSecond', 'acct-1')).toBe(0);
      expect(await second.take('perSecond', 'acct-1')).toBe(0);
      expect(await first.take('perSecond', 'acct-1')).toBe(0);
      expect(await second.take('perSecond', 'acct-1')).toBeGreaterThan(0);
      expect(await second.take('perSecond', 'acct-2')).toBe(0);
      expect(await second.take('perTwelveSeconds', 'acct-1')).toBe(0);
    });

    it('never lets more than the limit into any sliding second, however many take at once', async () => {
      const { first, second } = await setup();
      const admitted: number[] = [];
      const started = Date.now();
      // Six takers on two handles, each taking again as soon as it is told it may, for 2.5 s.
      const taker = async (budget: RateBudget) => {
        while (Date.now() - started < 2500) {
          const wait = await budget.take('perSecond', 'busy');
          if (wait === 0) admitted.push(Date.now());
          else await sleep(wait);
        }
      };
      await Promise.all([first, second, first, second, first, second].map(taker));
      expect(busiestWindow(admitted, 1000)).toBeLessThanOrEqual(3);
      // Meaningful: the takers did fill the budget, about 3 per 1.25 s.
      expect(admitted.length).toBeGreaterThanOrEqual(6);
    });

    it('keeps a sliding window to the limit when permits are spread (where fixed windows would allow twice it)', async () => {
      const { first } = await setup();
      const admitted: number[] = [];
      const take = async () => {
        const wait = await first.take('perSecond', 'spread');
        if (wait === 0) admitted.push(Date.now());
        return wait;
      };
      expect(await take()).toBe(0);
      await sleep(600);
      expect([await take(), await take()]).toEqual([0, 0]);
      // A window counted from the first permit would grant three more 400 ms from now, five in 1 s.
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const wait = await take();
        if (wait > 0) await sleep(wait);
      }
      expect(busiestWindow(admitted, 1000)).toBeLessThanOrEqual(3);
      expect(admitted.length).toBeGreaterThanOrEqual(5);
    });

    it('counts a long window in buckets: two per second-long bucket, the wait ending at the bucket', async () => {
      let now = 1_000_000_000_000;
      const { first, second } = await setup({ now: () => now });
      expect(await first.take('perTwelveSeconds', 'k')).toBe(0);
      expect(await second.take('perTwelveSeconds', 'k')).toBe(0);
      now += 400;
      expect(await first.take('perTwelveSeconds', 'k')).toBe(600);
      now += 600;
      expect(await first.take('perTwelveSeconds', 'k')).toBe(0);
    });

    it('counts a calendar window per IST day, and a refusal by a shorter window takes nothing from it', async () => {
      let now = IST_MIDNIGHT + 86_400_000 - 10_000;
      const { first } = await setup({ now: () => now });
      /** Takes, waiting out the per-second ring when told to; resolves 0 or a wait longer than the ring's. */
      const takeWhenTold = async () => {
        for (;;) {
          const wait = await first.take('dayAndSecond', 'acct');
          if (wait === 0 || wait > 1250) return wait;
          await sleep(wait);
        }
      };
      expect([await first.take('dayAndSecond', 'acct'), await first.take('dayAndSecond', 'acct')]).toEqual([0, 0]);
      // The per-second ring refuses the next ten: none of them spends the day's five.
      for (let i = 0; i < 10; i++) {
        const wait = await first.take('dayAndSecond', 'acct');
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(1250);
      }
      for (let i = 0; i < 3; i++) expect(await takeWhenTold()).toBe(0);
      // Five taken today: the day refuses until midnight IST, 10 s away on the calendar clock.
      expect(await takeWhenTold()).toBe(10_000);
      now += 10_000;
      expect(await takeWhenTold()).toBe(0);
    });

    it('rejects a budget it was not given', async () => {
      const { first } = await setup();
      await expect(first.take('nope', 'k')).rejects.toThrow(/Unknown rate budget nope/);
    });
  });
}

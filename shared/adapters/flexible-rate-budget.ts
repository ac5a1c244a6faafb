import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { DependencyUnavailableError, describeError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { RateBudget, RateWindow } from '../ports/rate-budget.js';

/** One library counter: `points` per `durationSec`, counted from its first consume (Redis TTL, or a timer in memory). */
export interface CounterSpec {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSec: number;
}

/** Builds a counter of the store (memory, Redis); the adapter composes them into windows. */
export type CounterFactory = (spec: CounterSpec) => RateLimiterAbstract;

/** Tuning of {@link FlexibleRateBudget}; the defaults suit Kite. */
export interface FlexibleRateBudgetOptions {
  /** The budgets by name (Kite's: orders, historical, quote, other). */
  readonly budgets: Readonly<Record<string, readonly RateWindow[]>>;
  /** Prepended to every store key, so environments (or tests) sharing one Redis stay apart. */
  readonly keyPrefix?: string;
  /**
   * How much longer than its window a short-window permit is held. The broker counts arrivals, and
   * two calls granted `perMs` apart arrive closer when the first took longer to reach it (a new
   * TLS connection, a busy event loop: up to 150 ms between grant and arrival was measured on a
   * loaded test machine); the margin absorbs that much. Default 250 ms: Kite's 10 orders/s become
   * bursts of 10 per 1.25 s, below the 400/min buckets' own pace only in the first 3 s.
   */
  readonly marginMs?: number;
  /** Reads the calendar and bucket of a period window. Default the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** Windows up to this long are kept exactly, as a ring of single permits; longer ones in buckets. */
const RING_MAX_MS = 10_000;
/** Buckets per long window: more buckets lose less of the limit to bucket edges, and cost more keys. */
const BUCKETS_PER_WINDOW = 12;

/** How one window is kept in the store. */
type Stage =
  /** `limit` slots of one permit, each held `perMs + margin` from its taking: exact in any sliding window. */
  | { readonly kind: 'ring'; readonly counter: RateLimiterAbstract; readonly slots: number }
  /**
   * Aligned periods of `bucketMs` with `points` each, keyed by period: a calendar window is one
   * period (the broker's day); a long sliding window is {@link BUCKETS_PER_WINDOW} of them.
   */
  | {
      readonly kind: 'bucket';
      readonly counter: RateLimiterAbstract;
      readonly bucketMs: number;
      readonly offsetMs: number;
    };

/**
 * The {@link RateBudget} built on `rate-limiter-flexible` counters (its atomic Redis script, or its
 * in-memory store). The library counts in fixed windows that start at a key's first consume, and a
 * fixed window of `limit` lets up to twice `limit` through in a sliding window that straddles two
 * of them. Kite may count in any way (sliding, per clock second), so every window here is kept so
 * that no sliding window exceeds its limit:
 *
 * - a short window (Kite's 10/s, 3/s, 1/s) is a ring of `limit` keys of one permit each, held
 *   `perMs + marginMs`: two permits of one key are at least that far apart, so any `perMs` holds at
 *   most one per key, `limit` in all; a take tries the keys in turn until one is free;
 * - a long window (400/min) is counted in aligned buckets of a twelfth of it, each allowed
 *   `floor(limit / 14)`: a sliding minute meets at most 13 buckets (14 when the holders' clocks
 *   disagree by up to a bucket), so 28 per 5 s keeps any minute at or below 392;
 * - a calendar window (5000/day from midnight IST) is one bucket per period, with the whole limit.
 *
 * Windows are taken longest first and the ring last: a bucket taken before a later window refuses
 * is given back (to its own period's key, so a late refund never lands in a newer period), and a
 * ring permit, which cannot be given back without breaking its spacing, is only taken when every
 * other window has already granted.
 */
export class FlexibleRateBudget implements RateBudget {
  readonly #budgets: ReadonlyMap<string, readonly Stage[]>;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #onClose: () => Promise<void>;
  /** Where the next ring scan starts, so takes of one process spread over the slots. */
  #cursor = 0;
  #closed = false;

  constructor(
    options: FlexibleRateBudgetOptions,
    counter: CounterFactory,
    onClose: () => Promise<void> = async () => {},
  ) {
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#onClose = onClose;
    const prefix = options.keyPrefix ?? 'budget';
    const marginMs = options.marginMs ?? 250;
    this.#budgets = new Map(
      Object.entries(options.budgets).map(([name, windows]) => {
        const stages = windows.map((w, i): Stage => {
          const keyPrefix = `${prefix}:${name}:${i}`;
          if (!(w.limit >= 1 && Number.isInteger(w.limit) && w.perMs >= 1000)) {
            throw new RangeError(
              `Budget ${name}: a window needs a whole limit of at least 1 and perMs of at least 1000`,
            );
          }
          if (w.calendarOffsetMs !== undefined) {
            return {
              kind: 'bucket',
              counter: counter({ keyPrefix, points: w.limit, durationSec: w.perMs / 1000 }),
              bucketMs: w.perMs,
              offsetMs: w.calendarOffsetMs,
            };
          }
          if (w.perMs <= RING_MAX_MS) {
            return {
              kind: 'ring',
              counter: counter({ keyPrefix, points: 1, durationSec: (w.perMs + marginMs) / 1000 }),
              slots: w.limit,
            };
          }
          const bucketMs = w.perMs / BUCKETS_PER_WINDOW;
          const points = Math.floor(w.limit / (BUCKETS_PER_WINDOW + 2));
          if (points < 1 || bucketMs < 1000) {
            throw new RangeError(`Budget ${name}: ${w.limit} per ${w.perMs} ms is too small to keep in buckets`);
          }
          return {
            kind: 'bucket',
            counter: counter({ keyPrefix, points, durationSec: bucketMs / 1000 }),
            bucketMs,
            offsetMs: 0,
          };
        });
        // Buckets first, longest first; the ring last (see the class comment).
        const ordered = [...stages].sort((a, b) => rank(a) - rank(b));
        return [name, ordered] as const;
      }),
    );
  }

  async take(budget: string, key: string): Promise<number> {
    if (this.#closed) throw new DependencyUnavailableError('rate-budget', 'The rate budget is closed');
    const stages = this.#budgets.get(budget);
    if (!stages) throw new RangeError(`Unknown rate budget ${budget}`);
    const taken: { counter: RateLimiterAbstract; key: string }[] = [];
    for (const stage of stages) {
      const wait = stage.kind === 'ring' ? await this.#takeRing(stage, key) : await this.#takeBucket(stage, key, taken);
      if (wait > 0) {
        await this.#giveBack(taken);
        return wait;
      }
    }
    return 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose();
  }

  /** Takes a permit of the current period's bucket, or says how long until the period ends. */
  async #takeBucket(
    stage: Extract<Stage, { kind: 'bucket' }>,
    key: string,
    taken: { counter: RateLimiterAbstract; key: string }[],
  ): Promise<number> {
    const shifted = this.#clock.now() + stage.offsetMs;
    const period = Math.floor(shifted / stage.bucketMs);
    const bucketKey = `${key}:${period}`;
    const granted = await consume(stage.counter, bucketKey);
    if (granted === true) {
      taken.push({ counter: stage.counter, key: bucketKey });
      return 0;
    }
    return Math.max(1, (period + 1) * stage.bucketMs - shifted);
  }

  /** Takes the first free slot of the ring, or says when the soonest one frees. */
  async #takeRing(stage: Extract<Stage, { kind: 'ring' }>, key: string): Promise<number> {
    const start = this.#cursor++ % stage.slots;
    let wait = Number.POSITIVE_INFINITY;
    for (let i = 0; i < stage.slots; i++) {
      const granted = await consume(stage.counter, `${key}:${(start + i) % stage.slots}`);
      if (granted === true) return 0;
      wait = Math.min(wait, granted);
    }
    return Math.max(1, wait);
  }

  /** Returns bucket permits taken before a later window refused; a failure here only keeps them spent. */
  async #giveBack(taken: readonly { counter: RateLimiterAbstract; key: string }[]): Promise<void> {
    await Promise.all(taken.map(({ counter, key }) => counter.reward(key, 1).catch(() => undefined)));
  }
}

function rank(stage: Stage): number {
  return stage.kind === 'ring' ? Number.MAX_SAFE_INTEGER : -stage.bucketMs;
}

/**
 * One consume: true when granted, else the milliseconds until the counter resets. The library
 * rejects with a `RateLimiterRes` when the points are used up and with an `Error` when its store
 * fails; only the first is a refusal.
 */
async function consume(counter: RateLimiterAbstract, key: string): Promise<true | number> {
  try {
    await counter.consume(key, 1);
    return true;
  } catch (error) {
    if (error instanceof RateLimiterRes) return Math.max(1, error.msBeforeNext);
    throw new DependencyUnavailableError('rate-budget', `Rate budget store failed: ${describeError(error)}`, {
      cause: error,
    });
  }
}

import { DependencyUnavailableError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { RateBudget, RateWindow } from '../../ports/rate-budget.js';
import { type CompiledWindow, compileBudgets, decideTake, lowerBound, retainFrom } from '../sliding-window.js';

/** Tuning of {@link MemoryRateBudget}. */
export interface MemoryRateBudgetOptions {
  /** The budgets by name (Kite's: orders, historical, quote, other). */
  readonly budgets: Readonly<Record<string, readonly RateWindow[]>>;
  /** Accepted for symmetry with the Redis adapter, whose keys it prefixes; one process needs none. */
  readonly keyPrefix?: string;
  /** The time permits are counted on. Default the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * The {@link RateBudget} of one process (`npm start`, tests): the permit times of each budget and
 * key in a sorted list, decided by the same exact sliding-window rule as the Redis adapter's
 * script. Processes do not share it: more than one process calling Kite for one account needs the
 * Redis adapter.
 */
export class MemoryRateBudget implements RateBudget {
  readonly #budgets: ReadonlyMap<string, readonly CompiledWindow[]>;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #times = new Map<string, number[]>();
  #closed = false;

  constructor(options: MemoryRateBudgetOptions) {
    this.#budgets = compileBudgets(options.budgets);
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  async take(budget: string, key: string): Promise<number> {
    if (this.#closed) throw new DependencyUnavailableError('rate-budget', 'The rate budget is closed');
    const windows = this.#budgets.get(budget);
    if (!windows) throw new RangeError(`Unknown rate budget ${budget}`);
    const now = this.#clock.now();
    const id = `${budget}\u0000${key}`;
    const times = this.#times.get(id) ?? [];
    times.splice(0, lowerBound(times, retainFrom(windows, now)));
    const wait = decideTake(windows, times, now);
    // A clock that stepped back still inserts in order, so the list stays sorted.
    if (wait === 0) times.splice(lowerBound(times, now + 1), 0, now);
    if (times.length === 0) this.#times.delete(id);
    else this.#times.set(id, times);
    return wait;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * One limit of a budget: at most `limit` permits in any `perMs` milliseconds.
 *
 * With `calendarOffsetMs` the limit is per calendar period instead (a day counted from midnight
 * at that offset from UTC, as a broker counts its daily order limit), not per sliding window.
 */
export interface RateWindow {
  readonly limit: number;
  readonly perMs: number;
  /** Count per calendar period of `perMs` starting at midnight UTC+offset (IST: 19,800,000). */
  readonly calendarOffsetMs?: number;
  /**
   * A sliding window only: hold each permit this much longer than `perMs`, for the jitter between
   * a grant and the broker's count of the call. Default 0 (exact).
   */
  readonly marginMs?: number;
}

/**
 * Permits of named budgets (each a set of {@link RateWindow}s that must all have room), counted
 * per key and shared by every holder of the same store: one process for the in-memory adapter,
 * every process on the same Redis for the Redis one. Kite's REST limits are per account or api key,
 * not per process, so every Lambda and task calling Kite for one key draws from one budget.
 *
 * Guarantees:
 * - Exact: no sliding window of `perMs` (plus the window's `marginMs`) ever holds more than `limit`
 *   permits of one budget and key (per calendar period for calendar windows), however many holders
 *   take at once, and a take is granted whenever every window has room: a burst of `limit` at once,
 *   and `limit` per `perMs` sustained.
 * - A refused take takes nothing: a window that had room is not drawn down because another refused,
 *   so callers that wait do not spend the budget they wait for.
 * - A refusal says how long to wait (milliseconds, at least 1) before the next take can succeed,
 *   so callers wait once, not in a polling loop.
 * - Fails closed: when the store cannot be reached the take rejects (never admits blindly).
 */
export interface RateBudget {
  /**
   * Takes one permit of `budget` for `key` (an account id, an api key) when every window has room
   * and resolves 0; otherwise resolves the milliseconds to wait before asking again. Rejects for
   * an unknown budget, and with a `DependencyUnavailableError` when the store is unreachable.
   */
  take(budget: string, key: string): Promise<number>;
  /** Releases the store connection; safe to call twice. */
  close(): Promise<void>;
}

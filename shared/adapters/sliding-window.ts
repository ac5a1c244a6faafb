import type { RateWindow } from '../ports/rate-budget.js';

/**
 * One window as the adapters keep it. Both adapters store the permit times of a budget and key
 * (a sorted list in memory, a sorted set in Redis) and decide a take by the same rule:
 * {@link decideTake} here, the Lua script in the Redis adapter.
 */
export type CompiledWindow =
  /** At most `limit` permits younger than `holdMs` (the window's `perMs` plus its margin). */
  | { readonly kind: 'sliding'; readonly limit: number; readonly holdMs: number }
  /** At most `limit` permits since the current period began (`perMs` long, from midnight at `offsetMs`). */
  | { readonly kind: 'calendar'; readonly limit: number; readonly perMs: number; readonly offsetMs: number };

/** Checks and compiles every budget's windows; throws a RangeError naming a bad one. */
export function compileBudgets(
  budgets: Readonly<Record<string, readonly RateWindow[]>>,
): ReadonlyMap<string, readonly CompiledWindow[]> {
  return new Map(
    Object.entries(budgets).map(([name, windows]) => {
      if (windows.length === 0) throw new RangeError(`Budget ${name}: needs at least one window`);
      const compiled = windows.map((w): CompiledWindow => {
        const margin = w.marginMs ?? 0;
        if (!(Number.isInteger(w.limit) && w.limit >= 1 && Number.isInteger(w.perMs) && w.perMs >= 1)) {
          throw new RangeError(`Budget ${name}: a window needs a whole limit and perMs of at least 1`);
        }
        if (!(Number.isInteger(margin) && margin >= 0)) {
          throw new RangeError(`Budget ${name}: marginMs must be a whole number of at least 0`);
        }
        return w.calendarOffsetMs === undefined
          ? { kind: 'sliding', limit: w.limit, holdMs: w.perMs + margin }
          : { kind: 'calendar', limit: w.limit, perMs: w.perMs, offsetMs: w.calendarOffsetMs };
      });
      return [name, compiled] as const;
    }),
  );
}

/** When the calendar period holding `now` began. */
export function periodStart(window: Extract<CompiledWindow, { kind: 'calendar' }>, now: number): number {
  const shifted = now + window.offsetMs;
  return shifted - (((shifted % window.perMs) + window.perMs) % window.perMs) - window.offsetMs;
}

/** The oldest permit time any window still counts at `now`: older ones can be forgotten. */
export function retainFrom(windows: readonly CompiledWindow[], now: number): number {
  return Math.min(...windows.map((w) => (w.kind === 'sliding' ? now - w.holdMs + 1 : periodStart(w, now))));
}

/** How long the permits of one budget and key must be kept after the newest (the store's expiry). */
export function retentionMs(windows: readonly CompiledWindow[]): number {
  return Math.max(...windows.map((w) => (w.kind === 'sliding' ? w.holdMs : w.perMs)));
}

/**
 * Decides a take at `now` over `times`, the permit times of one budget and key in ascending order:
 * 0 when every window has room, else the milliseconds until the fullest window frees one (the
 * longest such wait, at least 1). A sliding window counts permits in `(now - holdMs, now]`; when
 * it holds `c >= limit`, the permit that must age out is the `(c - limit + 1)`-th oldest of them.
 */
export function decideTake(windows: readonly CompiledWindow[], times: readonly number[], now: number): number {
  let wait = 0;
  for (const w of windows) {
    const from = w.kind === 'sliding' ? now - w.holdMs + 1 : periodStart(w, now);
    const first = lowerBound(times, from);
    const count = times.length - first;
    if (count < w.limit) continue;
    const frees = w.kind === 'sliding' ? (times[first + count - w.limit] ?? now) + w.holdMs : from + w.perMs;
    wait = Math.max(wait, frees - now, 1);
  }
  return wait;
}

/** The index of the first element of ascending `times` at or after `value`. */
export function lowerBound(times: readonly number[], value: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] ?? 0) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

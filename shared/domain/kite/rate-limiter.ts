/** One limit: at most `limit` requests per `perMs` milliseconds. */
export interface RateWindow {
  readonly limit: number;
  readonly perMs: number;
}

/**
 * Several sliding windows that must all have room (Kite's orders: 10/s and 400/min and 5000/day).
 * Each window remembers the times of its last `limit` admissions in a ring, and admits a request
 * only when the oldest of them is at least `perMs` old: no window of `perMs` ever holds more than
 * `limit` requests, which a token bucket (bursts plus refill) cannot promise. Pure: time is passed
 * in, so tests drive it with a manual clock.
 */
export class RateLimiter {
  readonly #windows: readonly RateWindow[];
  readonly #rings: Float64Array[];
  readonly #next: number[];

  constructor(windows: readonly RateWindow[]) {
    this.#windows = windows;
    this.#rings = windows.map((w) => new Float64Array(w.limit).fill(Number.NEGATIVE_INFINITY));
    this.#next = windows.map(() => 0);
  }

  /**
   * Takes a permit at `now` when every window has room and returns 0; otherwise takes nothing and
   * returns how many milliseconds to wait before asking again.
   */
  tryTake(now: number): number {
    let wait = 0;
    this.#windows.forEach((w, i) => {
      const oldest = this.#rings[i]?.[this.#next[i] ?? 0] ?? Number.NEGATIVE_INFINITY;
      if (now - oldest < w.perMs) wait = Math.max(wait, oldest + w.perMs - now);
    });
    if (wait > 0) return Math.ceil(wait);
    this.#windows.forEach((w, i) => {
      const ring = this.#rings[i];
      const slot = this.#next[i] ?? 0;
      if (ring) ring[slot] = now;
      this.#next[i] = (slot + 1) % w.limit;
    });
    return 0;
  }
}

/** Kite Connect's published REST limits per api key (DESIGN.md §3). */
export const KiteRateLimits = {
  quote: [{ limit: 1, perMs: 1000 }],
  historical: [{ limit: 3, perMs: 1000 }],
  orders: [
    { limit: 10, perMs: 1000 },
    { limit: 400, perMs: 60_000 },
    { limit: 5000, perMs: 86_400_000 },
  ],
  other: [{ limit: 10, perMs: 1000 }],
} as const satisfies Record<string, readonly RateWindow[]>;
export type KiteEndpointClass = keyof typeof KiteRateLimits;

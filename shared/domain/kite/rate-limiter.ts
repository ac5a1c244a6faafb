import type { RateWindow } from '../../ports/rate-budget.js';

/** India Standard Time's offset from UTC: Kite's day starts at midnight IST. */
const IST_OFFSET_MS = 19_800_000;

/**
 * Kite Connect's published REST limits (docs/architecture.md): orders (place, modify, cancel) 10/s,
 * 400/min and 5000 a day per account, with 429 beyond 10/s since April 2026; historical 3/s and
 * quote 1/s per api key; others 10/s. The `RateBudget` port keeps them across every process.
 */
export const KiteRateLimits = {
  quote: [{ limit: 1, perMs: 1000 }],
  historical: [{ limit: 3, perMs: 1000 }],
  orders: [
    // Exact per second: a margin there would cost the 10/s itself (docs/decisions.md).
    { limit: 10, perMs: 1000 },
    // The minute keeps 250 ms for grant-to-arrival jitter: 0.4 % of it, nothing within a 40 s burst.
    { limit: 400, perMs: 60_000, marginMs: 250 },
    { limit: 5000, perMs: 86_400_000, calendarOffsetMs: IST_OFFSET_MS },
  ],
  other: [{ limit: 10, perMs: 1000 }],
} as const satisfies Record<string, readonly RateWindow[]>;
export type KiteEndpointClass = keyof typeof KiteRateLimits;

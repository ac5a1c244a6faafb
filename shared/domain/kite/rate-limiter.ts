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
    { limit: 10, perMs: 1000 },
    { limit: 400, perMs: 60_000 },
    { limit: 5000, perMs: 86_400_000, calendarOffsetMs: IST_OFFSET_MS },
  ],
  other: [{ limit: 10, perMs: 1000 }],
} as const satisfies Record<string, readonly RateWindow[]>;
export type KiteEndpointClass = keyof typeof KiteRateLimits;

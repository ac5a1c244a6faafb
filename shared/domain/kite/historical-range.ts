import type { CandleInterval } from '../../ports/market-data.js';

/** Most days one historical request may span, per interval (Kite's limits). */
export const MAX_DAYS_PER_REQUEST: Readonly<Record<CandleInterval, number>> = {
  minute: 60,
  '3minute': 100,
  '5minute': 100,
  '10minute': 100,
  '15minute': 200,
  '30minute': 200,
  '60minute': 400,
  day: 2000,
};

const DAY_MS = 86_400_000;

/**
 * Splits [from, to] (epoch ms, inclusive) into consecutive, non-overlapping requests that each
 * stay within Kite's per-interval limit, in time order. Each piece ends 1 ms before the next
 * begins, so no candle is fetched twice.
 */
export function splitHistoricalRange(
  from: number,
  to: number,
  interval: CandleInterval,
): { from: number; to: number }[] {
  // Stryker disable next-line ConditionalExpression: without the guard the loop below yields [] for these ranges too
  if (!(to >= from)) return [];
  const span = MAX_DAYS_PER_REQUEST[interval] * DAY_MS;
  const pieces: { from: number; to: number }[] = [];
  for (let start = from; start <= to; start += span) {
    pieces.push({ from: start, to: Math.min(to, start + span - 1) });
  }
  return pieces;
}

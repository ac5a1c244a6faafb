/**
 * Time to expiry as the pricer needs it: calendar years (365 days) from now to the close of
 * trading, 15:30 IST (10:00 UTC), on the expiry date of the instrument master. The expiry date is
 * always taken from the master, never derived from weekday rules: NSE moves expiries for holidays
 * and has changed expiry weekdays more than once.
 */

const MS_PER_YEAR = 365 * 24 * 60 * 60 * 1000;
/** 15:30 IST is 10:00 UTC (India has no daylight saving time). */
const EXPIRY_HOUR_UTC = 10;
const EXPIRY_DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Epoch milliseconds of 15:30 IST on `expiryDate` ('YYYY-MM-DD'). Compute it once per
 * instrument and use `yearsUntil` per tick. Throws a `RangeError` for a malformed or
 * non-existent date (e.g. '2025-02-30').
 */
export function expiryInstantMs(expiryDate: string): number {
  const match = EXPIRY_DATE_PATTERN.exec(expiryDate);
  if (match === null) throw new RangeError(`expiryDate must be 'YYYY-MM-DD', got ${JSON.stringify(expiryDate)}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const instant = Date.UTC(year, month - 1, day, EXPIRY_HOUR_UTC, 0, 0, 0);
  const check = new Date(instant);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new RangeError(`expiryDate must be a calendar date, got ${JSON.stringify(expiryDate)}`);
  }
  return instant;
}

/**
 * Calendar years from `nowMs` to `expiryMs`, clamped at 0 once expiry has passed (an expired
 * option is priced at its intrinsic value, never with negative time). NaN if either is not finite.
 */
export function yearsUntil(expiryMs: number, nowMs: number): number {
  const years = (expiryMs - nowMs) / MS_PER_YEAR;
  if (Number.isNaN(years)) return Number.NaN;
  return years > 0 ? years : 0;
}

/**
 * Calendar years (365-day) from `nowMs` (epoch milliseconds, e.g. `clock.now()`) to 15:30 IST
 * on `expiryDate` ('YYYY-MM-DD'), clamped at 0. Throws a `RangeError` for a malformed date or a
 * non-finite `nowMs`.
 */
export function timeToExpiryYears(expiryDate: string, nowMs: number): number {
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${String(nowMs)}`);
  return yearsUntil(expiryInstantMs(expiryDate), nowMs);
}

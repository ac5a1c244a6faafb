/**
 * Calendar-date arithmetic on `YYYY-MM-DD` strings, in UTC so the result never depends on the
 * machine's time zone. It offers no expiry weekday rules: NSE has moved expiry weekdays more than
 * once, so the real registry reads expiry dates from the instrument master, and only the mock
 * registry (which is the mock's instrument master) keeps today's schedule, in one place.
 */

const MS_PER_DAY = 86_400_000;
/** India Standard Time is UTC+05:30 all year (no daylight saving time). */
const IST_OFFSET_MS = 5.5 * 60 * 60 * 1000;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Days since 1970-01-01 of a `YYYY-MM-DD` date. Throws a `RangeError` for a malformed or
 * non-existent date, naming `field`, so bad configuration fails where it is read.
 */
export function epochDay(date: string, field = 'date'): number {
  const match = DATE_PATTERN.exec(date);
  if (match === null) throw new RangeError(`${field} must be 'YYYY-MM-DD', got ${JSON.stringify(date)}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new RangeError(`${field} must be a calendar date, got ${JSON.stringify(date)}`);
  }
  return ms / MS_PER_DAY;
}

/** The `YYYY-MM-DD` date `days` days after 1970-01-01. */
export function isoDateOfEpochDay(days: number): string {
  return new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** `date` moved by `days` calendar days (negative moves back). */
export function addDays(date: string, days: number): string {
  return isoDateOfEpochDay(epochDay(date) + days);
}

/**
 * The trading date in India at `nowMs` (epoch milliseconds), as `YYYY-MM-DD`: the natural anchor
 * for a mock registry built at start-up, since NSE's day runs on IST, not UTC.
 */
export function istDate(nowMs: number): string {
  return new Date(nowMs + IST_OFFSET_MS).toISOString().slice(0, 10);
}

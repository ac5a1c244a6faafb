/** NSE's continuous session in IST: 09:15 to 15:30, Monday to Friday. */
const OPEN_MINUTE = 9 * 60 + 15;
const CLOSE_MINUTE = 15 * 60 + 30;
const IST_OFFSET_MS = 5.5 * 3_600_000;

/**
 * Whether NSE's F&O market is in its continuous session at `nowMs`: a weekday, not one of
 * `holidays` (`YYYY-MM-DD`, from configuration: the exchange publishes them yearly), between 09:15
 * and 15:30 IST. Outside it the platform streams the mock market instead of a silent Kite feed.
 */
export function isMarketOpen(nowMs: number, holidays: readonly string[]): boolean {
  const ist = new Date(nowMs + IST_OFFSET_MS);
  const weekday = ist.getUTCDay();
  if (weekday === 0 || weekday === 6) return false;
  if (holidays.includes(ist.toISOString().slice(0, 10))) return false;
  const minute = ist.getUTCHours() * 60 + ist.getUTCMinutes();
  return minute >= OPEN_MINUTE && minute < CLOSE_MINUTE;
}

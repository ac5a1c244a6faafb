/**
 * Decimal places of the computed fields of a client tick. A model's Greeks carry no more than a
 * few significant digits of meaning (the inputs are prices in paise and a volatility solved to
 * them), yet as doubles they print with up to 17: some 60 bytes of every tick that no client
 * reads, and the most expensive part of writing the tick (`String(double)` runs the shortest
 * round-trip search, about 0.2 µs per number, six per tick). Rounded to these places they are
 * written by integer arithmetic (`JsonBytes.decimal`). Gamma, per point of an index in the tens of
 * thousands, is small: it keeps two more places. `iv` is a fraction (0.1234 = 12.34 %).
 */
export const TICK_DECIMALS = {
  delta: 6,
  gamma: 8,
  theta: 6,
  vega: 6,
  rho: 6,
  iv: 6,
} as const;

/** Powers of ten by decimal places (0–9). */
export const SCALE = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] as const;
/** Above this many units of the last place a value is left as it is (its digits are all integer, or nearly). */
export const MAX_UNITS = 1e15;

/**
 * `value` rounded to `decimals` places (0–9), half away from zero as `Math.round` does for
 * positive halves; values too large to have that many places, and non-finite ones, unchanged.
 */
export function roundTo(value: number, decimals: number): number {
  const scale = SCALE[decimals] ?? 1;
  const units = Math.round(value * scale);
  return units > -MAX_UNITS && units < MAX_UNITS ? units / scale : value;
}

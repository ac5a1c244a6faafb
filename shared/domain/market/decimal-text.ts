/**
 * Decimal places of the computed fields of a client tick. A model's Greeks carry no more than a
 * few significant digits of meaning (the inputs are prices in paise and a volatility solved to
 * them), yet as doubles they print with up to 17: some 60 bytes of every tick that no client
 * reads, and the most expensive part of writing the tick (`String(double)` runs the shortest
 * round-trip search, about 0.2 µs per number, six per tick). Rounded to these places they print
 * by integer arithmetic. Gamma, per point of an index in the tens of thousands, is small: it keeps
 * two more places. `iv` is a fraction (0.1234 = 12.34 %).
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
const SCALE = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] as const;
/** Above this many units of the last place a value is printed as it is (its digits are all integer, or nearly). */
const MAX_UNITS = 1e15;
const ZEROS = '000000000';

/**
 * `value` rounded to `decimals` places (0–9), half away from zero as `Math.round` does for
 * positive halves; values too large to have that many places, and non-finite ones, unchanged.
 */
export function roundTo(value: number, decimals: number): number {
  const scale = SCALE[decimals] ?? 1;
  const units = Math.round(value * scale);
  return units > -MAX_UNITS && units < MAX_UNITS ? units / scale : value;
}

/**
 * Exactly `JSON.stringify(roundTo(value, decimals))` for a finite `value`, without the shortest
 * round-trip search: the digits of the rounded value are those of a whole number of units of the
 * last place, and a value of at most 15 significant digits prints as exactly those digits.
 */
export function decimalText(value: number, decimals: number): string {
  const scale = SCALE[decimals] ?? 1;
  const units = Math.round(value * scale);
  if (!(units > -MAX_UNITS && units < MAX_UNITS)) return String(value);
  if (units === 0) return '0';
  const negative = units < 0;
  const magnitude = negative ? -units : units;
  const whole = Math.floor(magnitude / scale);
  let fraction = magnitude - whole * scale;
  // Below 1e-6 JSON switches to exponent notation (9.9e-7); rare enough to print the usual way.
  if (whole === 0 && fraction * 1e6 < scale) return String(units / scale);
  const head = negative ? `-${whole}` : String(whole);
  if (fraction === 0) return head;
  let places = decimals;
  while (fraction % 10 === 0) {
    fraction /= 10;
    places--;
  }
  const digits = String(fraction);
  return `${head}.${ZEROS.slice(0, places - digits.length)}${digits}`;
}

/**
 * Exactly `JSON.stringify(price)` for a finite price; a price in whole paise (as every exchange
 * price is) without the shortest round-trip search.
 */
export function priceText(price: number): string {
  const paise = Math.round(price * 100);
  return paise / 100 === price ? decimalText(price, 2) : String(price);
}

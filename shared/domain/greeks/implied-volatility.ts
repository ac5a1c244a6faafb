import { ivStatusFromCode } from './codes.js';
import { impliedVolatilityKernel } from './kernels.js';
import { kindSign, modelCode } from './option-pricing.js';
import type { ImpliedVolatilityInput, ImpliedVolatilityResult } from './types.js';
import { assertImpliedVolatilityInput } from './validation.js';

/** One-element columns through which the object API feeds the column-reading kernel. */
const single = {
  underlying: new Float64Array(1),
  strike: new Float64Array(1),
  timeToExpiryYears: new Float64Array(1),
  price: new Float64Array(1),
  status: new Uint8Array(1),
};

/**
 * Black-Scholes or Black-76 implied volatility of a premium by Jäckel's "Let's Be Rational":
 * a rational initial guess and two Householder(3) steps, machine precision in a fixed number of
 * operations. Quotes that no volatility reproduces are not errors but statuses (see `IvStatus`);
 * malformed input (non-finite numbers, negative time or premium, non-positive underlying or
 * strike) throws a `RangeError` naming the field.
 */
export function impliedVolatility(input: ImpliedVolatilityInput): ImpliedVolatilityResult {
  assertImpliedVolatilityInput(input);
  return impliedVolatilityUnchecked(input);
}

/**
 * `impliedVolatility` without the input checks, for hot paths: malformed input gives
 * `{ volatility: NaN, status: 'invalid' }`, never an exception.
 */
export function impliedVolatilityUnchecked(input: ImpliedVolatilityInput): ImpliedVolatilityResult {
  single.underlying[0] = input.underlying;
  single.strike[0] = input.strike;
  single.timeToExpiryYears[0] = input.timeToExpiryYears;
  single.price[0] = input.price;
  const volatility = impliedVolatilityKernel(
    kindSign(input.kind),
    modelCode(input.model),
    single.underlying,
    single.strike,
    single.timeToExpiryYears,
    single.price,
    0,
    input.rate,
    input.dividendYield ?? 0,
    single.status,
    0,
  );
  return { volatility, status: ivStatusFromCode(single.status[0] ?? Number.NaN) };
}

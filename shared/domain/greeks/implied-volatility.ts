import { ivStatusFromCode } from './codes.js';
import { impliedVolatilityKernel } from './kernels.js';
import { kindSign, modelCode } from './option-pricing.js';
import type { ImpliedVolatilityInput, ImpliedVolatilityResult } from './types.js';
import { assertImpliedVolatilityInput } from './validation.js';

const statusScratch = new Uint8Array(1);

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
  const volatility = impliedVolatilityKernel(
    kindSign(input.kind),
    modelCode(input.model),
    input.underlying,
    input.strike,
    input.timeToExpiryYears,
    input.price,
    input.rate,
    input.dividendYield ?? 0,
    statusScratch,
    0,
  );
  return { volatility, status: ivStatusFromCode(statusScratch[0] ?? Number.NaN) };
}

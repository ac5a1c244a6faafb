import { PRICING_MODEL_CODE } from './codes.js';
import { CALL, greeksKernel, PUT, priceKernel } from './kernels.js';
import type { Greeks, OptionInput, OptionKind, PricingModel } from './types.js';
import { assertOptionInput } from './validation.js';

/** Premium together with its Greeks, from one evaluation of the shared intermediate terms. */
export interface PriceWithGreeks extends Greeks {
  readonly price: number;
}

/** `CALL`/`PUT` for a kind, NaN for anything else (which the kernels treat as invalid). */
export function kindSign(kind: OptionKind): number {
  return kind === 'CE' ? CALL : kind === 'PE' ? PUT : Number.NaN;
}

/** `PRICING_MODEL_CODE` of a model, NaN for anything else (which the kernels treat as invalid). */
export function modelCode(model: PricingModel): number {
  return model === 'black-scholes'
    ? PRICING_MODEL_CODE['black-scholes']
    : model === 'black-76'
      ? PRICING_MODEL_CODE['black-76']
      : Number.NaN;
}

/** One-element columns through which the object API feeds the column-reading kernels. */
const single = {
  underlying: new Float64Array(1),
  strike: new Float64Array(1),
  timeToExpiryYears: new Float64Array(1),
  volatility: new Float64Array(1),
};
/** One-element output columns of `greeksKernel`. */
const result = {
  price: new Float64Array(1),
  delta: new Float64Array(1),
  gamma: new Float64Array(1),
  theta: new Float64Array(1),
  vega: new Float64Array(1),
  rho: new Float64Array(1),
};

function load(input: OptionInput): void {
  single.underlying[0] = input.underlying;
  single.strike[0] = input.strike;
  single.timeToExpiryYears[0] = input.timeToExpiryYears;
  single.volatility[0] = input.volatility;
}

function evaluate(input: OptionInput): void {
  load(input);
  greeksKernel(
    kindSign(input.kind),
    modelCode(input.model),
    single.underlying,
    single.strike,
    single.timeToExpiryYears,
    single.volatility,
    0,
    input.rate,
    input.dividendYield ?? 0,
    result.price,
    result.delta,
    result.gamma,
    result.theta,
    result.vega,
    result.rho,
  );
}

/**
 * Premium of a European option under Black-Scholes (on spot) or Black-76 (on the forward).
 * Throws a `RangeError` naming the field for non-finite or out-of-domain input.
 */
export function price(input: OptionInput): number {
  assertOptionInput(input);
  return priceUnchecked(input);
}

/** `price` without the input checks, for hot paths: invalid input gives NaN, never an exception. */
export function priceUnchecked(input: OptionInput): number {
  load(input);
  return priceKernel(
    kindSign(input.kind),
    modelCode(input.model),
    single.underlying,
    single.strike,
    single.timeToExpiryYears,
    single.volatility,
    0,
    input.rate,
    input.dividendYield ?? 0,
  );
}

/**
 * Delta, gamma, theta (per calendar day), vega (per volatility point) and rho (per 1 % of rate):
 * see `Greeks` for the conventions and `greeksKernel` for the behaviour at zero time or zero
 * volatility. Throws a `RangeError` naming the field for invalid input.
 */
export function greeks(input: OptionInput): Greeks {
  assertOptionInput(input);
  return greeksUnchecked(input);
}

/** `greeks` without the input checks: invalid input gives NaN Greeks, never an exception. */
export function greeksUnchecked(input: OptionInput): Greeks {
  evaluate(input);
  return {
    delta: result.delta[0] ?? Number.NaN,
    gamma: result.gamma[0] ?? Number.NaN,
    theta: result.theta[0] ?? Number.NaN,
    vega: result.vega[0] ?? Number.NaN,
    rho: result.rho[0] ?? Number.NaN,
  };
}

/**
 * Premium and Greeks in one call, sharing the logarithm, exponentials and normal probabilities
 * that both need. Throws a `RangeError` naming the field for invalid input.
 */
export function priceWithGreeks(input: OptionInput): PriceWithGreeks {
  assertOptionInput(input);
  return priceWithGreeksUnchecked(input);
}

/** `priceWithGreeks` without the input checks: invalid input gives NaN, never an exception. */
export function priceWithGreeksUnchecked(input: OptionInput): PriceWithGreeks {
  evaluate(input);
  return {
    price: result.price[0] ?? Number.NaN,
    delta: result.delta[0] ?? Number.NaN,
    gamma: result.gamma[0] ?? Number.NaN,
    theta: result.theta[0] ?? Number.NaN,
    vega: result.vega[0] ?? Number.NaN,
    rho: result.rho[0] ?? Number.NaN,
  };
}

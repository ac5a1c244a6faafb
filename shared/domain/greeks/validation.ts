import type { ImpliedVolatilityInput, OptionInput } from './types.js';

/**
 * Input checks of the public (checked) API. A bad number reaching the Greeks is a programming or
 * data error upstream, so it fails loudly with a `RangeError` whose message names the field and
 * shows the value ("timeToExpiryYears must be >= 0, got -1"); the hot path uses the unchecked
 * kernels instead, which return NaN and a status.
 */

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function requireFinite(field: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${field} must be a finite number, got ${describe(value)}`);
  }
}

function requirePositive(field: string, value: unknown): void {
  requireFinite(field, value);
  if (!(value > 0)) throw new RangeError(`${field} must be > 0, got ${describe(value)}`);
}

function requireNonNegative(field: string, value: unknown): void {
  requireFinite(field, value);
  if (!(value >= 0)) throw new RangeError(`${field} must be >= 0, got ${describe(value)}`);
}

type CommonInput = Omit<OptionInput, 'volatility'>;

function assertCommonInput(input: CommonInput): void {
  if (input.kind !== 'CE' && input.kind !== 'PE') {
    throw new RangeError(`kind must be 'CE' or 'PE', got ${describe(input.kind)}`);
  }
  if (input.model !== 'black-scholes' && input.model !== 'black-76') {
    throw new RangeError(`model must be 'black-scholes' or 'black-76', got ${describe(input.model)}`);
  }
  requirePositive('underlying', input.underlying);
  requirePositive('strike', input.strike);
  requireNonNegative('timeToExpiryYears', input.timeToExpiryYears);
  requireFinite('rate', input.rate);
  if (input.dividendYield !== undefined) {
    requireFinite('dividendYield', input.dividendYield);
    if (input.model === 'black-76' && input.dividendYield !== 0) {
      throw new RangeError(
        `dividendYield applies to black-scholes only (black-76 takes the forward), got ${input.dividendYield}`,
      );
    }
  }
}

/** Throws a `RangeError` naming the first invalid field of a pricing input. */
export function assertOptionInput(input: OptionInput): void {
  assertCommonInput(input);
  requireNonNegative('volatility', input.volatility);
}

/** Throws a `RangeError` naming the first invalid field of an implied-volatility input. */
export function assertImpliedVolatilityInput(input: ImpliedVolatilityInput): void {
  assertCommonInput(input);
  requireNonNegative('price', input.price);
}

import { describe, expect, it } from 'vitest';
import { roundTo, TICK_DECIMALS } from '../../../shared/domain/market/decimal-places.js';
import {
  DEFAULT_FALLBACK_VOLATILITY,
  engineDividendYield,
  usableVolatility,
} from '../../../shared/domain/market/pricing-parameters.js';

describe('pricing parameters', () => {
  it('hands the configured dividend yield to Black-Scholes only: Black-76 prices the forward', () => {
    expect(engineDividendYield({ model: 'black-scholes', rate: 0.1, dividendYield: 0.012 })).toBe(0.012);
    expect(engineDividendYield({ model: 'black-76', rate: 0.1, dividendYield: 0.012 })).toBe(0);
  });

  it('falls back to a typical index volatility when the one given cannot price', () => {
    expect(DEFAULT_FALLBACK_VOLATILITY).toBe(0.15);
    expect(usableVolatility(0.2)).toBe(0.2);
    expect(usableVolatility(Number.MIN_VALUE)).toBe(Number.MIN_VALUE);
    for (const bad of [undefined, 0, -0.2, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(usableVolatility(bad)).toBe(DEFAULT_FALLBACK_VOLATILITY);
    }
  });
});

describe('tick decimals', () => {
  it('rounds half away from zero for positive halves, as Math.round does', () => {
    expect(roundTo(0.1234565, 6)).toBe(0.123457);
    expect(roundTo(1.5, 0)).toBe(2);
    expect(roundTo(-0.0000004, 6)).toBe(-0);
    expect(roundTo(0.000000123456, TICK_DECIMALS.gamma)).toBe(0.00000012);
  });

  it('leaves values too large for their places, and non-finite ones, as they are', () => {
    // 1e9 at 6 places is 1e15 units: past the exact-integer range the rounding would work in.
    expect(roundTo(1e9 + 0.1234567, 6)).toBe(1e9 + 0.1234567);
    expect(roundTo(-(1e9 + 0.1234567), 6)).toBe(-(1e9 + 0.1234567));
    expect(roundTo(999_999_999.1234567, 6)).toBe(999_999_999.123457);
    expect(roundTo(-999_999_999.1234567, 6)).toBe(-999_999_999.123457);
    // At whole places the largest kept value is below 1e15 units; one that rounds to 1e15 is kept as is.
    expect(roundTo(999_999_999_999_999.4, 0)).toBe(999_999_999_999_999);
    expect(roundTo(999_999_999_999_999.6, 0)).toBe(999_999_999_999_999.6);
    expect(roundTo(-999_999_999_999_999.6, 0)).toBe(-999_999_999_999_999.6);
    expect(roundTo(Number.NaN, 6)).toBeNaN();
    expect(roundTo(Number.POSITIVE_INFINITY, 6)).toBe(Number.POSITIVE_INFINITY);
    expect(roundTo(Number.NEGATIVE_INFINITY, 6)).toBe(Number.NEGATIVE_INFINITY);
  });
});

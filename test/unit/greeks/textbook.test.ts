import { describe, expect, it } from 'vitest';
import { greeks, price, priceWithGreeks } from '../../../shared/domain/greeks/index.js';
import { planCase, relativeError } from './reference-fixtures.js';

/** Worked examples from J. C. Hull, "Options, Futures, and Other Derivatives", at their printed precision. */
describe('price and greeks against textbook examples', () => {
  it('prices the Black-Scholes example S=42, K=40, r=10 %, σ=20 %, T=0.5: call 4.76, put 0.81', () => {
    const base = {
      model: 'black-scholes',
      underlying: 42,
      strike: 40,
      timeToExpiryYears: 0.5,
      volatility: 0.2,
      rate: 0.1,
    } as const;
    expect(price({ ...base, kind: 'CE' })).toBeCloseTo(4.76, 2);
    expect(price({ ...base, kind: 'PE' })).toBeCloseTo(0.81, 2);
  });

  it('gives the Greeks of the example S=49, K=50, r=5 %, σ=20 %, T=0.3846 in py_vollib units', () => {
    const input = {
      kind: 'CE',
      model: 'black-scholes',
      underlying: 49,
      strike: 50,
      timeToExpiryYears: 0.3846,
      volatility: 0.2,
      rate: 0.05,
    } as const;
    const result = greeks(input);
    expect(price(input)).toBeCloseTo(2.4, 2);
    expect(result.delta).toBeCloseTo(0.522, 3);
    expect(result.gamma).toBeCloseTo(0.066, 3);
    // Hull quotes theta −4.31 per year and vega 12.1, rho 8.91 per unit: per day, per point, per %.
    expect(result.theta * 365).toBeCloseTo(-4.31, 2);
    expect(result.vega * 100).toBeCloseTo(12.1, 1);
    expect(result.rho * 100).toBeCloseTo(8.91, 2);
  });

  it('prices the Black-76 futures option F=20, K=20, r=9 %, σ=25 %, T=4 months at 1.12', () => {
    const input = {
      kind: 'PE',
      model: 'black-76',
      underlying: 20,
      strike: 20,
      timeToExpiryYears: 4 / 12,
      volatility: 0.25,
      rate: 0.09,
    } as const;
    expect(price(input)).toBeCloseTo(1.12, 2);
    expect(price({ ...input, kind: 'CE' })).toBe(price(input));
  });

  it('agrees with the 40-digit closed forms on the textbook and carry examples', () => {
    for (const name of [
      'hull-call',
      'hull-put',
      'hull-greeks-call',
      'hull-futures-put',
      'dividend-put',
      'futures-call',
    ]) {
      const reference = planCase(name);
      const actual = priceWithGreeks(reference);
      for (const field of ['price', 'delta', 'gamma', 'theta', 'vega', 'rho'] as const) {
        expect(relativeError(actual[field], reference[field]), `${name} ${field}`).toBeLessThanOrEqual(1e-13);
      }
    }
  });

  it('takes Black-76 rho with the forward held fixed: −T·V/100', () => {
    const input = {
      kind: 'CE',
      model: 'black-76',
      underlying: 19100,
      strike: 19000,
      timeToExpiryYears: 0.25,
      volatility: 0.2,
      rate: 0.07,
    } as const;
    expect(greeks(input).rho).toBeCloseTo((-0.25 * price(input)) / 100, 12);
  });
});

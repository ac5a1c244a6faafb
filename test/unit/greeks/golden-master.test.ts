import { describe, expect, it } from 'vitest';
import { priceWithGreeksUnchecked } from '../../../shared/domain/greeks/index.js';
import { describeOption, goldenMaster, type ReferenceValues, relativeError } from './reference-fixtures.js';

const FIELDS: readonly (keyof ReferenceValues)[] = ['price', 'delta', 'gamma', 'theta', 'vega', 'rho'];

describe('greeks golden master', () => {
  it('TC-REG-010: 100 baseline scenarios (ATM/ITM/OTM, 1–90 days, vol 10–50 %, calls and puts) match within 0.01 %', () => {
    const scenarios = goldenMaster();
    expect(scenarios).toHaveLength(100);
    const kinds = new Set(scenarios.map((s) => s.kind));
    const days = scenarios.map((s) => Math.round(s.timeToExpiryYears * 365));
    const vols = scenarios.map((s) => s.volatility);
    expect(kinds).toEqual(new Set(['CE', 'PE']));
    expect(Math.min(...days)).toBe(1);
    expect(Math.max(...days)).toBe(90);
    expect(Math.min(...vols)).toBeCloseTo(0.1, 12);
    expect(Math.max(...vols)).toBeCloseTo(0.5, 12);
    expect(new Set(scenarios.map((s) => Math.sign(s.underlying - s.strike)))).toEqual(new Set([-1, 0, 1]));
    for (const scenario of scenarios) {
      const actual = priceWithGreeksUnchecked(scenario);
      for (const field of FIELDS) {
        expect(
          relativeError(actual[field], scenario[field]),
          `${field} ${describeOption(scenario)}`,
        ).toBeLessThanOrEqual(1e-4);
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import {
  impliedVolatilityUnchecked,
  type OptionInput,
  priceWithGreeksUnchecked,
} from '../../../shared/domain/greeks/index.js';
import {
  accuracyGrid,
  describeOption,
  impliedVolatilityReferences,
  type ReferenceValues,
  relativeError,
} from './reference-fixtures.js';

/**
 * Accuracy against 40-digit mpmath closed forms over a grid: moneyness ±30 %, 1 hour to 1 year,
 * volatility 5 % to 100 %, calls and puts, Black-Scholes (with and without dividends, negative
 * rate) and Black-76. Values whose magnitude is at most 1e-300 are skipped: they sit at the edge
 * of double precision (subnormal numbers carry fewer digits).
 *
 * What limits the accuracy is the conditioning of the problem, not the algorithm: at the far end
 * of the grid (prices near 1e-300, |d₁| ≈ 37) a rounding of the inputs by one ulp changes the
 * value by |d₁|²·ε ≈ 3e-13 relative, and that is the worst error observed.
 */
const PRICE_AND_GREEKS_TOLERANCE = 1e-12;
const ROUND_TRIP_TOLERANCE = 1e-13;
const EPSILON = Number.EPSILON;
const FIELDS: readonly (keyof ReferenceValues)[] = ['price', 'delta', 'gamma', 'theta', 'vega', 'rho'];

const grid = accuracyGrid();

describe('priceWithGreeks accuracy', () => {
  it('matches the 40-digit closed forms to 1e-12 relative for the price and every Greek over the grid', () => {
    expect(grid.length).toBeGreaterThan(2000);
    const worst = new Map<keyof ReferenceValues, { error: number; where: string }>();
    for (const option of grid) {
      const actual = priceWithGreeksUnchecked(option);
      for (const field of FIELDS) {
        const expected = option[field];
        if (!(Math.abs(expected) > 1e-300)) continue;
        const error = relativeError(actual[field], expected);
        if (!(error <= (worst.get(field)?.error ?? 0))) {
          worst.set(field, { error, where: describeOption(option) });
        }
      }
    }
    for (const field of FIELDS) {
      const found = worst.get(field) ?? { error: 0, where: 'none' };
      expect(found.error, `${field}, worst at ${found.where}`).toBeLessThanOrEqual(PRICE_AND_GREEKS_TOLERANCE);
    }
  });
});

describe('impliedVolatility accuracy', () => {
  it('round-trips price → IV to 1e-13 where the option has time value (condition number up to 100)', () => {
    let checked = 0;
    for (const option of grid) {
      const { price, vega } = priceWithGreeksUnchecked(option);
      if (!(price > 1e-300)) continue;
      // κ = V/(σ·∂V/∂σ): a relative error δ in the premium moves the IV by κ·δ.
      const conditionNumber = price / (option.volatility * vega * 100);
      const { volatility, status } = impliedVolatilityUnchecked({ ...option, price });
      const where = `${describeOption(option)} κ=${conditionNumber}`;
      if (conditionNumber <= 100) {
        checked++;
        expect(status, where).toBe('ok');
        expect(relativeError(volatility, option.volatility), where).toBeLessThanOrEqual(ROUND_TRIP_TOLERANCE);
      } else if (status === 'ok') {
        // Mostly intrinsic value: the IV is as good as the premium's last digits allow, κ·ε.
        expect(relativeError(volatility, option.volatility), where).toBeLessThanOrEqual(4 * conditionNumber * EPSILON);
      } else {
        expect(status, where).toBe('no-time-value');
      }
    }
    expect(checked).toBeGreaterThan(1400);
  });

  it('recovers the 40-digit implied volatility of a double premium to within a few ulps times the condition number', () => {
    const quotes = impliedVolatilityReferences();
    expect(quotes.length).toBeGreaterThan(1000);
    for (const quote of quotes) {
      const { volatility, status } = impliedVolatilityUnchecked(quote);
      const where = `${describeOption({ ...quote, volatility: quote.volatility })} κ=${quote.conditionNumber}`;
      expect(status, where).toBe('ok');
      const tolerance = Math.max(1e-14, 16 * quote.conditionNumber * EPSILON);
      expect(relativeError(volatility, quote.volatility), where).toBeLessThanOrEqual(tolerance);
    }
  });

  it('solves every option of the grid that has a representable time value, calls and puts, both models', () => {
    const statuses = new Map<string, number>();
    for (const option of grid) {
      const input: Omit<OptionInput, 'volatility'> & { price: number } = { ...option, price: option.price };
      const { status } = impliedVolatilityUnchecked(input);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect([...statuses.keys()].sort()).toEqual(['no-time-value', 'ok']);
  });
});

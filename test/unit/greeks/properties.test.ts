import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  greeks,
  impliedVolatility,
  type OptionInput,
  price,
  priceWithGreeks,
} from '../../../shared/domain/greeks/index.js';

/** Random options in a wide but realistic domain: moneyness ±50 %, 1 hour to 2 years, vol 1–150 %. */
const optionArbitrary = fc.record({
  kind: fc.constantFrom('CE' as const, 'PE' as const),
  model: fc.constantFrom('black-scholes' as const, 'black-76' as const),
  underlying: fc.double({ min: 100, max: 50000, noNaN: true }),
  moneyness: fc.double({ min: 0.5, max: 1.5, noNaN: true }),
  timeToExpiryYears: fc.double({ min: 1 / 8760, max: 2, noNaN: true }),
  volatility: fc.double({ min: 0.01, max: 1.5, noNaN: true }),
  rate: fc.double({ min: -0.01, max: 0.15, noNaN: true }),
  dividendYield: fc.double({ min: 0, max: 0.05, noNaN: true }),
});

type Generated = typeof optionArbitrary extends fc.Arbitrary<infer T> ? T : never;

function toInput(g: Generated): OptionInput {
  return {
    kind: g.kind,
    model: g.model,
    underlying: g.underlying,
    strike: g.underlying * g.moneyness,
    timeToExpiryYears: g.timeToExpiryYears,
    volatility: g.volatility,
    rate: g.rate,
    dividendYield: g.model === 'black-scholes' ? g.dividendYield : 0,
  };
}

/** e^{−qT}·S (Black-Scholes) or e^{−rT}·F (Black-76): the discounted forward. */
function discountedForward(input: OptionInput): number {
  const q = input.model === 'black-scholes' ? (input.dividendYield ?? 0) : input.rate;
  return input.underlying * Math.exp(-q * input.timeToExpiryYears);
}

const RUNS = { numRuns: 2000 };
/** The largest subnormal double: prices below it carry no relative precision. */
const SUBNORMAL = 2.2250738585072009e-308;

describe('price and greeks properties', () => {
  it('satisfies put-call parity C − P = D·(F − K) to rounding', () => {
    fc.assert(
      fc.property(optionArbitrary, (g) => {
        const input = toInput(g);
        const call = price({ ...input, kind: 'CE' });
        const put = price({ ...input, kind: 'PE' });
        const discountedStrike = input.strike * Math.exp(-input.rate * input.timeToExpiryYears);
        const forward = discountedForward(input);
        const scale = call + put + forward + discountedStrike;
        expect(Math.abs(call - put - (forward - discountedStrike))).toBeLessThanOrEqual(1e-14 * scale);
      }),
      RUNS,
    );
  });

  it('has call delta − put delta = e^{−qT} (Black-76: e^{−rT}) and equal gamma and vega', () => {
    fc.assert(
      fc.property(optionArbitrary, (g) => {
        const input = toInput(g);
        const call = greeks({ ...input, kind: 'CE' });
        const put = greeks({ ...input, kind: 'PE' });
        expect(call.delta - put.delta).toBeCloseTo(discountedForward(input) / input.underlying, 14);
        expect(call.gamma).toBe(put.gamma);
        expect(call.vega).toBe(put.vega);
      }),
      RUNS,
    );
  });

  it('is non-decreasing in volatility', () => {
    fc.assert(
      fc.property(optionArbitrary, fc.double({ min: 1e-6, max: 1, noNaN: true }), (g, bump) => {
        const input = toInput(g);
        const higher = { ...input, volatility: input.volatility * (1 + bump) };
        expect(price(higher)).toBeGreaterThanOrEqual(price(input));
      }),
      RUNS,
    );
  });

  it('is non-increasing in strike for calls and non-decreasing for puts', () => {
    fc.assert(
      fc.property(optionArbitrary, fc.double({ min: 1e-6, max: 0.5, noNaN: true }), (g, bump) => {
        const input = toInput(g);
        const higherStrike = { ...input, strike: input.strike * (1 + bump) };
        // Prices of far out-of-the-money options can be subnormal (below 2.2e-308), where doubles
        // keep a fixed absolute spacing and neighbours may come out a unit apart either way
        // (3.7895e-320 against 3.79e-320 for a strike 8e-6 higher): order is asserted above that.
        if (input.kind === 'CE') expect(price(higherStrike)).toBeLessThanOrEqual(price(input) + SUBNORMAL);
        else expect(price(higherStrike) + SUBNORMAL).toBeGreaterThanOrEqual(price(input));
      }),
      RUNS,
    );
  });

  it('stays between the no-arbitrage bounds: intrinsic value below, D·F (calls) or D·K (puts) above', () => {
    fc.assert(
      fc.property(optionArbitrary, (g) => {
        const input = toInput(g);
        const value = price(input);
        const forward = discountedForward(input);
        const strike = input.strike * Math.exp(-input.rate * input.timeToExpiryYears);
        const [intrinsic, ceiling] =
          input.kind === 'CE' ? [Math.max(forward - strike, 0), forward] : [Math.max(strike - forward, 0), strike];
        // The bound itself is a difference of two rounded terms: allow their rounding.
        expect(value).toBeGreaterThanOrEqual(intrinsic - 1e-14 * (forward + strike));
        expect(value).toBeLessThanOrEqual(ceiling);
      }),
      RUNS,
    );
  });

  it('has Greeks equal to central differences of the price', () => {
    fc.assert(
      fc.property(optionArbitrary, (g) => {
        const input = toInput(g);
        const { price: value, ...analytic } = priceWithGreeks(input);
        // Only where the option has enough time value for a difference quotient to carry digits.
        fc.pre(value > 1e-3 * input.underlying && input.timeToExpiryYears > 2e-3);
        const { underlying: S, timeToExpiryYears: T, volatility: sigma } = input;
        // Steps are powers of two (so x ± h is exact), 1e-4 of each variable's natural scale;
        // each tolerance is truncation (relative) plus the rounding of the prices (ε·V/h).
        const step = (size: number): number => 2 ** Math.round(Math.log2(size));
        const roundOff = (h: number, order: 1 | 2): number => (64 * Number.EPSILON * value) / h ** order;
        const central = (bump: (h: number) => OptionInput, h: number): number =>
          (price(bump(h)) - price(bump(-h))) / (2 * h);
        const s = sigma * Math.sqrt(T);
        const hS = step(1e-4 * S * s);
        const delta = central((h) => ({ ...input, underlying: S + h }), hS);
        const gamma =
          (price({ ...input, underlying: S + hS }) - 2 * value + price({ ...input, underlying: S - hS })) / hS ** 2;
        const hT = step(1e-4 * T);
        const theta = -central((h) => ({ ...input, timeToExpiryYears: T + h }), hT) / 365;
        const hSigma = step(1e-4 * sigma);
        const vega = central((h) => ({ ...input, volatility: sigma + h }), hSigma) / 100;
        // A rate bump moves ln(F/K) by h·T, whose natural scale is s = σ√T.
        const hRate = step((1e-4 * s) / T);
        const rho = central((h) => ({ ...input, rate: input.rate + h }), hRate) / 100;
        expect(Math.abs(analytic.delta - delta)).toBeLessThanOrEqual(1e-5 + roundOff(hS, 1));
        expect(Math.abs(analytic.gamma - gamma)).toBeLessThanOrEqual(1e-3 * analytic.gamma + roundOff(hS, 2));
        expect(Math.abs(analytic.theta - theta)).toBeLessThanOrEqual((1e-5 * value) / T / 365 + roundOff(hT, 1) / 365);
        expect(Math.abs(analytic.vega - vega)).toBeLessThanOrEqual(
          (1e-5 * value) / sigma / 100 + roundOff(hSigma, 1) / 100,
        );
        expect(Math.abs(analytic.rho - rho)).toBeLessThanOrEqual(
          (1e-5 * input.strike * T) / 100 + roundOff(hRate, 1) / 100,
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('impliedVolatility properties', () => {
  it('round-trips random options to 1e-13 relative wherever they have time value', () => {
    let solved = 0;
    fc.assert(
      fc.property(optionArbitrary, (g) => {
        const input = toInput(g);
        const { price: premium, vega } = priceWithGreeks(input);
        // κ = V/(σ·∂V/∂σ) amplifies the premium's rounding into the IV. Where κ <= 100 the premium
        // is mostly time value and the IV must come back to 1e-13; deeper in the money, to 4·κ·ε.
        const conditionNumber = premium / (input.volatility * vega * 100);
        fc.pre(premium > 1e-300 && conditionNumber < 1e4);
        const result = impliedVolatility({ ...input, price: premium });
        expect(result.status).toBe('ok');
        const tolerance = conditionNumber <= 100 ? 1e-13 : 4 * conditionNumber * Number.EPSILON;
        expect(Math.abs(result.volatility - input.volatility) / input.volatility).toBeLessThanOrEqual(tolerance);
        if (conditionNumber <= 100) solved++;
      }),
      { numRuns: 5000 },
    );
    expect(solved).toBeGreaterThan(2500);
  });

  it('never throws on valid input and always returns a status, whatever the premium', () => {
    fc.assert(
      fc.property(optionArbitrary, fc.double({ min: 0, max: 1e6, noNaN: true }), (g, premium) => {
        const result = impliedVolatility({ ...toInput(g), price: premium });
        if (result.status === 'ok') expect(result.volatility).toBeGreaterThan(0);
        else if (result.status === 'no-time-value') expect(result.volatility).toBe(0);
        else expect(result.volatility).toBeNaN();
        expect(['ok', 'below-intrinsic', 'no-time-value', 'above-maximum']).toContain(result.status);
      }),
      RUNS,
    );
  });
});

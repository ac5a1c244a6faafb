import { describe, expect, it } from 'vitest';
import {
  greeks,
  greeksUnchecked,
  impliedVolatility,
  impliedVolatilityUnchecked,
  type OptionInput,
  price,
  priceUnchecked,
  priceWithGreeksUnchecked,
} from '../../../shared/domain/greeks/index.js';
import { planCase, type ReferenceOption, relativeError } from './reference-fixtures.js';

/** The plan's reference option: NIFTY at 19000, strike 19000, IV 15 %, 7 days, NSE defaults. */
const DAY = 1 / 365;
const atm: OptionInput = {
  kind: 'CE',
  model: 'black-scholes',
  underlying: 19000,
  strike: 19000,
  timeToExpiryYears: 7 * DAY,
  volatility: 0.15,
  rate: 0.1,
};

/** An input of the wrong shape, as untyped data would bring it. */
const bad = (input: unknown) => input as OptionInput;

/** The price and Greeks agree with the 40-digit closed form to 1e-12 (relative). */
function expectMatchesReference(input: OptionInput, reference: ReferenceOption): void {
  const actual = priceWithGreeksUnchecked(input);
  for (const field of ['price', 'delta', 'gamma', 'theta', 'vega', 'rho'] as const) {
    expect(relativeError(actual[field], reference[field]), field).toBeLessThanOrEqual(1e-12);
  }
}

describe('greeks (Black-Scholes calculations)', () => {
  it('TC-GRK-001: call delta is about 0.5 at the money, above 0.55 in the money, below 0.45 out of it', () => {
    const atmDelta = greeks(atm).delta;
    const itmDelta = greeks({ ...atm, underlying: 19500 }).delta;
    const otmDelta = greeks({ ...atm, underlying: 18500 }).delta;
    expect(atmDelta).toBeGreaterThanOrEqual(0.45);
    expect(atmDelta).toBeLessThanOrEqual(0.55);
    expect(itmDelta).toBeGreaterThan(0.55);
    expect(otmDelta).toBeLessThan(0.45);
    for (const underlying of [15000, 18000, 18500, 19000, 19500, 20000, 23000]) {
      const { delta } = greeks({ ...atm, underlying });
      expect(delta).toBeGreaterThanOrEqual(0);
      expect(delta).toBeLessThanOrEqual(1);
    }
    expectMatchesReference(atm, planCase('atm-call-7d'));
    expectMatchesReference({ ...atm, underlying: 19500 }, planCase('itm-call-7d'));
    expectMatchesReference({ ...atm, underlying: 18500 }, planCase('otm-call-7d'));
  });

  it('TC-GRK-002: put delta is about −0.5 at the money, below −0.55 in the money, above −0.45 out of it', () => {
    const put: OptionInput = { ...atm, kind: 'PE' };
    const atmDelta = greeks(put).delta;
    const itmDelta = greeks({ ...put, underlying: 18500 }).delta;
    const otmDelta = greeks({ ...put, underlying: 19500 }).delta;
    expect(atmDelta).toBeGreaterThanOrEqual(-0.55);
    expect(atmDelta).toBeLessThanOrEqual(-0.45);
    expect(itmDelta).toBeLessThan(-0.55);
    expect(otmDelta).toBeGreaterThan(-0.45);
    for (const underlying of [15000, 18000, 18500, 19000, 19500, 20000, 23000]) {
      const { delta } = greeks({ ...put, underlying });
      expect(delta).toBeGreaterThanOrEqual(-1);
      expect(delta).toBeLessThanOrEqual(0);
    }
    expectMatchesReference(put, planCase('atm-put-7d'));
    expectMatchesReference({ ...put, underlying: 18500 }, planCase('itm-put-7d'));
    expectMatchesReference({ ...put, underlying: 19500 }, planCase('otm-put-7d'));
  });

  it('TC-GRK-003: gamma is the same for calls and puts, positive, highest at the money and falls away from it', () => {
    const strikes = [17000, 18000, 18500, 19000, 19500, 20000, 21000];
    const gammas = strikes.map((strike) => greeks({ ...atm, strike }).gamma);
    strikes.forEach((strike, i) => {
      expect(greeks({ ...atm, strike, kind: 'PE' }).gamma).toBe(gammas[i]);
      expect(gammas[i]).toBeGreaterThan(0);
    });
    const atmGamma = greeks(atm).gamma;
    expect(atmGamma).toBeGreaterThan(greeks({ ...atm, strike: 18500 }).gamma);
    expect(atmGamma).toBeGreaterThan(greeks({ ...atm, strike: 19500 }).gamma);
    // Decreasing towards deep ITM (low strikes for a call) and deep OTM (high strikes).
    for (let i = 0; i < 3; i++) expect(gammas[i]).toBeLessThan(gammas[i + 1] ?? Number.NaN);
    for (let i = 3; i < strikes.length - 1; i++) expect(gammas[i + 1]).toBeLessThan(gammas[i] ?? Number.NaN);
  });

  it('TC-GRK-003: gamma of an option away from the money decreases as expiry approaches (at the money it rises)', () => {
    const otm: OptionInput = { ...atm, strike: 20000 };
    const itm: OptionInput = { ...atm, strike: 18000 };
    for (const option of [otm, itm]) {
      const g30 = greeks({ ...option, timeToExpiryYears: 30 * DAY }).gamma;
      const g7 = greeks({ ...option, timeToExpiryYears: 7 * DAY }).gamma;
      const g1 = greeks({ ...option, timeToExpiryYears: DAY }).gamma;
      expect(g7).toBeLessThan(g30);
      expect(g1).toBeLessThan(g7);
    }
    expect(greeks({ ...atm, timeToExpiryYears: DAY }).gamma).toBeGreaterThan(greeks(atm).gamma);
  });

  it('TC-GRK-004: ATM theta is negative and accelerates towards expiry (30 d > 7 d >> 1 d)', () => {
    const theta30 = greeks({ ...atm, timeToExpiryYears: 30 * DAY }).theta;
    const theta7 = greeks(atm).theta;
    const theta1 = greeks({ ...atm, timeToExpiryYears: DAY }).theta;
    expect(theta30).toBeLessThan(0);
    expect(theta7).toBeLessThan(theta30);
    expect(theta1).toBeLessThan(2 * theta7);
    for (const kind of ['CE', 'PE'] as const) {
      for (const strike of [18500, 19000, 19500]) {
        expect(greeks({ ...atm, kind, strike }).theta).toBeLessThan(0);
      }
    }
    for (const strike of [15000, 17000, 21000, 23000]) expect(greeks({ ...atm, strike }).theta).toBeLessThan(0);
    expectMatchesReference({ ...atm, timeToExpiryYears: 30 * DAY }, planCase('atm-call-30d'));
    expectMatchesReference({ ...atm, timeToExpiryYears: DAY }, planCase('atm-call-1d'));
  });

  it('theta of a deep in-the-money European put is positive: interest on the strike outweighs time value', () => {
    const deepItmPut: OptionInput = { ...atm, kind: 'PE', strike: 21000, timeToExpiryYears: 30 * DAY };
    expect(greeks(deepItmPut).theta).toBeGreaterThan(0);
  });

  it('TC-GRK-005: vega is positive, larger for longer-dated and for at-the-money options, within 0..100', () => {
    const vega7 = greeks(atm).vega;
    const vega30 = greeks({ ...atm, timeToExpiryYears: 30 * DAY }).vega;
    const otmVega = greeks({ ...atm, strike: 20000 }).vega;
    expect(vega7).toBeGreaterThan(0);
    expect(vega30).toBeGreaterThan(vega7);
    expect(vega7).toBeGreaterThan(otmVega);
    expect(otmVega).toBeGreaterThan(0);
    for (const value of [vega7, vega30, otmVega]) {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThan(100);
    }
  });
});

describe('impliedVolatility (derivation from a market price)', () => {
  it('TC-GRK-010: a Rs. 250 premium gives an IV between 5 % and 50 % that reprices to the premium', () => {
    const quote = { ...atm, price: 250 };
    const result = impliedVolatility(quote);
    expect(result.status).toBe('ok');
    expect(result.volatility).toBeGreaterThanOrEqual(0.05);
    expect(result.volatility).toBeLessThanOrEqual(0.5);
    const repriced = price({ ...atm, volatility: result.volatility });
    expect(Math.abs(repriced - 250) / 250).toBeLessThanOrEqual(0.01);
    expect(relativeError(repriced, 250)).toBeLessThanOrEqual(1e-13);
    const put = impliedVolatility({ ...quote, kind: 'PE', price: 200 });
    expect(put.status).toBe('ok');
    expect(relativeError(price({ ...atm, kind: 'PE', volatility: put.volatility }), 200)).toBeLessThanOrEqual(1e-13);
  });

  it('TC-GRK-011: a zero premium does not throw and returns IV 0 with status no-time-value', () => {
    const otmCall = { ...atm, strike: 20000, price: 0 };
    expect(() => impliedVolatility(otmCall)).not.toThrow();
    expect(impliedVolatility(otmCall)).toEqual({ volatility: 0, status: 'no-time-value' });
    expect(impliedVolatilityUnchecked(otmCall)).toEqual({ volatility: 0, status: 'no-time-value' });
    // A zero premium on an in-the-money option is below its intrinsic value: no IV exists.
    const itm = impliedVolatility({ ...atm, strike: 18000, price: 0 });
    expect(itm.status).toBe('below-intrinsic');
    expect(itm.volatility).toBeNaN();
  });

  it('TC-GRK-012: a 0.01 premium on a deep OTM option converges in a fixed number of steps and reprices', () => {
    for (const strike of [20500, 21000, 22000]) {
      const input = { ...atm, strike, price: 0.01 };
      const result = impliedVolatility(input);
      expect(result.status).toBe('ok');
      expect(result.volatility).toBeGreaterThan(0.05);
      expect(result.volatility).toBeLessThan(2);
      expect(relativeError(price({ ...atm, strike, volatility: result.volatility }), 0.01)).toBeLessThanOrEqual(1e-13);
    }
    // Ever smaller premiums down to the smallest normal double stay finite and solvable.
    for (let premium = 1e-2; premium > 1e-300; premium *= 1e-7) {
      const result = impliedVolatility({ ...atm, strike: 21000, price: premium });
      expect(result.status).toBe('ok');
      expect(Number.isFinite(result.volatility)).toBe(true);
    }
  });
});

describe('greeks (edge cases)', () => {
  it('TC-GRK-020: at zero time to expiry the Greeks are intrinsic: delta 1 or 0, no gamma, theta or vega', () => {
    const expiring: OptionInput = { ...atm, timeToExpiryYears: 0 };
    expect(() => greeks(expiring)).not.toThrow();
    const itmCall = greeks({ ...expiring, underlying: 19500 });
    const otmCall = greeks({ ...expiring, underlying: 18500 });
    expect(itmCall).toEqual({ delta: 1, gamma: 0, theta: 0, vega: 0, rho: 0 });
    expect(otmCall).toEqual({ delta: 0, gamma: 0, theta: 0, vega: 0, rho: 0 });
    expect(greeks({ ...expiring, kind: 'PE', underlying: 18500 }).delta).toBe(-1);
    expect(greeks({ ...expiring, kind: 'PE', underlying: 19500 }).delta).toBe(0);
    // Exactly at the money the delta is ±0.5, the limit of the smooth delta, so call − put = 1.
    expect(greeks(expiring).delta).toBe(0.5);
    expect(greeks({ ...expiring, kind: 'PE' }).delta).toBe(-0.5);
    expect(price({ ...expiring, underlying: 19500 })).toBe(500);
    expect(price({ ...expiring, underlying: 18500 })).toBe(0);
  });

  it('TC-GRK-021: a negative time to expiry is rejected with a RangeError naming the field', () => {
    const negative: OptionInput = { ...atm, timeToExpiryYears: -1 };
    expect(() => greeks(negative)).toThrow(RangeError);
    expect(() => greeks(negative)).toThrow('timeToExpiryYears must be >= 0, got -1');
    expect(() => price(negative)).toThrow('timeToExpiryYears must be >= 0, got -1');
    expect(() => impliedVolatility({ ...negative, price: 100 })).toThrow('timeToExpiryYears must be >= 0, got -1');
    // The hot path attempts no calculation either: NaN and an `invalid` status.
    expect(priceUnchecked(negative)).toBeNaN();
    expect(impliedVolatilityUnchecked({ ...negative, price: 100 })).toEqual({
      volatility: Number.NaN,
      status: 'invalid',
    });
  });

  it('TC-GRK-022: volatilities of 100 % and 1 % complete with finite Greeks in the expected order', () => {
    const high = { ...atm, volatility: 1 };
    const low = { ...atm, volatility: 0.01 };
    const [highGreeks, lowGreeks, baseGreeks] = [greeks(high), greeks(low), greeks(atm)];
    for (const values of [highGreeks, lowGreeks, baseGreeks]) {
      for (const value of Object.values(values)) expect(Number.isFinite(value)).toBe(true);
    }
    expect(price(high)).toBeGreaterThan(price(atm));
    expect(price(atm)).toBeGreaterThan(price(low));
    expect(highGreeks.vega).toBeGreaterThan(lowGreeks.vega);
    expect(highGreeks.delta).toBeGreaterThan(0);
    expect(highGreeks.delta).toBeLessThan(1);
    expect(lowGreeks.delta).toBeGreaterThan(0);
    expect(lowGreeks.delta).toBeLessThan(1);
    expectMatchesReference(high, planCase('atm-call-7d-vol-100'));
    expectMatchesReference(low, planCase('atm-call-7d-vol-1'));
  });

  it('TC-GRK-023: NaN or infinite inputs are detected: the checked API throws, the hot path returns NaN', () => {
    expect(() => greeks({ ...atm, underlying: Number.NaN })).toThrow('underlying must be a finite number, got NaN');
    expect(() => greeks({ ...atm, strike: Number.POSITIVE_INFINITY })).toThrow(
      'strike must be a finite number, got Infinity',
    );
    expect(() => price({ ...atm, volatility: Number.NaN })).toThrow(RangeError);
    expect(() => impliedVolatility({ ...atm, price: Number.NaN })).toThrow('price must be a finite number, got NaN');
    expect(() => greeks({ ...atm, rate: Number.NEGATIVE_INFINITY })).toThrow('rate must be a finite number');
    const unchecked = greeksUnchecked({ ...atm, underlying: Number.NaN });
    for (const value of Object.values(unchecked)) expect(value).toBeNaN();
    expect(impliedVolatilityUnchecked({ ...atm, strike: Number.POSITIVE_INFINITY, price: 10 }).status).toBe('invalid');
    // An unknown kind or model is priced as neither call nor put, model as neither model.
    const unknownKind = bad({ ...atm, kind: 'XX' });
    expect(priceUnchecked(unknownKind)).toBeNaN();
    expect(Object.values(greeksUnchecked(unknownKind)).every(Number.isNaN)).toBe(true);
    expect(impliedVolatilityUnchecked({ ...unknownKind, price: 100 }).status).toBe('invalid');
    expect(priceUnchecked(bad({ ...atm, model: 'binomial' }))).toBeNaN();
  });
});

describe('checked API: every invalid field is named with its value', () => {
  const put: OptionInput = { ...atm, kind: 'PE' };

  it('rejects an unknown kind or model, quoting a text value', () => {
    expect(() => price(bad({ ...atm, kind: 'XX' }))).toThrow(`kind must be 'CE' or 'PE', got "XX"`);
    expect(() => greeks(bad({ ...atm, model: 'binomial' }))).toThrow(
      `model must be 'black-scholes' or 'black-76', got "binomial"`,
    );
    expect(() => price(bad({ ...atm, kind: undefined }))).toThrow(`kind must be 'CE' or 'PE', got undefined`);
    expect(price(put)).toBeGreaterThan(0);
    expect(price({ ...atm, model: 'black-76' })).toBeGreaterThan(0);
  });

  it('needs a positive underlying and strike, and a number, not a numeric text', () => {
    expect(() => price({ ...atm, underlying: 0 })).toThrow('underlying must be > 0, got 0');
    expect(() => price({ ...atm, strike: -5 })).toThrow('strike must be > 0, got -5');
    expect(() => price(bad({ ...atm, strike: '19000' }))).toThrow('strike must be a finite number, got "19000"');
    expect(price({ ...atm, underlying: 1e-9 })).toBe(0);
  });

  it('accepts zero volatility, zero time and a zero price, and rejects negatives', () => {
    expect(price({ ...atm, volatility: 0, timeToExpiryYears: 0, underlying: 19100 })).toBe(100);
    expect(() => price({ ...atm, volatility: -0.1 })).toThrow('volatility must be >= 0, got -0.1');
    expect(() => price({ ...atm, volatility: Number.NaN })).toThrow('volatility must be a finite number, got NaN');
    expect(impliedVolatility({ ...atm, strike: 30_000, price: 0 }).status).not.toBe('invalid');
    expect(() => impliedVolatility({ ...atm, price: -1 })).toThrow('price must be >= 0, got -1');
  });

  it('takes a dividend yield for Black-Scholes only; Black-76 accepts none but zero', () => {
    expect(price({ ...atm, dividendYield: 0.02 })).toBeLessThan(price(atm));
    expect(() => price({ ...atm, dividendYield: Number.NaN })).toThrow(
      'dividendYield must be a finite number, got NaN',
    );
    expect(() => price({ ...atm, model: 'black-76', dividendYield: 0.02 })).toThrow(
      'dividendYield applies to black-scholes only (black-76 takes the forward), got 0.02',
    );
    expect(price({ ...atm, model: 'black-76', dividendYield: 0 })).toBe(price({ ...atm, model: 'black-76' }));
  });
});

import { describe, expect, it } from 'vitest';
import {
  greeksBatch,
  IV_STATUS_CODE,
  impliedVolatilityBatch,
  impliedVolatilityUnchecked,
  ivStatusFromCode,
  OPTION_KIND_CODE,
  type OptionKind,
  priceBatch,
  priceWithGreeksUnchecked,
} from '../../../shared/domain/greeks/index.js';

const parameters = { model: 'black-scholes', rate: 0.1 } as const;

/** A small chain: strikes 18000..20000 around spot 19000, calls and puts, 7 days, smile-ish vols. */
function chain(n: number) {
  const kind = new Uint8Array(n);
  const underlying = new Float64Array(n).fill(19000);
  const strike = new Float64Array(n);
  const timeToExpiryYears = new Float64Array(n).fill(7 / 365);
  const volatility = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    kind[i] = i % 2 === 0 ? OPTION_KIND_CODE.CE : OPTION_KIND_CODE.PE;
    strike[i] = 18000 + 100 * Math.floor(i / 2);
    volatility[i] = 0.12 + 0.0004 * Math.abs((strike[i] ?? 0) - 19000) ** 0.8;
  }
  return { kind, underlying, strike, timeToExpiryYears, volatility };
}

function greeksColumns(n: number) {
  return {
    price: new Float64Array(n),
    delta: new Float64Array(n),
    gamma: new Float64Array(n),
    theta: new Float64Array(n),
    vega: new Float64Array(n),
    rho: new Float64Array(n),
  };
}

function kindName(code: number | undefined): OptionKind {
  return code === OPTION_KIND_CODE.CE ? 'CE' : 'PE';
}

describe('greeksBatch', () => {
  it('gives exactly the object API results for every item of a chain', () => {
    const columns = chain(42);
    const out = greeksColumns(42);
    greeksBatch(parameters, columns, out);
    for (let i = 0; i < 42; i++) {
      const single = priceWithGreeksUnchecked({
        ...parameters,
        kind: kindName(columns.kind[i]),
        underlying: columns.underlying[i] ?? Number.NaN,
        strike: columns.strike[i] ?? Number.NaN,
        timeToExpiryYears: columns.timeToExpiryYears[i] ?? Number.NaN,
        volatility: columns.volatility[i] ?? Number.NaN,
      });
      expect(out.price[i]).toBe(single.price);
      expect(out.delta[i]).toBe(single.delta);
      expect(out.gamma[i]).toBe(single.gamma);
      expect(out.theta[i]).toBe(single.theta);
      expect(out.vega[i]).toBe(single.vega);
      expect(out.rho[i]).toBe(single.rho);
    }
  });

  it('marks an invalid item NaN without affecting its neighbours, and never throws for bad values', () => {
    const columns = chain(3);
    columns.underlying[1] = Number.NaN;
    columns.kind[2] = 7;
    const out = greeksColumns(3);
    expect(() => greeksBatch(parameters, columns, out)).not.toThrow();
    expect(out.price[0]).toBeGreaterThan(0);
    for (const column of Object.values(out)) {
      expect(column[1]).toBeNaN();
      expect(column[2]).toBeNaN();
    }
  });

  it('rejects columns shorter than the kind column with a RangeError naming the column', () => {
    const columns = { ...chain(4), strike: new Float64Array(3) };
    expect(() => greeksBatch(parameters, columns, greeksColumns(4))).toThrow(
      'strike must have at least 4 items, got 3',
    );
    expect(() => greeksBatch(parameters, chain(4), { ...greeksColumns(4), rho: new Float64Array(2) })).toThrow(
      'rho must have at least 4 items, got 2',
    );
  });
});

describe('priceBatch', () => {
  it('gives the same premiums as greeksBatch', () => {
    const columns = chain(20);
    const premiums = new Float64Array(20);
    const out = greeksColumns(20);
    priceBatch(parameters, columns, premiums);
    greeksBatch(parameters, columns, out);
    expect([...premiums]).toEqual([...out.price]);
  });
});

describe('impliedVolatilityBatch', () => {
  it('recovers the volatilities of a priced chain and reports a status code per item', () => {
    const columns = chain(40);
    const premiums = new Float64Array(40);
    priceBatch(parameters, columns, premiums);
    const quotes = { ...columns, price: premiums };
    const iv = new Float64Array(40);
    const status = new Uint8Array(40).fill(255);
    impliedVolatilityBatch(parameters, quotes, iv, status);
    for (let i = 0; i < 40; i++) {
      expect(ivStatusFromCode(status[i] ?? 255)).toBe('ok');
      expect(Math.abs((iv[i] ?? 0) - (columns.volatility[i] ?? 0)) / (columns.volatility[i] ?? 1)).toBeLessThan(1e-13);
    }
  });

  it('agrees with the object API on failures: expired, below intrinsic, above maximum, invalid', () => {
    const kind = new Uint8Array([0, 0, 1, 0, 0]);
    const quotes = {
      kind,
      underlying: new Float64Array([19000, 19000, 19000, 19000, -1]),
      strike: new Float64Array([19000, 18000, 19000, 20000, 19000]),
      timeToExpiryYears: new Float64Array([0, 0.02, 0.02, 0.02, 0.02]),
      price: new Float64Array([100, 500, 19500, 0, 100]),
    };
    const iv = new Float64Array(5);
    const status = new Uint8Array(5);
    impliedVolatilityBatch(parameters, quotes, iv, status);
    expect([...status]).toEqual([
      IV_STATUS_CODE.expired,
      IV_STATUS_CODE['below-intrinsic'],
      IV_STATUS_CODE['above-maximum'],
      IV_STATUS_CODE['no-time-value'],
      IV_STATUS_CODE.invalid,
    ]);
    for (let i = 0; i < 5; i++) {
      const single = impliedVolatilityUnchecked({
        ...parameters,
        kind: kindName(kind[i]),
        underlying: quotes.underlying[i] ?? Number.NaN,
        strike: quotes.strike[i] ?? Number.NaN,
        timeToExpiryYears: quotes.timeToExpiryYears[i] ?? Number.NaN,
        price: quotes.price[i] ?? Number.NaN,
      });
      expect(single.status).toBe(ivStatusFromCode(status[i] ?? 255));
      expect(Object.is(single.volatility, iv[i])).toBe(true);
    }
    // A status column read before any solve (or written by a newer release) holds codes no status has.
    expect(ivStatusFromCode(255)).toBe('invalid');
  });

  it('works without a status column', () => {
    const columns = chain(6);
    const premiums = new Float64Array(6);
    priceBatch(parameters, columns, premiums);
    const iv = new Float64Array(6);
    impliedVolatilityBatch(parameters, { ...columns, price: premiums }, iv);
    expect(iv.every((v) => v > 0.1)).toBe(true);
  });
});

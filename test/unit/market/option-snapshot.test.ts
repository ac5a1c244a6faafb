import { describe, expect, it } from 'vitest';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { TickPayload } from '../../../shared/contracts/tick.js';
import { greeks, impliedVolatility, timeToExpiryYears } from '../../../shared/domain/greeks/index.js';
import { roundTo, TICK_DECIMALS } from '../../../shared/domain/market/decimal-places.js';
import { buildOptionSnapshot, type OptionSnapshotInput } from '../../../shared/domain/market/option-snapshot.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { MARKET_OPEN_MS, market, PRICING, registry } from './market-fixtures.js';

const call: Instrument = {
  instrumentToken: 12_345_602,
  tradingsymbol: 'NIFTY25JAN24000CE',
  name: 'NIFTY',
  exchange: 'NFO',
  segment: 'NFO-OPT',
  instrumentType: 'CE',
  strike: 24_000,
  expiry: '2025-01-30',
  lotSize: 75,
  tickSize: 0.05,
};

function tick(overrides: Partial<MarketTick> = {}): MarketTick {
  return {
    instrumentToken: call.instrumentToken,
    mode: 'full',
    tradable: true,
    lastPrice: 420.5,
    volumeTraded: 123_450,
    oi: 2_500_000,
    exchangeTimestampMs: MARKET_OPEN_MS,
    receivedAtMs: MARKET_OPEN_MS + 7,
    ...overrides,
  };
}

function input(overrides: Partial<OptionSnapshotInput> = {}): OptionSnapshotInput {
  return {
    tick: tick(),
    instrument: call,
    underlyingPrice: 24_010,
    nowMs: MARKET_OPEN_MS + 7,
    pricing: PRICING,
    isMock: false,
    fallbackVolatility: 0.14,
    ...overrides,
  };
}

describe('buildOptionSnapshot', () => {
  it('TC-REG-011: turns 100 mock option ticks into valid client ticks with the required fields and sane values', () => {
    const instruments = registry();
    const mock = market(instruments);
    const byToken = new Map(instruments.map((i) => [i.instrumentToken, i]));
    const options = instruments.filter((i) => i.instrumentType !== 'INDEX');
    const snapshots: TickPayload[] = [];
    // 100 ticks: ten steps of ten options spread over both underlyings, expiries and sides.
    const chosen = new Set(
      options
        .filter((_, k) => k % Math.floor(options.length / 10) === 0)
        .slice(0, 10)
        .map((i) => i.instrumentToken),
    );
    for (let step = 0; step < 10; step++) {
      const snapshot = mock.advanceTo(MARKET_OPEN_MS + step * 1000);
      for (const t of mock.ticks(snapshot, chosen)) {
        const instrument = byToken.get(t.instrumentToken) as Instrument;
        snapshots.push(
          buildOptionSnapshot({
            tick: t,
            instrument,
            underlyingPrice: snapshot.underlyings.get(instrument.name)?.price ?? Number.NaN,
            nowMs: snapshot.atMs,
            pricing: PRICING,
            isMock: true,
            fallbackVolatility: 0.15,
          }),
        );
      }
    }
    expect(snapshots).toHaveLength(100);
    const required = [
      'instrument_token',
      'last_price',
      'volume',
      'oi',
      'delta',
      'gamma',
      'theta',
      'vega',
      'timestamp',
      'is_mock',
    ] as const;
    for (const payload of snapshots) {
      expect(TickPayload.safeParse(payload).error).toBeUndefined();
      for (const field of required) expect(payload).toHaveProperty(field);
      const parsed = JSON.parse(JSON.stringify(payload)) as TickPayload;
      expect(parsed).toEqual(payload);
      expect(payload.is_mock).toBe(true);
      expect(payload.last_price).toBeGreaterThan(0);
      expect(Number.isInteger(payload.volume) && payload.volume >= 0).toBe(true);
      expect(Number.isInteger(payload.oi) && payload.oi >= 0).toBe(true);
      if (payload.option_type === 'CE') expect(payload.delta).toBeGreaterThanOrEqual(0);
      else expect(payload.delta).toBeLessThanOrEqual(0);
      expect(Math.abs(payload.delta)).toBeLessThanOrEqual(1);
      expect(payload.gamma).toBeGreaterThanOrEqual(0);
      expect(payload.vega).toBeGreaterThanOrEqual(0);
      expect(payload.theta).toBeLessThanOrEqual(0.5);
      expect(payload.iv_status).toBe('ok');
      expect(payload.iv).toBeGreaterThan(0.05);
      expect(payload.iv).toBeLessThan(1);
      expect(Date.parse(payload.timestamp)).toBeGreaterThanOrEqual(MARKET_OPEN_MS);
    }
  });

  it('solves IV from the tick price and computes Greeks at that IV, with the additions filled in', () => {
    const payload = buildOptionSnapshot(input());
    const time = timeToExpiryYears('2025-01-30', MARKET_OPEN_MS + 7);
    const solved = impliedVolatility({
      kind: 'CE',
      model: 'black-scholes',
      underlying: 24_010,
      strike: 24_000,
      timeToExpiryYears: time,
      rate: 0.1,
      price: 420.5,
    });
    const expected = greeks({
      kind: 'CE',
      model: 'black-scholes',
      underlying: 24_010,
      strike: 24_000,
      timeToExpiryYears: time,
      volatility: solved.volatility,
      rate: 0.1,
    });
    expect(payload).toEqual({
      instrument_token: call.instrumentToken,
      tradingsymbol: 'NIFTY25JAN24000CE',
      last_price: 420.5,
      volume: 123_450,
      oi: 2_500_000,
      delta: roundTo(expected.delta, TICK_DECIMALS.delta),
      gamma: roundTo(expected.gamma, TICK_DECIMALS.gamma),
      theta: roundTo(expected.theta, TICK_DECIMALS.theta),
      vega: roundTo(expected.vega, TICK_DECIMALS.vega),
      rho: roundTo(expected.rho, TICK_DECIMALS.rho),
      timestamp: '2025-01-08T03:45:00.000Z',
      is_mock: false,
      iv: roundTo(solved.volatility, TICK_DECIMALS.iv),
      iv_status: 'ok',
      underlying: 'NIFTY',
      underlying_price: 24_010,
      strike: 24_000,
      expiry: '2025-01-30',
      option_type: 'CE',
      received_at_ms: MARKET_OPEN_MS + 7,
    });
  });

  it('computes Greeks at the fallback volatility with iv null when the price admits no IV', () => {
    const belowIntrinsic = buildOptionSnapshot(input({ tick: tick({ lastPrice: 5 }), underlyingPrice: 24_500 }));
    expect(belowIntrinsic.iv_status).toBe('below-intrinsic');
    expect(belowIntrinsic.iv).toBeNull();
    const atFallback = greeks({
      kind: 'CE',
      model: 'black-scholes',
      underlying: 24_500,
      strike: 24_000,
      timeToExpiryYears: timeToExpiryYears('2025-01-30', MARKET_OPEN_MS + 7),
      volatility: 0.14,
      rate: 0.1,
    });
    expect(belowIntrinsic.delta).toBe(roundTo(atFallback.delta, TICK_DECIMALS.delta));
    expect(belowIntrinsic.vega).toBe(roundTo(atFallback.vega, TICK_DECIMALS.vega));
    expect(TickPayload.safeParse(belowIntrinsic).success).toBe(true);

    const expired = buildOptionSnapshot(input({ nowMs: Date.UTC(2025, 0, 31) }));
    // At expiry the in-the-money call is worth its payoff: delta 1, no time value left.
    expect(expired).toMatchObject({ iv: null, iv_status: 'expired', delta: 1, gamma: 0, theta: 0, vega: 0 });

    const noFallback = buildOptionSnapshot(
      input({ tick: tick({ lastPrice: 5 }), underlyingPrice: 24_500, fallbackVolatility: Number.NaN }),
    );
    expect(Number.isFinite(noFallback.delta) && noFallback.gamma > 0).toBe(true);
  });

  it('keeps the frozen Greeks finite and leaves out underlying_price when the underlying price is unusable', () => {
    for (const underlyingPrice of [Number.NaN, 0, -1, Number.POSITIVE_INFINITY]) {
      const payload = buildOptionSnapshot(input({ underlyingPrice }));
      expect(payload).toMatchObject({ delta: 0, gamma: 0, theta: 0, vega: 0, iv: null, iv_status: 'invalid' });
      expect(payload).not.toHaveProperty('underlying_price');
      expect(TickPayload.safeParse(JSON.parse(JSON.stringify(payload))).success).toBe(true);
    }
  });

  it('takes the timestamp from the exchange time, then the last trade time, then receipt', () => {
    const at = (t: Partial<MarketTick>) => buildOptionSnapshot(input({ tick: tick(t) })).timestamp;
    expect(at({ exchangeTimestampMs: Date.UTC(2025, 0, 8, 4) })).toBe('2025-01-08T04:00:00.000Z');
    expect(at({ exchangeTimestampMs: undefined, lastTradeTimeMs: Date.UTC(2025, 0, 8, 5) })).toBe(
      '2025-01-08T05:00:00.000Z',
    );
    expect(at({ exchangeTimestampMs: undefined, receivedAtMs: Date.UTC(2025, 0, 8, 6) })).toBe(
      '2025-01-08T06:00:00.000Z',
    );
  });

  it('uses the forward as given and no dividend yield under Black-76', () => {
    const payload = buildOptionSnapshot(input({ pricing: { model: 'black-76', rate: 0.1, dividendYield: 0.02 } }));
    expect(payload.iv_status).toBe('ok');
    expect(payload.delta).toBeGreaterThan(0);
  });

  it('rejects an instrument that is not an option', () => {
    expect(() =>
      buildOptionSnapshot(input({ instrument: { ...call, instrumentType: 'INDEX', expiry: null } })),
    ).toThrow(RangeError);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { TickPayload } from '../../../shared/contracts/tick.js';
import { price, timeToExpiryYears } from '../../../shared/domain/greeks/index.js';
import { roundTo, TICK_DECIMALS } from '../../../shared/domain/market/decimal-places.js';
import { buildOptionSnapshot } from '../../../shared/domain/market/option-snapshot.js';
import { OptionSnapshotBatch, prepareOption } from '../../../shared/domain/market/option-snapshot-batch.js';
import type { PricingParameters } from '../../../shared/domain/market/pricing-parameters.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { MARKET_OPEN_MS, PRICING, registry } from './market-fixtures.js';

const DAY_MS = 86_400_000;
/** Fails on bytes that are not UTF-8. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

const anyNumber = fc.oneof(
  fc.double({ noNaN: false }),
  fc.double({ min: 0, max: 100_000, noNaN: true }),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e-300, 5e-324),
);

/** Exchange prices are whole paise, which the encoder prints without the shortest round-trip search. */
const inPaise = fc.integer({ min: 0, max: 10_000_000 }).map((paise) => paise / 100);

const instrumentArb = fc
  .record({
    kind: fc.constantFrom('CE' as const, 'PE' as const),
    strike: fc.oneof(fc.integer({ min: 1, max: 80_000 }), fc.double({ min: 0.05, max: 80_000, noNaN: true })),
    expiryOffsetDays: fc.integer({ min: -3, max: 400 }),
    symbol: fc.string({ maxLength: 24 }),
    name: fc.constantFrom('NIFTY', 'BANKNIFTY', 'FIN"NIFTY\\', 'ÜNÏ\u2028'),
    token: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  })
  .map(
    ({ kind, strike, expiryOffsetDays, symbol, name, token }): Instrument => ({
      instrumentToken: token,
      tradingsymbol: symbol,
      name,
      exchange: 'NFO',
      segment: 'NFO-OPT',
      instrumentType: kind,
      strike,
      expiry: new Date(MARKET_OPEN_MS + expiryOffsetDays * DAY_MS).toISOString().slice(0, 10),
      lotSize: 75,
      tickSize: 0.05,
    }),
  );

const itemArb = fc.record({
  instrument: instrumentArb,
  lastPrice: fc.oneof(inPaise, anyNumber),
  underlying: fc.oneof(fc.double({ min: 1, max: 100_000, noNaN: true }), inPaise, anyNumber),
  fallback: anyNumber,
  volume: fc.option(anyNumber, { nil: undefined }),
  oi: fc.option(anyNumber, { nil: undefined }),
  exchangeTimestampMs: fc.option(fc.oneof(fc.integer({ min: 0, max: 2e12 }), anyNumber), { nil: undefined }),
  lastTradeTimeMs: fc.option(fc.integer({ min: 0, max: 2e12 }), { nil: undefined }),
  receivedAtMs: fc.oneof(fc.integer({ min: 0, max: 2e12 }), anyNumber),
});

const pricingArb: fc.Arbitrary<PricingParameters> = fc.record({
  model: fc.constantFrom('black-scholes' as const, 'black-76' as const),
  rate: fc.double({ min: -0.05, max: 0.2, noNaN: true }),
  dividendYield: fc.double({ min: 0, max: 0.05, noNaN: true }),
});

type Item = typeof itemArb extends fc.Arbitrary<infer T> ? T : never;

function tickOf(item: Item): MarketTick {
  return {
    instrumentToken: item.instrument.instrumentToken,
    mode: 'full',
    tradable: true,
    lastPrice: item.lastPrice,
    ...(item.volume !== undefined && { volumeTraded: item.volume }),
    ...(item.oi !== undefined && { oi: item.oi }),
    ...(item.exchangeTimestampMs !== undefined && { exchangeTimestampMs: item.exchangeTimestampMs }),
    ...(item.lastTradeTimeMs !== undefined && { lastTradeTimeMs: item.lastTradeTimeMs }),
    receivedAtMs: item.receivedAtMs,
  };
}

describe('OptionSnapshotBatch', () => {
  it('writes, byte for byte, the JSON of buildOptionSnapshot for any ticks, prices and instruments', () => {
    const batch = new OptionSnapshotBatch();
    fc.assert(
      fc.property(
        fc.array(itemArb, { minLength: 1, maxLength: 40 }),
        pricingArb,
        fc.boolean(),
        (items, pricing, isMock) => {
          const nowMs = MARKET_OPEN_MS;
          for (const item of items) {
            batch.add(tickOf(item), prepareOption(item.instrument), item.underlying, item.fallback);
          }
          const encoded: string[] = [];
          const ivs: number[] = [];
          batch.encode(nowMs, pricing, isMock, (index, json, iv) => {
            expect(index).toBe(encoded.length);
            encoded.push(utf8.decode(json));
            ivs.push(iv);
          });
          expect(batch.size).toBe(0);
          expect(encoded).toHaveLength(items.length);
          items.forEach((item, i) => {
            const expected = buildOptionSnapshot({
              tick: tickOf(item),
              instrument: item.instrument,
              underlyingPrice: item.underlying,
              nowMs,
              pricing,
              isMock,
              fallbackVolatility: item.fallback,
            });
            expect(encoded[i]).toBe(JSON.stringify(expected));
            // The sink gets the solved volatility itself (the next tick's fallback); the JSON its rounding.
            expect(Number.isNaN(ivs[i] as number) ? null : roundTo(ivs[i] as number, TICK_DECIMALS.iv)).toBe(
              expected.iv,
            );
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('encodes a real chain into valid frozen tick payloads, reusing its columns across frames', () => {
    const nowMs = MARKET_OPEN_MS + 3600_000;
    const options = registry(nowMs, 40).filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE');
    const prepared = options.map(prepareOption);
    const spot = (i: Instrument) => (i.name === 'NIFTY' ? 23_950 : 51_200);
    const batch = new OptionSnapshotBatch();
    for (let frame = 0; frame < 3; frame++) {
      prepared.forEach((option, k) => {
        const instrument = options[k] as Instrument;
        const premium = price({
          kind: instrument.instrumentType as 'CE' | 'PE',
          model: 'black-scholes',
          underlying: spot(instrument),
          strike: instrument.strike,
          timeToExpiryYears: timeToExpiryYears(instrument.expiry as string, nowMs),
          volatility: 0.13 + frame * 0.01,
          rate: PRICING.rate,
          dividendYield: 0,
        });
        batch.add(
          {
            instrumentToken: instrument.instrumentToken,
            mode: 'full',
            tradable: true,
            lastPrice: premium,
            volumeTraded: 1000,
            oi: 5000,
            exchangeTimestampMs: nowMs,
            receivedAtMs: nowMs + 3,
          },
          option,
          spot(instrument),
          0.15,
        );
      });
      const solved: number[] = [];
      batch.encode(nowMs, PRICING, false, (_, json, iv) => {
        const payload = TickPayload.parse(JSON.parse(utf8.decode(json)));
        expect(payload.timestamp).toBe(new Date(nowMs).toISOString());
        solved.push(iv);
      });
      expect(solved).toHaveLength(options.length);
      const ok = solved.filter((iv) => Number.isFinite(iv));
      // Deep in-the-money quotes can sit at intrinsic value; the rest solve back to the set volatility.
      expect(ok.length).toBeGreaterThan(options.length / 2);
      // The rest solve back to the volatility they were priced at; far from the money the premium
      // carries little time value, so a rounding of it moves the volatility more.
      const set = 0.13 + frame * 0.01;
      for (const iv of ok) expect(Math.abs(iv - set)).toBeLessThan(0.01);
      expect(ok.filter((iv) => Math.abs(iv - set) < 1e-9).length).toBeGreaterThan(ok.length * 0.8);
    }
  });

  it('hands out snapshots that stay as written while later frames are encoded', () => {
    const nowMs = MARKET_OPEN_MS + 3600_000;
    const prepared = registry(nowMs, 40)
      .filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE')
      .map(prepareOption);
    const batch = new OptionSnapshotBatch();
    const frame = (price: number) => {
      const out: Uint8Array[] = [];
      for (const option of prepared) {
        batch.add(
          {
            instrumentToken: option.instrument.instrumentToken,
            mode: 'full',
            tradable: true,
            lastPrice: price,
            receivedAtMs: nowMs,
          },
          option,
          option.instrument.name === 'NIFTY' ? 23_950 : 51_200,
          0.15,
        );
      }
      batch.encode(nowMs, PRICING, false, (_, json) => out.push(json));
      return out;
    };
    const first = frame(101.5);
    const texts = first.map((json) => utf8.decode(json));
    // Enough frames to fill many chunks: none of them may write over a snapshot already handed out.
    for (let k = 0; k < 40; k++) frame(200 + k);
    expect(first.map((json) => utf8.decode(json))).toEqual(texts);
    expect(texts.every((text) => JSON.parse(text).last_price === 101.5)).toBe(true);
  });

  it('refuses an instrument that is not an option with an expiry', () => {
    const index = registry().find((i) => i.instrumentType === 'INDEX') as Instrument;
    expect(() => prepareOption(index)).toThrow(RangeError);
  });
});

import type { MarketTick } from '../../shared/contracts/tick.js';
import type { Candle, Instrument } from '../../shared/ports/market-data.js';
import { integer, seededRandom, uniform } from './random.js';

/** The plan's test data generators (docs/test-plan-index.md), deterministic by seed. */

/** `count` NIFTY calls from strike 19000 in steps of 50, tokens from 256000 (the plan's generator). */
export function generateTestInstruments(count = 100): Instrument[] {
  return Array.from({ length: count }, (_, i) => {
    const strike = 19000 + i * 50;
    return {
      instrumentToken: 256000 + i,
      tradingsymbol: `NIFTY25JAN${strike}CE`,
      name: 'NIFTY',
      exchange: 'NFO',
      segment: 'NFO-OPT',
      instrumentType: 'CE',
      strike,
      expiry: '2025-01-30',
      lotSize: 25,
      tickSize: 0.05,
    };
  });
}

/** `count` full-mode ticks for one token around ₹250, one second apart, ending at `endMs`. */
export function generateTestTicks(
  instrumentToken: number,
  count = 100,
  { seed = 1, endMs = Date.UTC(2025, 0, 8, 6, 0, 0), basePrice = 250 } = {},
): MarketTick[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const at = endMs - (count - 1 - i) * 1000;
    return {
      instrumentToken,
      mode: 'full',
      tradable: true,
      lastPrice: Math.round(uniform(random, basePrice - 10, basePrice + 10) * 20) / 20,
      volumeTraded: integer(random, 1000, 10_000),
      oi: integer(random, 10_000, 100_000),
      exchangeTimestampMs: at,
      receivedAtMs: at,
    };
  });
}

/**
 * `count` consecutive candles from `basePrice`, each opening at the previous close, with
 * low ≤ min(open, close) ≤ max(open, close) ≤ high (the plan's generator).
 */
export function generateTestCandles(
  count = 100,
  { basePrice = 250, intervalMinutes = 1, seed = 1, endMs = Date.UTC(2025, 0, 8, 10, 0, 0) } = {},
): Candle[] {
  const random = seededRandom(seed);
  const round = (x: number) => Math.round(x * 100) / 100;
  const candles: Candle[] = [];
  let price = basePrice;
  for (let i = 0; i < count; i++) {
    const open = round(price);
    const high = round(open + uniform(random, 0, 10));
    const low = round(Math.max(0.05, open - uniform(random, 0, 10)));
    const close = round(uniform(random, low, high));
    candles.push({
      date: endMs - (count - i) * intervalMinutes * 60_000,
      open,
      high,
      low,
      close,
      volume: integer(random, 1000, 10_000),
      oi: integer(random, 10_000, 100_000),
    });
    price = close;
  }
  return candles;
}

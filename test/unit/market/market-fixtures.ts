import type { MarketTick } from '../../../shared/contracts/tick.js';
import { istDate } from '../../../shared/domain/market/calendar-dates.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { MockMarket, type MockMarketOptions } from '../../../shared/domain/market/mock-market.js';
import type { PricingParameters } from '../../../shared/domain/market/pricing-parameters.js';
import type { Instrument } from '../../../shared/ports/market-data.js';

/** 09:15 IST on Wednesday 8 January 2025, the market open the plan's fixtures use. */
export const MARKET_OPEN_MS = Date.UTC(2025, 0, 8, 3, 45, 0);

/** The default pricing configuration (NSE convention). */
export const PRICING: PricingParameters = { model: 'black-scholes', rate: 0.1, dividendYield: 0 };

/** The default mock configuration of `shared/config.ts`. */
export const MOCK_CONFIG = { seed: 42, priceVariationBps: 15, volumeVariation: 0.1 } as const;

/** The mock registry anchored on the trading day of `nowMs`. */
export function registry(nowMs = MARKET_OPEN_MS, strikesEachSide = 10): Instrument[] {
  return mockInstruments({ anchorDate: istDate(nowMs), strikesEachSide });
}

/** A mock market over `instruments` with the default configuration, overridable. */
export function market(instruments: readonly Instrument[], overrides: Partial<MockMarketOptions> = {}): MockMarket {
  return new MockMarket({
    ...MOCK_CONFIG,
    instruments,
    pricing: { rate: PRICING.rate, dividendYield: PRICING.dividendYield },
    ...overrides,
  });
}

/** True when `price` is a whole number of 0.05 ticks. */
export function onTick(price: number): boolean {
  return Math.abs(price * 20 - Math.round(price * 20)) < 1e-9;
}

/** True when every number anywhere in `value` (nested objects and arrays included) is finite. */
export function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (!allFinite(item)) return false;
  return true;
}

/** Ticks grouped by token, in the order given. */
export function byToken(ticks: readonly MarketTick[]): Map<number, MarketTick[]> {
  const out = new Map<number, MarketTick[]>();
  for (const tick of ticks) {
    const list = out.get(tick.instrumentToken) ?? [];
    list.push(tick);
    out.set(tick.instrumentToken, list);
  }
  return out;
}

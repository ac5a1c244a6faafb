/**
 * The market domain: the mock market (registry, simulation, seeded randomness), client tick
 * snapshots with Greeks, underlying bars and Greeks on historical candles. Pure: time arrives as
 * `nowMs` numbers, randomness from a seed, and I/O stays with the callers.
 */
export { addDays, epochDay, isoDateOfEpochDay, istDate } from './calendar-dates.js';
export type {
  EnrichmentWarning,
  HistoryEnrichment,
  HistoryEnrichmentInput,
} from './history-enrichment.js';
export { EnrichmentWarningCode, enrichHistory } from './history-enrichment.js';
export type { HistoryWithGreeksRequest } from './history-with-greeks.js';
export { historyWithGreeks } from './history-with-greeks.js';
export type { MockExpiry, MockRegistryOptions, MockUnderlying } from './mock-instruments.js';
export {
  kiteOptionSymbol,
  MOCK_UNDERLYINGS,
  mockExpiries,
  mockInstruments,
  mockOptionToken,
  OPTION_TICK_SIZE,
} from './mock-instruments.js';
export type { MarketSnapshot, MockMarketOptions, OptionState, UnderlyingState } from './mock-market.js';
export { MockMarket } from './mock-market.js';
export type { MockOptionPrice, MockPricePathOptions } from './mock-price-path.js';
export { MockPricePath } from './mock-price-path.js';
export type { OptionSnapshotInput } from './option-snapshot.js';
export { buildOptionSnapshot, tickTimeMs } from './option-snapshot.js';
export type { PricingParameters } from './pricing-parameters.js';
export { DEFAULT_FALLBACK_VOLATILITY, engineDividendYield, usableVolatility } from './pricing-parameters.js';
export type { SeededRandom } from './seeded-random.js';
export { seededRandom } from './seeded-random.js';
export { boundedTickStep, roundToTick } from './tick-rounding.js';
export type { CompletedBar, UnderlyingBarAggregatorOptions } from './underlying-bars.js';
export { TickRejection, UnderlyingBarAggregator } from './underlying-bars.js';

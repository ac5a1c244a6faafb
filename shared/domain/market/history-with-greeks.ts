import type { CandleInterval, Instrument, MarketData } from '../../ports/market-data.js';
import { enrichHistory, type HistoryEnrichment } from './history-enrichment.js';
import type { PricingParameters } from './pricing-parameters.js';

/** One history request for an option, with what its Greeks need. */
export interface HistoryWithGreeksRequest {
  /** The option: a CE or PE with a strike and an expiry date. */
  readonly instrument: Instrument;
  /** Token of the underlying whose closes price the option (the index, or a future for Black-76). */
  readonly underlyingToken: number;
  /** Range, epoch milliseconds. */
  readonly from: number;
  readonly to: number;
  readonly interval: CandleInterval;
  readonly pricing: PricingParameters;
  readonly fallbackVolatility?: number;
}

/**
 * The `GET /history` use case: the option's candles and the underlying's candles for the same
 * range, fetched once each and concurrently (two requests however many candles: no per-candle
 * lookups, TC-GRK-031), then enriched with Greeks by {@link enrichHistory}. Rejections of the
 * `MarketData` port pass through unchanged for the handler to map.
 */
export async function historyWithGreeks(
  marketData: MarketData,
  request: HistoryWithGreeksRequest,
): Promise<HistoryEnrichment> {
  const { instrument, underlyingToken, from, to, interval } = request;
  const [candles, underlyingCandles] = await Promise.all([
    marketData.historical({ instrumentToken: instrument.instrumentToken, from, to, interval, oi: true }),
    marketData.historical({ instrumentToken: underlyingToken, from, to, interval, oi: false }),
  ]);
  return enrichHistory({
    candles,
    underlyingCandles,
    instrument,
    pricing: request.pricing,
    ...(request.fallbackVolatility !== undefined && { fallbackVolatility: request.fallbackVolatility }),
  });
}

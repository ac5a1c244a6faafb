/**
 * Greeks and implied volatility for European index options (Black-Scholes on spot, Black-76 on
 * the forward), accurate to near machine precision and cheap enough to enrich every tick.
 *
 * - Object API, checked (`RangeError` naming the field on bad input): `price`, `greeks`,
 *   `priceWithGreeks`, `impliedVolatility`.
 * - Object API, unchecked (NaN plus a status, never throws): the `…Unchecked` variants.
 * - Column API over typed arrays for whole chains and candle series: `priceBatch`,
 *   `greeksBatch`, `impliedVolatilityBatch`.
 * - Time to expiry from the instrument master's expiry date: `timeToExpiryYears`,
 *   `expiryInstantMs`, `yearsUntil`.
 */
export type {
  BatchParameters,
  GreeksColumns,
  OptionColumns,
  PremiumColumns,
  PricingColumns,
} from './batch.js';
export { greeksBatch, impliedVolatilityBatch, priceBatch } from './batch.js';
export type { IvStatusCode, OptionKindCode, PricingModelCode } from './codes.js';
export {
  IV_STATUS_BY_CODE,
  IV_STATUS_CODE,
  ivStatusFromCode,
  OPTION_KIND_CODE,
  PRICING_MODEL_CODE,
} from './codes.js';
export { impliedVolatility, impliedVolatilityUnchecked } from './implied-volatility.js';
export type { PriceWithGreeks } from './option-pricing.js';
export {
  greeks,
  greeksUnchecked,
  price,
  priceUnchecked,
  priceWithGreeks,
  priceWithGreeksUnchecked,
} from './option-pricing.js';
export { expiryInstantMs, timeToExpiryYears, yearsUntil } from './time-to-expiry.js';
export type {
  Greeks,
  ImpliedVolatilityInput,
  ImpliedVolatilityResult,
  IvStatus,
  OptionInput,
  OptionKind,
  PricingModel,
} from './types.js';

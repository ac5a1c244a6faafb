import type { PricingModel } from '../greeks/index.js';

/**
 * The market parameters every Greeks computation of the platform shares (config `pricing`):
 * one type so live ticks and history are priced alike.
 */
export interface PricingParameters {
  readonly model: PricingModel;
  /** Continuously compounded risk-free rate (NSE convention 0.10). */
  readonly rate: number;
  /** Continuous dividend yield; applies to `black-scholes` only and is ignored for `black-76`. */
  readonly dividendYield: number;
}

/**
 * The dividend yield to hand the engine: Black-76 takes the forward and accepts none, so a
 * configured yield must not leak into it.
 */
export function engineDividendYield(parameters: PricingParameters): number {
  return parameters.model === 'black-scholes' ? parameters.dividendYield : 0;
}

/**
 * The volatility Greeks fall back to when neither an implied volatility nor a caller's fallback
 * is usable: a typical index option level, so Greeks stay finite and of the right size.
 */
export const DEFAULT_FALLBACK_VOLATILITY = 0.15;

/** `volatility` when it is a usable volatility (finite, > 0), else the default. */
export function usableVolatility(volatility: number | undefined): number {
  return volatility !== undefined && volatility > 0 && volatility < Number.POSITIVE_INFINITY
    ? volatility
    : DEFAULT_FALLBACK_VOLATILITY;
}

import type { MarketTick, TickPayload } from '../../contracts/tick.js';
import type { Instrument } from '../../ports/market-data.js';
import { greeksUnchecked, impliedVolatilityUnchecked, timeToExpiryYears } from '../greeks/index.js';
import { roundTo, TICK_DECIMALS } from './decimal-places.js';
import { engineDividendYield, type PricingParameters, usableVolatility } from './pricing-parameters.js';

/** Everything {@link buildOptionSnapshot} needs for one option tick. */
export interface OptionSnapshotInput {
  readonly tick: MarketTick;
  /** The tick's instrument: a CE or PE with a strike and an expiry date. */
  readonly instrument: Instrument;
  /** Spot (Black-Scholes) or forward (Black-76) at the time of the tick. */
  readonly underlyingPrice: number;
  /** Time the Greeks are computed at (time to expiry counts from here), epoch milliseconds. */
  readonly nowMs: number;
  readonly pricing: PricingParameters;
  /** Whether the tick comes from the mock market; clients see it as `is_mock`. */
  readonly isMock: boolean;
  /**
   * Volatility for the Greeks when the tick's price admits no implied volatility (the last good
   * IV of this token, typically). Falls back to a typical index level when not usable.
   */
  readonly fallbackVolatility: number;
}

/**
 * Turns a decoded option tick into the client tick (`TickPayload`, frozen fields plus additions):
 * implied volatility solved from the tick's price, Greeks at that volatility.
 *
 * The Greeks and `iv` are rounded to {@link TICK_DECIMALS} places. The frozen Greeks fields are
 * numbers clients plot and sum, so they are always finite: when no volatility reproduces the price (`iv_status` other than `ok`: stale deep in-the-money quotes,
 * expiry day, bad data) the Greeks are computed at `fallbackVolatility` and `iv` is `null`; if
 * even that cannot be priced (no usable underlying price) they are 0, `iv_status` says why and
 * `underlying_price` is left out.
 * Never throws for market data; throws a `RangeError` only for wiring mistakes: an `instrument`
 * that is not an option with a valid expiry, or a non-finite `nowMs`.
 */
export function buildOptionSnapshot(input: OptionSnapshotInput): TickPayload {
  const { tick, instrument, underlyingPrice, nowMs, pricing } = input;
  const kind = instrument.instrumentType;
  if ((kind !== 'CE' && kind !== 'PE') || instrument.expiry === null) {
    throw new RangeError(`instrument ${instrument.tradingsymbol} is not an option with an expiry`);
  }
  // Two flat literals rather than spreads of a shared object: this runs once per option tick.
  const timeToExpiry = timeToExpiryYears(instrument.expiry, nowMs);
  const dividendYield = engineDividendYield(pricing);
  const solved = impliedVolatilityUnchecked({
    kind,
    model: pricing.model,
    underlying: underlyingPrice,
    strike: instrument.strike,
    timeToExpiryYears: timeToExpiry,
    rate: pricing.rate,
    dividendYield,
    price: tick.lastPrice,
  });
  const ok = solved.status === 'ok';
  const volatility = ok ? solved.volatility : usableVolatility(input.fallbackVolatility);
  const g = greeksUnchecked({
    kind,
    model: pricing.model,
    underlying: underlyingPrice,
    strike: instrument.strike,
    timeToExpiryYears: timeToExpiry,
    volatility,
    rate: pricing.rate,
    dividendYield,
  });
  return {
    instrument_token: tick.instrumentToken,
    tradingsymbol: instrument.tradingsymbol,
    last_price: tick.lastPrice,
    volume: wholeNonNegative(tick.volumeTraded),
    oi: wholeNonNegative(tick.oi),
    delta: roundTo(finiteOrZero(g.delta), TICK_DECIMALS.delta),
    gamma: roundTo(finiteOrZero(g.gamma), TICK_DECIMALS.gamma),
    theta: roundTo(finiteOrZero(g.theta), TICK_DECIMALS.theta),
    vega: roundTo(finiteOrZero(g.vega), TICK_DECIMALS.vega),
    timestamp: isoTimestamp(tickTimeMs(tick), nowMs),
    is_mock: input.isMock,
    rho: roundTo(finiteOrZero(g.rho), TICK_DECIMALS.rho),
    iv: ok ? roundTo(solved.volatility, TICK_DECIMALS.iv) : null,
    iv_status: solved.status,
    underlying: instrument.name,
    ...(underlyingPrice > 0 && underlyingPrice < Number.POSITIVE_INFINITY && { underlying_price: underlyingPrice }),
    strike: instrument.strike,
    expiry: instrument.expiry,
    option_type: kind,
    received_at_ms: tick.receivedAtMs,
  };
}

/** The exchange's time of a tick, falling back to the last trade time and then to receipt. */
export function tickTimeMs(tick: MarketTick): number {
  return tick.exchangeTimestampMs ?? tick.lastTradeTimeMs ?? tick.receivedAtMs;
}

/** Dates JavaScript can represent: ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

/**
 * A tick time as ISO 8601 text, or `fallbackMs`'s when the tick's is not a representable date
 * (bad exchange data must not make the tick fail).
 */
export function isoTimestamp(timeMs: number, fallbackMs: number): string {
  const usable = timeMs >= -MAX_DATE_MS && timeMs <= MAX_DATE_MS ? timeMs : fallbackMs;
  return new Date(usable).toISOString();
}

function finiteOrZero(value: number): number {
  return Number.isFinite(value) ? value : 0;
}

function wholeNonNegative(value: number | undefined): number {
  return value !== undefined && value > 0 && value < Number.POSITIVE_INFINITY ? Math.round(value) : 0;
}

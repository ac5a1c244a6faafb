import type { HistoryCandle } from '../../contracts/history.js';
import type { Candle, Instrument } from '../../ports/market-data.js';
import {
  greeksBatch,
  IV_STATUS_CODE,
  impliedVolatilityBatch,
  OPTION_KIND_CODE,
  timeToExpiryYears,
} from '../greeks/index.js';
import { engineDividendYield, type PricingParameters, usableVolatility } from './pricing-parameters.js';

/**
 * Greeks on historical option candles for `GET /history` (TC-GRK-030..032): each candle's Greeks
 * come from its close and the underlying's close at the same timestamp, at the volatility implied
 * by that close. The underlying series is fetched once for the whole range by the caller and
 * passed in, so enrichment costs one extra request however many candles there are (the earlier
 * service's N+1 lookups are what TC-GRK-031 guards against), and the whole series goes through
 * the engine's typed-array batch API in two calls.
 */

/** Everything {@link enrichHistory} needs. */
export interface HistoryEnrichmentInput {
  /** The option's candles; left untouched. */
  readonly candles: readonly Candle[];
  /** The underlying's candles over the same range (spot for Black-Scholes, forward for Black-76). */
  readonly underlyingCandles: readonly Candle[];
  /** The option: a CE or PE with a strike and an expiry date. */
  readonly instrument: Instrument;
  readonly pricing: PricingParameters;
  /**
   * Volatility for candles whose close admits no implied volatility before any earlier candle
   * gave one (default: a typical index level). Later failures reuse the last solved volatility.
   */
  readonly fallbackVolatility?: number;
}

/** Kinds of {@link EnrichmentWarning}. */
export const EnrichmentWarningCode = {
  /** No underlying price at or before the candle: its `greeks` are `null`. */
  underlyingNotFound: 'underlying-not-found',
  /** No underlying candle at the candle's timestamp: the last earlier close was used. */
  underlyingCarriedForward: 'underlying-carried-forward',
  /** The close admits no implied volatility: Greeks at the last solved (or fallback) volatility. */
  volatilityFallback: 'volatility-fallback',
  /** The engine could not price the candle even so: its `greeks` are `null`. */
  greeksUnavailable: 'greeks-unavailable',
} as const;
/** A value of {@link EnrichmentWarningCode}. */
export type EnrichmentWarningCode = (typeof EnrichmentWarningCode)[keyof typeof EnrichmentWarningCode];

/**
 * Something the caller should log: domain code cannot, so problems come back as data, one entry
 * per kind with how many candles it concerns and the first and last of them.
 */
export interface EnrichmentWarning {
  readonly code: EnrichmentWarningCode;
  readonly message: string;
  readonly count: number;
  /** Epoch milliseconds of the earliest and latest candle concerned. */
  readonly firstAtMs: number;
  readonly lastAtMs: number;
}

/** Enriched candles in the `GET /history` shape, in input order, plus the warnings. */
export interface HistoryEnrichment {
  readonly candles: HistoryCandle[];
  readonly warnings: EnrichmentWarning[];
}

const WARNING_TEXT: Record<EnrichmentWarningCode, string> = {
  'underlying-not-found': 'Underlying data not found at or before the candle: greeks set to null',
  'underlying-carried-forward':
    'Underlying data not found at the candle timestamp: used the last known underlying close before it',
  'volatility-fallback':
    'Implied volatility not solvable from the close: greeks at the last solved (or fallback) volatility',
  'greeks-unavailable': 'Greeks could not be computed: greeks set to null',
};

/**
 * Enriches option candles with Greeks. Missing, unsorted or unpriceable data never throws: it
 * becomes warnings and `greeks: null`. Throws a `RangeError` only for what the `MarketData` port
 * rules out: an `instrument` that is not an option with a valid expiry, or a candle whose `date`
 * is not a finite epoch-millisecond time.
 */
export function enrichHistory(input: HistoryEnrichmentInput): HistoryEnrichment {
  const { candles, instrument, pricing } = input;
  const kind = instrument.instrumentType;
  const expiry = instrument.expiry;
  if ((kind !== 'CE' && kind !== 'PE') || expiry === null) {
    throw new RangeError(`instrument ${instrument.tradingsymbol} is not an option with an expiry`);
  }
  timeToExpiryYears(expiry, 0);
  for (const [i, candle] of candles.entries()) {
    if (!Number.isFinite(candle.date)) throw new RangeError(`candles[${i}].date must be epoch milliseconds`);
  }
  const warnings = new WarningCollector();
  const underlying = sortedUsable(input.underlyingCandles);
  const n = candles.length;

  // Time order, for carrying the last solved volatility forward even if the input is unsorted.
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (candles[a] as Candle).date - (candles[b] as Candle).date || a - b,
  );

  // Pick the candles that have an underlying price and lay them out as columns.
  const slotOf = new Int32Array(n).fill(-1);
  const picked: number[] = [];
  const pickedUnderlying: number[] = [];
  for (const i of order) {
    const candle = candles[i] as Candle;
    const at = lastAtOrBefore(underlying, candle.date);
    if (at < 0) {
      warnings.add('underlying-not-found', candle.date);
      continue;
    }
    if ((underlying[at] as Candle).date !== candle.date) warnings.add('underlying-carried-forward', candle.date);
    slotOf[i] = picked.length;
    picked.push(i);
    pickedUnderlying.push((underlying[at] as Candle).close);
  }
  const m = picked.length;
  const columns = {
    kind: new Uint8Array(m).fill(OPTION_KIND_CODE[kind]),
    underlying: new Float64Array(m),
    strike: new Float64Array(m).fill(instrument.strike),
    timeToExpiryYears: new Float64Array(m),
    price: new Float64Array(m),
    volatility: new Float64Array(m),
  };
  for (let slot = 0; slot < m; slot++) {
    const candle = candles[picked[slot] as number] as Candle;
    columns.underlying[slot] = pickedUnderlying[slot] as number;
    columns.timeToExpiryYears[slot] = timeToExpiryYears(expiry, candle.date);
    columns.price[slot] = candle.close;
  }

  const parameters = { model: pricing.model, rate: pricing.rate, dividendYield: engineDividendYield(pricing) };
  const status = new Uint8Array(m);
  const implied = new Float64Array(m);
  impliedVolatilityBatch(parameters, columns, implied, status);
  let lastSolved = usableVolatility(input.fallbackVolatility);
  for (let slot = 0; slot < m; slot++) {
    if (status[slot] === IV_STATUS_CODE.ok) {
      lastSolved = implied[slot] as number;
    } else {
      warnings.add('volatility-fallback', (candles[picked[slot] as number] as Candle).date);
    }
    columns.volatility[slot] = lastSolved;
  }
  const out = {
    price: new Float64Array(m),
    delta: new Float64Array(m),
    gamma: new Float64Array(m),
    theta: new Float64Array(m),
    vega: new Float64Array(m),
    rho: new Float64Array(m),
  };
  greeksBatch(parameters, columns, out);

  const enriched: HistoryCandle[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const candle = candles[i] as Candle;
    const slot = slotOf[i] as number;
    let greeks: HistoryCandle['greeks'] = null;
    if (slot >= 0) {
      const delta = out.delta[slot] as number;
      const gamma = out.gamma[slot] as number;
      const theta = out.theta[slot] as number;
      const vega = out.vega[slot] as number;
      if (Number.isFinite(delta) && Number.isFinite(gamma) && Number.isFinite(theta) && Number.isFinite(vega)) {
        greeks = { delta, gamma, theta, vega };
      } else {
        warnings.add('greeks-unavailable', candle.date);
      }
    }
    enriched[i] = {
      date: new Date(candle.date).toISOString(),
      open: candle.open,
      high: candle.high,
      low: candle.low,
      close: candle.close,
      volume: candle.volume,
      oi: candle.oi,
      greeks,
    };
  }
  return { candles: enriched, warnings: warnings.list() };
}

/** Underlying candles with a usable close, in time order (copied only when out of order). */
function sortedUsable(candles: readonly Candle[]): readonly Candle[] {
  const usable = candles.filter((c) => c.close > 0 && c.close < Number.POSITIVE_INFINITY && Number.isFinite(c.date));
  for (let i = 1; i < usable.length; i++) {
    if ((usable[i] as Candle).date < (usable[i - 1] as Candle).date) return usable.sort((a, b) => a.date - b.date);
  }
  return usable;
}

/** Index of the last candle with `date <= at`, or −1 (binary search). */
function lastAtOrBefore(sorted: readonly Candle[], at: number): number {
  let low = 0;
  let high = sorted.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] as Candle).date <= at) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

class WarningCollector {
  readonly #byCode = new Map<EnrichmentWarningCode, { count: number; firstAtMs: number; lastAtMs: number }>();

  add(code: EnrichmentWarningCode, atMs: number): void {
    const entry = this.#byCode.get(code);
    if (entry === undefined) {
      this.#byCode.set(code, { count: 1, firstAtMs: atMs, lastAtMs: atMs });
      return;
    }
    entry.count++;
    entry.firstAtMs = Math.min(entry.firstAtMs, atMs);
    entry.lastAtMs = Math.max(entry.lastAtMs, atMs);
  }

  list(): EnrichmentWarning[] {
    return [...this.#byCode].map(([code, entry]) => ({
      code,
      message: `${WARNING_TEXT[code]} (${entry.count} candle${entry.count === 1 ? '' : 's'}, ${iso(entry.firstAtMs)} to ${iso(entry.lastAtMs)})`,
      ...entry,
    }));
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

import type { Instrument } from '../../ports/market-data.js';
import { priceUnchecked, timeToExpiryYears } from '../greeks/index.js';
import { MOCK_UNDERLYINGS, type MockUnderlying, OPTION_TICK_SIZE } from './mock-instruments.js';
import { seededRandom } from './seeded-random.js';
import { roundToTick } from './tick-rounding.js';

/**
 * The one seeded price path of the mock market. The live mock feed (`MockMarket`) and the mock
 * history (`MockMarketData`: candles and last prices) both read prices from here, so a client, a
 * paper fill and a history request asked at the same moment see the same price: the index level
 * is a pure function of (seed, index, time) and an option's price a pure function of that level
 * and the time. Nothing depends on when a process started or how often it stepped.
 *
 * The path: each trading day has a session path of one point per minute from 09:15 to 15:30 IST
 * (a day level from a slow seeded walk, then a seeded random walk through the session); between
 * two points, and across the nights, weekends and holidays between one session's close and the
 * next one's open, a seeded Brownian bridge joins the known points, refined by halving down to
 * 50 ms. So the path is continuous, defined at every moment (the mock streams outside market
 * hours too), and its minute points are exactly the minute candles' opens and closes.
 */

/** What the path needs. */
export interface MockPricePathOptions {
  /** Seed of every random number of the path (config `MOCK_SEED`). */
  readonly seed: number;
  /** Rates the option model uses (config `pricing`). */
  readonly rate: number;
  readonly dividendYield: number;
  /** Days without a session, `YYYY-MM-DD`: the path bridges over them. */
  readonly holidays?: readonly string[];
}

/** An option's price on the path, and the model value and smile volatility behind it. */
export interface MockOptionPrice {
  /** On the tick grid, at least one tick: what the option trades at. */
  readonly price: number;
  /** The Black-Scholes value before rounding (NaN only for inputs the engine cannot price). */
  readonly modelPrice: number;
  readonly volatility: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const IST_OFFSET_MS = 5.5 * 3_600_000;
/** 09:15 IST as milliseconds after midnight UTC of the same date. */
const SESSION_OPEN_UTC_MS = (9 * 60 + 15 - 330) * MINUTE_MS;
/** Minutes in the continuous session, 09:15 to 15:30. */
export const SESSION_MINUTES = 375;
const TRADING_DAYS_PER_YEAR = 252;
/** The path runs in trading time: a year of 252 sessions, so its volatility is the session's. */
const TRADING_YEAR_MS = TRADING_DAYS_PER_YEAR * SESSION_MINUTES * MINUTE_MS;
/** The bridge is refined down to this: the shortest stream interval the configuration allows. */
const RESOLUTION_MS = 50;
const MIN_VOLATILITY = 0.05;
const MAX_VOLATILITY = 2;
/** Holidays and weekends searched past when looking for the neighbouring session. */
const MAX_CLOSED_DAYS = 30;
/** Session paths kept, so stepping the live market does not rebuild them every second. */
const CACHED_SESSIONS = 16;

/** The seeded price path of the mock indices and their options. */
export class MockPricePath {
  readonly #seed: number;
  readonly #rate: number;
  readonly #dividendYield: number;
  readonly #holidays: ReadonlySet<string>;
  readonly #sessions = new Map<string, Float64Array>();

  constructor(options: MockPricePathOptions) {
    if (!Number.isFinite(options.seed)) throw new RangeError('seed must be a finite number');
    this.#seed = options.seed;
    this.#rate = options.rate;
    this.#dividendYield = options.dividendYield;
    this.#holidays = new Set(options.holidays ?? []);
  }

  /** Whether `day` (days since 1970-01-01) has a session: a weekday that is not a holiday. */
  isTradingDay(day: number): boolean {
    const weekday = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday (4).
    if (weekday === 0 || weekday === 6) return false;
    return !this.#holidays.has(new Date(day * DAY_MS).toISOString().slice(0, 10));
  }

  /** Epoch milliseconds of 09:15 IST on `day`. */
  sessionOpenMs(day: number): number {
    return day * DAY_MS + SESSION_OPEN_UTC_MS;
  }

  /**
   * The index's level at each minute of `day`'s session (376 points, 09:15 to 15:30 inclusive), on
   * the tick grid. Callers must not change the array.
   */
  sessionLevels(spec: MockUnderlying, day: number): Float64Array {
    const key = `${spec.indexToken}:${day}`;
    const cached = this.#sessions.get(key);
    if (cached !== undefined) return cached;
    const random = seededRandom(mix(this.#seed, spec.indexToken, day));
    // The day's level: a smooth function of the day, so neighbouring days are close.
    let drift = 0;
    for (let k = 0; k < 5; k++) drift += seededRandom(mix(this.#seed, spec.indexToken, day - k)).normal();
    const dayLevel =
      spec.spot * Math.exp((drift / Math.sqrt(5)) * spec.volatility * Math.sqrt(5 / TRADING_DAYS_PER_YEAR));
    const perMinute = spec.volatility / Math.sqrt(TRADING_DAYS_PER_YEAR * SESSION_MINUTES);
    const path = new Float64Array(SESSION_MINUTES + 1);
    let level = dayLevel;
    for (let m = 0; m <= SESSION_MINUTES; m++) {
      path[m] = roundToTick(level, OPTION_TICK_SIZE);
      level *= Math.exp(perMinute * random.normal());
    }
    if (this.#sessions.size >= CACHED_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    this.#sessions.set(key, path);
    return path;
  }

  /** The index's level at `atMs`, on the tick grid: the same number for the same time, always. */
  indexLevel(spec: MockUnderlying, atMs: number): number {
    if (!Number.isFinite(atMs)) throw new RangeError(`atMs must be a finite number, got ${String(atMs)}`);
    const day = Math.floor((atMs + IST_OFFSET_MS) / DAY_MS);
    const open = this.sessionOpenMs(day);
    const close = open + SESSION_MINUTES * MINUTE_MS;
    if (this.isTradingDay(day) && atMs >= open && atMs <= close) {
      const levels = this.sessionLevels(spec, day);
      const m = Math.min(SESSION_MINUTES - 1, Math.floor((atMs - open) / MINUTE_MS));
      const start = open + m * MINUTE_MS;
      return this.#bridge(spec, start, levels[m] as number, start + MINUTE_MS, levels[m + 1] as number, atMs);
    }
    // Between sessions: from the last close before `atMs` to the next open after it.
    const before = this.#nearestSession(atMs < open ? day - 1 : day, -1);
    const after = this.#nearestSession(atMs > close ? day + 1 : day, +1);
    const from = this.sessionOpenMs(before) + SESSION_MINUTES * MINUTE_MS;
    const to = this.sessionOpenMs(after);
    const fromLevel = this.sessionLevels(spec, before)[SESSION_MINUTES] as number;
    const toLevel = this.sessionLevels(spec, after)[0] as number;
    return this.#bridge(spec, from, fromLevel, to, toLevel, atMs);
  }

  /**
   * An option's price from the index level `spot` at `atMs`: Black-Scholes on the underlying's
   * volatility smile, rounded to the tick and never below one tick (Kite never shows a zero
   * price), so an expired or unpriceable option trades at one tick.
   */
  optionPrice(option: Instrument, spec: MockUnderlying, spot: number, atMs: number): MockOptionPrice {
    const time = timeToExpiryYears(option.expiry as string, atMs);
    const forward = spot * Math.exp((this.#rate - this.#dividendYield) * time);
    const m = Math.log(option.strike / forward);
    const raw = spec.volatility + spec.smile.skew * m + spec.smile.curvature * m * m;
    const volatility = Math.min(MAX_VOLATILITY, Math.max(MIN_VOLATILITY, raw));
    const modelPrice = priceUnchecked({
      kind: option.instrumentType as 'CE' | 'PE',
      model: 'black-scholes',
      underlying: spot,
      strike: option.strike,
      timeToExpiryYears: time,
      volatility,
      rate: this.#rate,
      dividendYield: this.#dividendYield,
    });
    const price = roundToTick(Number.isFinite(modelPrice) ? modelPrice : 0, OPTION_TICK_SIZE);
    return { price, modelPrice, volatility };
  }

  /** The price of `instrument` (an index or an option of a known underlying) at `atMs`. */
  priceAt(instrument: Instrument, atMs: number, underlyings = DEFAULT_UNDERLYINGS): number | undefined {
    const spec = underlyings.get(instrument.name);
    if (spec === undefined) return undefined;
    const level = this.indexLevel(spec, atMs);
    if (instrument.instrumentType === 'INDEX') return level;
    if ((instrument.instrumentType !== 'CE' && instrument.instrumentType !== 'PE') || instrument.expiry === null) {
      return undefined;
    }
    return this.optionPrice(instrument, spec, level, atMs).price;
  }

  /** The first trading day from `day` on in `direction`; a `RangeError` past a month of holidays. */
  #nearestSession(day: number, direction: 1 | -1): number {
    for (let d = day, k = 0; k <= MAX_CLOSED_DAYS; d += direction, k++) if (this.isTradingDay(d)) return d;
    throw new RangeError(`no trading day within ${MAX_CLOSED_DAYS} days of day ${day}`);
  }

  /**
   * The log-level at `at` of a Brownian bridge from (`t0`, `x0`) to (`t1`, `x1`), by halving the
   * interval around `at` and drawing each midpoint from a seed of its interval alone, so any `at`
   * sees the same midpoints as its neighbours. `at` is taken down to a multiple of 50 ms.
   */
  #bridge(spec: MockUnderlying, t0: number, x0: number, t1: number, x1: number, at: number): number {
    let from = t0;
    let to = t1;
    let low = Math.log(x0);
    let high = Math.log(x1);
    const target = Math.floor(at / RESOLUTION_MS) * RESOLUTION_MS;
    const variancePerMs = (spec.volatility * spec.volatility) / TRADING_YEAR_MS;
    while (to - from > RESOLUTION_MS) {
      const mid = from + Math.floor((to - from) / 2 / RESOLUTION_MS) * RESOLUTION_MS;
      const span = to - from;
      const mean = low + ((high - low) * (mid - from)) / span;
      const sd = Math.sqrt((variancePerMs * (mid - from) * (to - mid)) / span);
      const z = hashNormal(mix(this.#seed ^ spec.indexToken, from / RESOLUTION_MS, to / RESOLUTION_MS));
      const value = mean + sd * z;
      if (target < mid) {
        to = mid;
        high = value;
      } else {
        from = mid;
        low = value;
      }
    }
    const level = Math.exp(target >= to ? high : low);
    return roundToTick(level, OPTION_TICK_SIZE);
  }
}

const DEFAULT_UNDERLYINGS: ReadonlyMap<string, MockUnderlying> = new Map(
  Object.values(MOCK_UNDERLYINGS).map((u) => [u.name, u]),
);

/**
 * A standard normal variate from a 32-bit hash (Box-Muller on two further hashes of it): a bridge
 * draws one per midpoint, and a whole generator per midpoint would cost more than the rest.
 */
function hashNormal(hash: number): number {
  const u = (mix(hash, 1, 0) + 1) / 4_294_967_297; // in (0, 1): the logarithm is finite
  const v = mix(hash, 2, 0) / 4_294_967_296;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A 32-bit seed from (seed, a, b): distinct inputs give unrelated streams. */
export function mix(seed: number, a: number, b: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (a >>> 0) ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ (b >>> 0) ^ (h >>> 13), 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

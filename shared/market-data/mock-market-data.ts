import { priceUnchecked, timeToExpiryYears } from '../domain/greeks/index.js';
import { epochDay } from '../domain/market/calendar-dates.js';
import { MOCK_UNDERLYINGS, type MockUnderlying, OPTION_TICK_SIZE } from '../domain/market/mock-instruments.js';
import { seededRandom } from '../domain/market/seeded-random.js';
import { roundToTick } from '../domain/market/tick-rounding.js';
import type { Candle, CandleInterval, Instrument, MarketData } from '../ports/market-data.js';

/**
 * The `MarketData` port without Kite: deterministic history for the mock instrument registry, so
 * `GET /history` (with Greeks) works on a laptop and in tests exactly as it does against Kite.
 *
 * Why it is shaped this way:
 * - **Any range gives the same candles.** Each trading day's index path is generated from
 *   (seed, token, day) alone, so asking for one hour or a whole month yields identical candles for
 *   the minutes they share, and a restart changes nothing.
 * - **Options agree with their index.** An option's price at a minute is the Black-Scholes value
 *   on the same smile the live mock uses, from the index level of that minute, rounded to the
 *   tick: the implied volatility of its closes is the smile's, and Greeks come out sensible.
 * - **Kite's calendar.** Candles exist for weekdays that are not configured holidays, from 09:15
 *   to 15:30 IST (375 minute candles a day), stamped at the start of their interval; N-minute
 *   candles are aligned to 09:15; daily candles are stamped at 00:00 IST. Nothing after `now`
 *   or, for an option, after its expiry.
 * Pure apart from the `now` it is handed.
 */

/** What the mock history needs. */
export interface MockMarketDataOptions {
  /** The registry whose instruments have history (normally the components' `loadInstruments`). */
  readonly instruments: () => Promise<readonly Instrument[]>;
  readonly seed: number;
  readonly rate: number;
  readonly dividendYield: number;
  /** Days without a session, `YYYY-MM-DD`. */
  readonly holidays?: readonly string[];
  /** Current time, epoch milliseconds: no candle starts after it. */
  readonly now: () => number;
  /** Index definitions by name (default the platform's NIFTY and BANKNIFTY). */
  readonly underlyings?: readonly MockUnderlying[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const IST_OFFSET_MS = 5.5 * 3_600_000;
/** 09:15 IST as minutes after midnight UTC of the same date. */
const SESSION_OPEN_UTC_MINUTE = 9 * 60 + 15 - 330;
/** Minutes in the continuous session, 09:15 to 15:30. */
export const SESSION_MINUTES = 375;
const TRADING_DAYS_PER_YEAR = 252;
const MIN_VOLATILITY = 0.05;
const MAX_VOLATILITY = 1.5;

const INTERVAL_MINUTES: Readonly<Record<Exclude<CandleInterval, 'day'>, number>> = {
  minute: 1,
  '3minute': 3,
  '5minute': 5,
  '10minute': 10,
  '15minute': 15,
  '30minute': 30,
  '60minute': 60,
};

/** One minute of one instrument, before aggregation. */
interface MinuteBar {
  readonly date: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** The deterministic mock implementation of {@link MarketData}. */
export class MockMarketData implements MarketData {
  readonly #options: MockMarketDataOptions;
  readonly #specs: ReadonlyMap<string, MockUnderlying>;
  readonly #holidays: ReadonlySet<string>;
  #index: { source: readonly Instrument[]; byToken: Map<number, Instrument> } | undefined;

  constructor(options: MockMarketDataOptions) {
    this.#options = options;
    const underlyings = options.underlyings ?? Object.values(MOCK_UNDERLYINGS);
    this.#specs = new Map(underlyings.map((u) => [u.name, u]));
    this.#holidays = new Set(options.holidays ?? []);
  }

  instruments(): Promise<readonly Instrument[]> {
    return this.#options.instruments();
  }

  async historical(query: {
    instrumentToken: number;
    from: number;
    to: number;
    interval: CandleInterval;
    oi: boolean;
  }): Promise<readonly Candle[]> {
    const instrument = (await this.#byToken()).get(query.instrumentToken);
    if (instrument === undefined) return [];
    const spec = this.#specs.get(instrument.name);
    if (spec === undefined) return [];
    const to = Math.min(query.to, this.#options.now());
    if (!(to >= query.from)) return [];
    const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
    const lastDay = isOption && instrument.expiry !== null ? epochDay(instrument.expiry) : Number.POSITIVE_INFINITY;
    // Daily candles are stamped at 00:00 IST, so a day belongs to the range by that stamp.
    const firstDay = Math.floor((query.from + IST_OFFSET_MS) / DAY_MS);
    const endDay = Math.min(Math.floor((to + IST_OFFSET_MS) / DAY_MS), lastDay);
    const candles: Candle[] = [];
    for (let day = firstDay; day <= endDay; day++) {
      if (!this.#isTradingDay(day)) continue;
      const minutes = this.#minutes(instrument, spec, day);
      for (const candle of aggregate(minutes, query.interval, day)) {
        if (candle.date < query.from || candle.date > to) continue;
        candles.push({ ...candle, oi: isOption && query.oi ? this.#openInterest(instrument, day) : null });
      }
    }
    return candles;
  }

  async lastPrices(tokens: readonly number[]): Promise<ReadonlyMap<number, number>> {
    const now = this.#options.now();
    const prices = new Map<number, number>();
    for (const token of tokens) {
      const candles = await this.historical({
        instrumentToken: token,
        from: now - 7 * DAY_MS,
        to: now,
        interval: 'day',
        oi: false,
      });
      const last = candles.at(-1);
      if (last !== undefined) prices.set(token, last.close);
    }
    return prices;
  }

  async #byToken(): Promise<Map<number, Instrument>> {
    const source = await this.#options.instruments();
    if (this.#index?.source !== source) {
      this.#index = { source, byToken: new Map(source.map((i) => [i.instrumentToken, i])) };
    }
    return this.#index.byToken;
  }

  #isTradingDay(day: number): boolean {
    const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday (4).
    if (weekday === 0 || weekday === 6) return false;
    return !this.#holidays.has(new Date(day * DAY_MS).toISOString().slice(0, 10));
  }

  /**
   * The index's level at each minute boundary of `day` (376 points, 09:15 to 15:30): a day level
   * from a slow seeded walk, then a seeded random walk through the session.
   */
  #indexPath(spec: MockUnderlying, day: number): Float64Array {
    const random = seededRandom(mix(this.#options.seed, spec.indexToken, day));
    // The day's level: a smooth function of the day so neighbouring days are close.
    let drift = 0;
    for (let k = 0; k < 5; k++) drift += seededRandom(mix(this.#options.seed, spec.indexToken, day - k)).normal();
    const dayLevel =
      spec.spot * Math.exp((drift / Math.sqrt(5)) * spec.volatility * Math.sqrt(5 / TRADING_DAYS_PER_YEAR));
    const perMinute = spec.volatility / Math.sqrt(TRADING_DAYS_PER_YEAR * SESSION_MINUTES);
    const path = new Float64Array(SESSION_MINUTES + 1);
    let level = dayLevel;
    for (let m = 0; m <= SESSION_MINUTES; m++) {
      path[m] = Math.round(level * 100) / 100;
      level *= Math.exp(perMinute * random.normal());
    }
    return path;
  }

  #minutes(instrument: Instrument, spec: MockUnderlying, day: number): MinuteBar[] {
    const path = this.#indexPath(spec, day);
    const start = day * DAY_MS + SESSION_OPEN_UTC_MINUTE * MINUTE_MS;
    const random = seededRandom(mix(this.#options.seed, instrument.instrumentToken, day) ^ 0x5bd1e995);
    const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
    const bars: MinuteBar[] = new Array(SESSION_MINUTES);
    for (let m = 0; m < SESSION_MINUTES; m++) {
      const open = path[m] as number;
      const close = path[m + 1] as number;
      const wiggle = 1 + Math.abs(random.normal()) * 0.0002;
      const high = Math.max(open, close) * wiggle;
      const low = Math.min(open, close) / wiggle;
      const date = start + m * MINUTE_MS;
      if (!isOption) {
        bars[m] = { date, open, high: round2(high), low: round2(low), close, volume: 0 };
        continue;
      }
      const at = (s: number, t: number) => this.#optionPrice(instrument, spec, s, t);
      const o = at(open, date);
      const c = at(close, date + MINUTE_MS);
      const atHigh = at(high, date);
      const atLow = at(low, date);
      const lots = random.integer(1, 40);
      bars[m] = {
        date,
        open: o,
        high: Math.max(o, c, atHigh, atLow),
        low: Math.min(o, c, atHigh, atLow),
        close: c,
        volume: lots * instrument.lotSize,
      };
    }
    return bars;
  }

  /** Black-Scholes on the smile, on the tick grid, never below one tick. */
  #optionPrice(instrument: Instrument, spec: MockUnderlying, spot: number, atMs: number): number {
    const { rate, dividendYield } = this.#options;
    const time = timeToExpiryYears(instrument.expiry as string, atMs);
    const forward = spot * Math.exp((rate - dividendYield) * time);
    const m = Math.log(instrument.strike / forward);
    const raw = spec.volatility + spec.smile.skew * m + spec.smile.curvature * m * m;
    const volatility = Math.min(MAX_VOLATILITY, Math.max(MIN_VOLATILITY, raw));
    const value = priceUnchecked({
      kind: instrument.instrumentType as 'CE' | 'PE',
      model: 'black-scholes',
      underlying: spot,
      strike: instrument.strike,
      timeToExpiryYears: time,
      volatility,
      rate,
      dividendYield,
    });
    return Math.max(OPTION_TICK_SIZE, roundToTick(Number.isFinite(value) ? value : 0, OPTION_TICK_SIZE));
  }

  /** Open interest through the day: a seeded whole number of lots per instrument and day. */
  #openInterest(instrument: Instrument, day: number): number {
    const random = seededRandom(mix(this.#options.seed, instrument.instrumentToken, day) ^ 0x27d4eb2f);
    return random.integer(1_000, 50_000) * Math.max(1, instrument.lotSize);
  }
}

/** Minute bars of one day grouped into `interval` candles aligned to the session open. */
function aggregate(minutes: readonly MinuteBar[], interval: CandleInterval, day: number): Omit<Candle, 'oi'>[] {
  const size = interval === 'day' ? SESSION_MINUTES : INTERVAL_MINUTES[interval];
  const out: Omit<Candle, 'oi'>[] = [];
  for (let first = 0; first < minutes.length; first += size) {
    const group = minutes.slice(first, first + size);
    const head = group[0] as MinuteBar;
    const tail = group[group.length - 1] as MinuteBar;
    let high = head.high;
    let low = head.low;
    let volume = 0;
    for (const bar of group) {
      if (bar.high > high) high = bar.high;
      if (bar.low < low) low = bar.low;
      volume += bar.volume;
    }
    out.push({
      date: interval === 'day' ? day * DAY_MS - IST_OFFSET_MS : head.date,
      open: head.open,
      high,
      low,
      close: tail.close,
      volume,
    });
  }
  return out;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** A 32-bit seed from (seed, token, day): distinct inputs give unrelated streams. */
function mix(seed: number, token: number, day: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (token >>> 0) ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ (day | 0) ^ (h >>> 13), 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

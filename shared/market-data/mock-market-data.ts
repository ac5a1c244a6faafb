import { epochDay } from '../domain/market/calendar-dates.js';
import { MOCK_UNDERLYINGS, type MockUnderlying } from '../domain/market/mock-instruments.js';
import { MockPricePath, mix, SESSION_MINUTES } from '../domain/market/mock-price-path.js';
import { seededRandom } from '../domain/market/seeded-random.js';
import type { Candle, CandleInterval, Instrument, MarketData } from '../ports/market-data.js';

/**
 * The `MarketData` port without Kite: deterministic history for the mock instrument registry, so
 * `GET /history` (with Greeks) works on a laptop and in tests exactly as it does against Kite.
 *
 * Why it is shaped this way:
 * - **Any range gives the same candles.** Each trading day's index path is generated from
 *   (seed, token, day) alone, so asking for one hour or a whole month yields identical candles for
 *   the minutes they share, and a restart changes nothing (only the candle in progress grows).
 * - **History agrees with the live mock.** Prices come from the {@link MockPricePath} the live
 *   mock feed streams (same seed, rates and holidays): the candle in progress ends at `now` with
 *   the price a client is streamed at that moment, and `lastPrices` is that price, so a paper
 *   order fills where the client saw the market, not at a day's close computed ahead of time.
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
  /** Days without a session, `YYYY-MM-DD` (the live mock market must get the same). */
  readonly holidays?: readonly string[];
  /** Current time, epoch milliseconds: no candle starts after it. */
  readonly now: () => number;
  /** Index definitions by name (default the platform's NIFTY and BANKNIFTY). */
  readonly underlyings?: readonly MockUnderlying[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const IST_OFFSET_MS = 5.5 * 3_600_000;

/** Minutes in the continuous session, 09:15 to 15:30 (re-exported for the history's callers). */
export { SESSION_MINUTES };

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
  readonly #path: MockPricePath;
  #index: { source: readonly Instrument[]; byToken: Map<number, Instrument> } | undefined;

  constructor(options: MockMarketDataOptions) {
    this.#options = options;
    const underlyings = options.underlyings ?? Object.values(MOCK_UNDERLYINGS);
    this.#specs = new Map(underlyings.map((u) => [u.name, u]));
    this.#path = new MockPricePath({
      seed: options.seed,
      rate: options.rate,
      dividendYield: options.dividendYield,
      ...(options.holidays !== undefined && { holidays: options.holidays }),
    });
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
    const now = this.#options.now();
    const to = Math.min(query.to, now);
    if (!(to >= query.from)) return [];
    const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
    const lastDay = isOption && instrument.expiry !== null ? epochDay(instrument.expiry) : Number.POSITIVE_INFINITY;
    // Daily candles are stamped at 00:00 IST, so a day belongs to the range by that stamp.
    const firstDay = Math.floor((query.from + IST_OFFSET_MS) / DAY_MS);
    const endDay = Math.min(Math.floor((to + IST_OFFSET_MS) / DAY_MS), lastDay);
    const candles: Candle[] = [];
    for (let day = firstDay; day <= endDay; day++) {
      if (!this.#path.isTradingDay(day)) continue;
      const minutes = this.#minutes(instrument, spec, day, now);
      for (const candle of aggregate(minutes, query.interval, day)) {
        if (candle.date < query.from || candle.date > to) continue;
        candles.push({ ...candle, oi: isOption && query.oi ? this.#openInterest(instrument, day) : null });
      }
    }
    return candles;
  }

  /**
   * The price on the mock path at `now`: what the live mock feed streams at this moment, and the
   * close of the history's candle in progress during a session.
   */
  async lastPrices(tokens: readonly number[]): Promise<ReadonlyMap<number, number>> {
    const now = this.#options.now();
    const byToken = await this.#byToken();
    const prices = new Map<number, number>();
    for (const token of tokens) {
      const instrument = byToken.get(token);
      if (instrument === undefined) continue;
      const price = this.#path.priceAt(instrument, now, this.#specs);
      if (price !== undefined) prices.set(token, price);
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

  /**
   * The minute bars of `day` that have begun by `now`. A bar still in progress ends at `now`: its
   * close is the path's price at that moment, as the live feed streams it.
   */
  #minutes(instrument: Instrument, spec: MockUnderlying, day: number, now: number): MinuteBar[] {
    const path = this.#path.sessionLevels(spec, day);
    const start = this.#path.sessionOpenMs(day);
    const random = seededRandom(mix(this.#options.seed, instrument.instrumentToken, day) ^ 0x5bd1e995);
    const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
    const count = Math.min(SESSION_MINUTES, Math.floor((now - start) / MINUTE_MS) + 1);
    const bars: MinuteBar[] = [];
    for (let m = 0; m < count; m++) {
      const date = start + m * MINUTE_MS;
      const end = date + MINUTE_MS;
      const closeAt = Math.min(end, now);
      const open = path[m] as number;
      const close = closeAt === end ? (path[m + 1] as number) : this.#path.indexLevel(spec, closeAt);
      const wiggle = 1 + Math.abs(random.normal()) * 0.0002;
      const high = Math.max(open, close) * wiggle;
      const low = Math.min(open, close) / wiggle;
      if (!isOption) {
        bars.push({ date, open, high: round2(high), low: round2(low), close, volume: 0 });
        continue;
      }
      const at = (s: number, t: number) => this.#path.optionPrice(instrument, spec, s, t).price;
      const o = at(open, date);
      const c = at(close, closeAt);
      const atHigh = at(high, date);
      const atLow = at(low, date);
      const lots = random.integer(1, 40);
      bars.push({
        date,
        open: o,
        high: Math.max(o, c, atHigh, atLow),
        low: Math.min(o, c, atHigh, atLow),
        close: c,
        volume: lots * instrument.lotSize,
      });
    }
    return bars;
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

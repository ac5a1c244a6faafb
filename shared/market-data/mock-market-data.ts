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
/** Calendar days of history generated between two turns of the event loop (a few ms of work). */
const YIELD_EVERY_DAYS = 16;
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
      // Years of history take a while to walk: let the ticks and other requests in between.
      if ((day - firstDay) % YIELD_EVERY_DAYS === YIELD_EVERY_DAYS - 1) await yieldToEventLoop();
      for (const candle of this.#candles(instrument, spec, day, now, query.interval)) {
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
   * The `interval` candles of `day` that have begun by `now`, aligned to 09:15. The index path is
   * walked minute by minute (cheap arithmetic, and the same seeded draws for every interval), but an
   * option is priced only four times a candle, at the candle's open, close, highest and lowest index
   * level: a five-year daily range costs about 5,000 option prices, not two million, so `/history`
   * does not hold the event loop. A candle still in progress ends at `now` with the price the live
   * feed streams at that moment.
   */
  #candles(
    instrument: Instrument,
    spec: MockUnderlying,
    day: number,
    now: number,
    interval: CandleInterval,
  ): Omit<Candle, 'oi'>[] {
    const path = this.#path.sessionLevels(spec, day);
    const start = this.#path.sessionOpenMs(day);
    const random = seededRandom(mix(this.#options.seed, instrument.instrumentToken, day) ^ 0x5bd1e995);
    const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
    const count = Math.min(SESSION_MINUTES, Math.floor((now - start) / MINUTE_MS) + 1);
    const size = interval === 'day' ? SESSION_MINUTES : INTERVAL_MINUTES[interval];
    const candles: Omit<Candle, 'oi'>[] = [];
    for (let first = 0; first < count; first += size) {
      const date = start + first * MINUTE_MS;
      const open = path[first] as number;
      let high = Number.NEGATIVE_INFINITY;
      let highAt = date;
      let low = Number.POSITIVE_INFINITY;
      let lowAt = date;
      let close = open;
      let closeAt = date;
      let lots = 0;
      for (let m = first; m < Math.min(first + size, count); m++) {
        const minuteStart = start + m * MINUTE_MS;
        const end = minuteStart + MINUTE_MS;
        closeAt = Math.min(end, now);
        const from = path[m] as number;
        close = closeAt === end ? (path[m + 1] as number) : this.#path.indexLevel(spec, closeAt);
        const wiggle = 1 + Math.abs(random.normal()) * 0.0002;
        if (Math.max(from, close) * wiggle > high) {
          high = Math.max(from, close) * wiggle;
          highAt = minuteStart;
        }
        if (Math.min(from, close) / wiggle < low) {
          low = Math.min(from, close) / wiggle;
          lowAt = minuteStart;
        }
        if (isOption) lots += random.integer(1, 40);
      }
      const stamp = interval === 'day' ? day * DAY_MS - IST_OFFSET_MS : date;
      if (!isOption) {
        candles.push({ date: stamp, open, high: round2(high), low: round2(low), close, volume: 0 });
        continue;
      }
      const at = (s: number, t: number) => this.#path.optionPrice(instrument, spec, s, t).price;
      const o = at(open, date);
      const c = at(close, closeAt);
      const atHigh = at(high, highAt);
      const atLow = at(low, lowAt);
      candles.push({
        date: stamp,
        open: o,
        high: Math.max(o, c, atHigh, atLow),
        low: Math.min(o, c, atHigh, atLow),
        close: c,
        volume: lots * instrument.lotSize,
      });
    }
    return candles;
  }

  /** Open interest through the day: a seeded whole number of lots per instrument and day. */
  #openInterest(instrument: Instrument, day: number): number {
    const random = seededRandom(mix(this.#options.seed, instrument.instrumentToken, day) ^ 0x27d4eb2f);
    return random.integer(1_000, 50_000) * Math.max(1, instrument.lotSize);
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

import type { MarketTick } from '../../contracts/tick.js';
import type { Instrument } from '../../ports/market-data.js';
import { epochDay } from './calendar-dates.js';
import { MOCK_UNDERLYINGS, type MockUnderlying, OPTION_TICK_SIZE } from './mock-instruments.js';
import { MockPricePath } from './mock-price-path.js';
import { type SeededRandom, seededRandom } from './seeded-random.js';
import { boundedTickStep } from './tick-rounding.js';

/**
 * A simulated market for running the platform without Kite: each index follows the seeded
 * {@link MockPricePath}, each option is priced from it by the Greeks engine on a volatility smile,
 * and the result comes out as the same `MarketTick`s the Kite connection produces, so everything
 * downstream (Greeks enrichment, the bus, the fan-out) runs unchanged on mock data. Prices come
 * from the same path as the mock history, so what a client streams, what `GET /history` ends on
 * and what a paper order fills at agree at every moment; only volumes and open interest are
 * drawn step by step.
 *
 * State lives in immutable snapshots. Advancing the market builds a complete new snapshot and
 * swaps one reference, so a reader holding a snapshot never sees part of an update (TC-MATL-051),
 * and every account task reading the market at one moment sees the same state (TC-MATL-023).
 */

/** The state of one index in a snapshot. */
export interface UnderlyingState {
  readonly name: string;
  readonly instrumentToken: number;
  readonly price: number;
  readonly dayOpen: number;
  readonly dayHigh: number;
  readonly dayLow: number;
  readonly previousClose: number;
  /**
   * Synthetic cumulative traded quantity. Kite's index packets carry no volume; the mock adds one
   * so the underlying bars have a volume to aggregate.
   */
  readonly volume: number;
  readonly lastQuantity: number;
  /** The traded quantity per step around which `lastQuantity` varies. */
  readonly baseQuantity: number;
}

/** The state of one option in a snapshot. */
export interface OptionState {
  readonly instrumentToken: number;
  /** The underlying's name, the key of `MarketSnapshot.underlyings`. */
  readonly underlying: string;
  readonly kind: 'CE' | 'PE';
  readonly strike: number;
  readonly expiry: string;
  readonly lotSize: number;
  /** The published price: the model value on the tick grid, at least one tick. */
  readonly price: number;
  /** The Black-Scholes value before rounding. */
  readonly modelPrice: number;
  /** The smile volatility the model price was computed with. */
  readonly volatility: number;
  /** The underlying price the model price was computed from (the same snapshot's). */
  readonly underlyingPrice: number;
  readonly volume: number;
  readonly lastQuantity: number;
  /** The traded quantity per step around which `lastQuantity` varies (a whole number of lots). */
  readonly baseQuantity: number;
  readonly averagePrice: number;
  readonly oi: number;
  readonly oiDayHigh: number;
  readonly oiDayLow: number;
  readonly dayOpen: number;
  readonly dayHigh: number;
  readonly dayLow: number;
  readonly previousClose: number;
}

/** One consistent state of the whole mock market. Frozen; replaced, never changed. */
export interface MarketSnapshot {
  /** 0 for the initial state, then +1 per advance. */
  readonly version: number;
  /** The market time of this state, epoch milliseconds; every tick from it carries this time. */
  readonly atMs: number;
  /** Index states by underlying name. */
  readonly underlyings: ReadonlyMap<string, UnderlyingState>;
  /** Option states by instrument token. */
  readonly options: ReadonlyMap<number, OptionState>;
}

/** Configuration of a {@link MockMarket}. */
export interface MockMarketOptions {
  /** Seed of the market's random numbers: the same seed and step times give the same ticks. */
  readonly seed: number;
  /** What to simulate: index instruments and CE/PE options of the known underlyings. */
  readonly instruments: readonly Instrument[];
  /** How each underlying moves (default NIFTY and BANKNIFTY as in {@link MOCK_UNDERLYINGS}). */
  readonly underlyings?: readonly MockUnderlying[];
  /**
   * Largest move of an index in one step, in basis points of the previous level (config: 15);
   * options move as the model prices them from the index. At one-second steps the path never
   * moves this far, so the cap only binds for long or sparse steps, where the index then lags
   * the path and history until it catches up.
   */
  readonly priceVariationBps: number;
  /** Largest relative deviation of a step's traded quantity from its base quantity (config: 0.1). */
  readonly volumeVariation: number;
  /** Rates the option model uses (config `pricing`). */
  readonly pricing: { readonly rate: number; readonly dividendYield: number };
  /**
   * NSE holidays (`YYYY-MM-DD`, config `TRADING_HOLIDAYS`): the path has no session on them. Pass
   * what the mock history gets, or the two paths differ on those days.
   */
  readonly holidays?: readonly string[];
}

/** Fraction of `volumeVariation` by which open interest may change in one step. */
const OI_VARIATION_SHARE = 0.05;
const DEPTH_LEVELS = 5;

type Depth = NonNullable<MarketTick['depth']>;

/**
 * The seeded mock market. Create one per process and share it between the account tasks: the
 * first `ensureInitialised` (or `advanceTo`) builds the state, later calls reuse it.
 */
export class MockMarket {
  readonly #random: SeededRandom;
  readonly #underlyings: readonly MockUnderlying[];
  readonly #specs: ReadonlyMap<string, MockUnderlying>;
  readonly #indexInstruments: ReadonlyMap<string, Instrument>;
  readonly #options: readonly Instrument[];
  readonly #instrumentsByToken: ReadonlyMap<number, Instrument>;
  readonly #maxMove: number;
  readonly #volumeVariation: number;
  readonly #path: MockPricePath;
  #snapshot: MarketSnapshot | undefined;
  #initialisations = 0;

  /**
   * Throws a `RangeError` for instruments the mock cannot simulate (futures, equities, unknown
   * underlyings, options without a valid expiry) and for out-of-range variations.
   */
  constructor(options: MockMarketOptions) {
    const { priceVariationBps, volumeVariation, pricing } = options;
    if (!(priceVariationBps >= 0 && priceVariationBps <= 10_000)) {
      throw new RangeError(`priceVariationBps must be from 0 to 10000, got ${priceVariationBps}`);
    }
    if (!(volumeVariation >= 0 && volumeVariation <= 1)) {
      throw new RangeError(`volumeVariation must be from 0 to 1, got ${volumeVariation}`);
    }
    if (!Number.isFinite(pricing.rate)) throw new RangeError('pricing.rate must be a finite number');
    if (!Number.isFinite(pricing.dividendYield)) throw new RangeError('pricing.dividendYield must be a finite number');
    this.#random = seededRandom(options.seed);
    this.#maxMove = priceVariationBps / 10_000;
    this.#volumeVariation = volumeVariation;
    this.#path = new MockPricePath({
      seed: options.seed,
      rate: pricing.rate,
      dividendYield: pricing.dividendYield,
      ...(options.holidays !== undefined && { holidays: options.holidays }),
    });

    const specs = new Map((options.underlyings ?? Object.values(MOCK_UNDERLYINGS)).map((u) => [u.name, u]));
    const used = new Set<string>();
    const indices = new Map<string, Instrument>();
    const optionInstruments: Instrument[] = [];
    const byToken = new Map<number, Instrument>();
    for (const instrument of options.instruments) {
      if (!specs.has(instrument.name)) {
        throw new RangeError(
          `no mock underlying named ${JSON.stringify(instrument.name)} (${instrument.tradingsymbol})`,
        );
      }
      if (byToken.has(instrument.instrumentToken)) {
        throw new RangeError(`instrument token ${instrument.instrumentToken} appears twice`);
      }
      byToken.set(instrument.instrumentToken, instrument);
      used.add(instrument.name);
      if (instrument.instrumentType === 'INDEX') {
        indices.set(instrument.name, instrument);
      } else if (instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE') {
        if (instrument.expiry === null) throw new RangeError(`${instrument.tradingsymbol} has no expiry`);
        epochDay(instrument.expiry, `expiry of ${instrument.tradingsymbol}`);
        if (!(instrument.strike > 0)) throw new RangeError(`${instrument.tradingsymbol} needs a positive strike`);
        optionInstruments.push(instrument);
      } else {
        throw new RangeError(`the mock market simulates indices and options, not ${instrument.instrumentType}`);
      }
    }
    // A fixed order (by name, then token) fixes the order random numbers are drawn in.
    this.#underlyings = [...used].sort().map((name) => specs.get(name) as MockUnderlying);
    this.#specs = specs;
    this.#indexInstruments = indices;
    this.#options = optionInstruments.sort((a, b) => a.instrumentToken - b.instrumentToken);
    this.#instrumentsByToken = byToken;
  }

  /** The seed this market was created with. */
  get seed(): number {
    return this.#random.seed;
  }

  /** How many times the state has been built: 1 once initialised, however many tasks asked. */
  get initialisations(): number {
    return this.#initialisations;
  }

  /** The simulated instrument with this token, if any. */
  instrument(token: number): Instrument | undefined {
    return this.#instrumentsByToken.get(token);
  }

  /** The current snapshot, or `undefined` before initialisation. Never a partly built state. */
  snapshot(): MarketSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * Builds the initial state at `nowMs` unless it exists, and returns the current snapshot.
   * The check and the build run in one synchronous turn of the event loop, so concurrent account
   * tasks cannot interleave inside it: the state is built exactly once (what the earlier service's
   * double-checked lock guaranteed), and every caller gets the same snapshot.
   */
  ensureInitialised(nowMs: number): MarketSnapshot {
    if (this.#snapshot !== undefined) return this.#snapshot;
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${String(nowMs)}`);
    const snapshot = this.#initialState(nowMs);
    this.#snapshot = snapshot;
    this.#initialisations++;
    return snapshot;
  }

  /**
   * Moves the market to `nowMs` and returns the snapshot for it. Time that does not move forward
   * returns the current snapshot unchanged, so several tasks stepping on one clock advance the
   * market once per instant and tick timestamps strictly increase.
   */
  advanceTo(nowMs: number): MarketSnapshot {
    const current = this.ensureInitialised(nowMs);
    if (!(nowMs > current.atMs)) return current;
    const next = this.#step(current, nowMs);
    this.#snapshot = next;
    return next;
  }

  /**
   * The ticks of `snapshot` in Kite's full mode: one per index instrument and option, or only for
   * `tokens` when given. Reads the snapshot only (no randomness), so asking twice gives the same
   * ticks.
   */
  ticks(snapshot: MarketSnapshot, tokens?: ReadonlySet<number>): MarketTick[] {
    const at = snapshot.atMs;
    const out: MarketTick[] = [];
    for (const [name, index] of this.#indexInstruments) {
      if (tokens !== undefined && !tokens.has(index.instrumentToken)) continue;
      const state = snapshot.underlyings.get(name);
      if (state === undefined) continue;
      out.push({
        instrumentToken: index.instrumentToken,
        mode: 'full',
        tradable: false,
        lastPrice: state.price,
        volumeTraded: state.volume,
        lastTradedQuantity: state.lastQuantity,
        ohlc: { open: state.dayOpen, high: state.dayHigh, low: state.dayLow, close: state.previousClose },
        change: percentChange(state.price, state.previousClose),
        exchangeTimestampMs: at,
        receivedAtMs: at,
      });
    }
    for (const option of this.#options) {
      if (tokens !== undefined && !tokens.has(option.instrumentToken)) continue;
      const state = snapshot.options.get(option.instrumentToken);
      if (state === undefined) continue;
      const depth = depthAround(state, snapshot.version);
      out.push({
        instrumentToken: state.instrumentToken,
        mode: 'full',
        tradable: true,
        lastPrice: state.price,
        lastTradedQuantity: state.lastQuantity,
        averageTradedPrice: state.averagePrice,
        volumeTraded: state.volume,
        totalBuyQuantity: depth.buy.reduce((sum, level) => sum + level.quantity, 0),
        totalSellQuantity: depth.sell.reduce((sum, level) => sum + level.quantity, 0),
        ohlc: { open: state.dayOpen, high: state.dayHigh, low: state.dayLow, close: state.previousClose },
        change: percentChange(state.price, state.previousClose),
        lastTradeTimeMs: at,
        oi: state.oi,
        oiDayHigh: state.oiDayHigh,
        oiDayLow: state.oiDayLow,
        exchangeTimestampMs: at,
        depth,
        receivedAtMs: at,
      });
    }
    return out;
  }

  #initialState(nowMs: number): MarketSnapshot {
    const random = this.#random;
    const underlyings = new Map<string, UnderlyingState>();
    for (const spec of this.#underlyings) {
      const price = this.#path.indexLevel(spec, nowMs);
      const baseQuantity = spec.lotSize * random.integer(500, 2000);
      underlyings.set(
        spec.name,
        Object.freeze({
          name: spec.name,
          instrumentToken: spec.indexToken,
          price,
          dayOpen: price,
          dayHigh: price,
          dayLow: price,
          previousClose: price,
          volume: baseQuantity * random.integer(1000, 5000),
          lastQuantity: 0,
          baseQuantity,
        }),
      );
    }
    const options = new Map<number, OptionState>();
    for (const option of this.#options) {
      const underlying = underlyings.get(option.name) as UnderlyingState;
      const spec = this.#spec(option.name);
      const model = this.#path.optionPrice(option, spec, underlying.price, nowMs);
      const price = model.price;
      const lot = Math.max(1, option.lotSize);
      const oi = lot * random.integer(1000, 20_000);
      options.set(
        option.instrumentToken,
        Object.freeze({
          instrumentToken: option.instrumentToken,
          underlying: option.name,
          kind: option.instrumentType as 'CE' | 'PE',
          strike: option.strike,
          expiry: option.expiry as string,
          lotSize: lot,
          price,
          modelPrice: model.modelPrice,
          volatility: model.volatility,
          underlyingPrice: underlying.price,
          volume: lot * random.integer(100, 2000),
          lastQuantity: 0,
          baseQuantity: lot * random.integer(1, 20),
          averagePrice: price,
          oi,
          oiDayHigh: oi,
          oiDayLow: oi,
          dayOpen: price,
          dayHigh: price,
          dayLow: price,
          previousClose: price,
        }),
      );
    }
    return Object.freeze({ version: 0, atMs: nowMs, underlyings, options });
  }

  #step(current: MarketSnapshot, nowMs: number): MarketSnapshot {
    const random = this.#random;
    const underlyings = new Map<string, UnderlyingState>();
    for (const spec of this.#underlyings) {
      const previous = current.underlyings.get(spec.name) as UnderlyingState;
      const target = this.#path.indexLevel(spec, nowMs);
      const price = boundedTickStep(previous.price, target, this.#maxMove, OPTION_TICK_SIZE);
      const quantity = this.#quantity(previous.baseQuantity);
      underlyings.set(
        spec.name,
        Object.freeze({
          ...previous,
          price,
          dayHigh: Math.max(previous.dayHigh, price),
          dayLow: Math.min(previous.dayLow, price),
          volume: previous.volume + quantity,
          lastQuantity: quantity,
        }),
      );
    }
    const options = new Map<number, OptionState>();
    for (const option of this.#options) {
      const previous = current.options.get(option.instrumentToken) as OptionState;
      const underlying = underlyings.get(option.name) as UnderlyingState;
      const model = this.#path.optionPrice(option, this.#spec(option.name), underlying.price, nowMs);
      const price = model.price;
      const quantity = this.#quantity(previous.baseQuantity);
      const volume = previous.volume + quantity;
      const oiMove = Math.round(previous.oi * this.#volumeVariation * OI_VARIATION_SHARE * random.uniform(-1, 1));
      const oi = Math.max(0, previous.oi + oiMove);
      options.set(
        option.instrumentToken,
        Object.freeze({
          ...previous,
          price,
          modelPrice: model.modelPrice,
          volatility: model.volatility,
          underlyingPrice: underlying.price,
          volume,
          lastQuantity: quantity,
          averagePrice: (previous.averagePrice * previous.volume + price * quantity) / volume,
          oi,
          oiDayHigh: Math.max(previous.oiDayHigh, oi),
          oiDayLow: Math.min(previous.oiDayLow, oi),
          dayHigh: Math.max(previous.dayHigh, price),
          dayLow: Math.min(previous.dayLow, price),
        }),
      );
    }
    return Object.freeze({ version: current.version + 1, atMs: nowMs, underlyings, options });
  }

  /** A step's traded quantity: `base` moved by at most `volumeVariation` of itself, whole units. */
  #quantity(base: number): number {
    const variation = this.#volumeVariation;
    const low = Math.ceil(base * (1 - variation));
    const high = Math.floor(base * (1 + variation));
    return Math.max(0, this.#random.integer(low, Math.max(low, high)));
  }

  #spec(name: string): MockUnderlying {
    return this.#specs.get(name) as MockUnderlying;
  }
}

function percentChange(price: number, previousClose: number): number {
  return previousClose > 0 ? ((price - previousClose) / previousClose) * 100 : 0;
}

/** A cheap integer hash, so depth quantities vary per token and step without drawing random numbers. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Five bid levels a tick apart below the price and five asks above it (empty bids below one tick). */
function depthAround(state: OptionState, version: number): Depth {
  const ticksPerUnit = Math.round(1 / OPTION_TICK_SIZE);
  const priceTicks = Math.round(state.price * ticksPerUnit);
  const buy: Depth['buy'] = [];
  const sell: Depth['sell'] = [];
  for (let level = 1; level <= DEPTH_LEVELS; level++) {
    const bidHash = mix(state.instrumentToken + level, version);
    const askHash = mix(state.instrumentToken - level, version);
    const bidTicks = priceTicks - level;
    buy.push(
      bidTicks >= 1
        ? { price: bidTicks / ticksPerUnit, quantity: state.lotSize * (1 + (bidHash % 40)), orders: 1 + (bidHash % 9) }
        : { price: 0, quantity: 0, orders: 0 },
    );
    sell.push({
      price: (priceTicks + level) / ticksPerUnit,
      quantity: state.lotSize * (1 + (askHash % 40)),
      orders: 1 + (askHash % 9),
    });
  }
  return { buy, sell };
}

import type { MarketTick, UnderlyingBar } from '../../contracts/tick.js';
import type { Instrument } from '../../ports/market-data.js';
import { tickTimeMs } from './option-snapshot.js';

/**
 * Aggregates underlying ticks into one OHLCV bar per interval, across any number of sources
 * (Kite accounts, or mock feeds), so clients get one consolidated bar per interval on
 * `ticker:<underlying>:underlying` whichever connection saw which tick (TC-MATL-022, TC-MATL-033).
 *
 * - Intervals are aligned to the epoch (`floor(t / interval)`), by the tick's exchange time.
 * - open is the earliest tick of the interval, close the latest (ties: arrival order), high the
 *   maximum and low the minimum over every source.
 * - volume is the sum over sources of each source's increase of cumulative traded volume. A
 *   source's first tick only sets its baseline (its earlier volume was traded before we watched),
 *   and a drop (a new trading day, a reconnect) resets the baseline without counting.
 * - A bar is emitted by `flush` once its interval has ended (plus `graceMs` for late ticks);
 *   ticks for an interval already emitted are dropped and counted, never re-open a bar.
 * - Intervals without ticks produce no bar.
 */

/** A finished bar and the underlying it belongs to (the channel is `ticker:<underlying>:underlying`). */
export interface CompletedBar {
  /** The underlying's name, e.g. `NIFTY`. */
  readonly underlying: string;
  readonly bar: UnderlyingBar;
}

/** Configuration of an {@link UnderlyingBarAggregator}. */
export interface UnderlyingBarAggregatorOptions {
  /** Bar length (config `streamIntervalSeconds`); > 0. */
  readonly intervalSeconds: number;
  /** The instruments whose ticks make bars (normally the index instruments). */
  readonly instruments: readonly Pick<Instrument, 'instrumentToken' | 'tradingsymbol' | 'name'>[];
  /** Copied to every bar's `is_mock`. */
  readonly isMock: boolean;
  /** How long after an interval ends its bar waits for late ticks (default 0). */
  readonly graceMs?: number;
}

/** Why `add` did not use a tick. */
export const TickRejection = {
  /** Not one of the aggregator's instruments. */
  unknownInstrument: 'unknown-instrument',
  /** Its interval's bar was already emitted. */
  late: 'late',
  /** Its price is not a positive finite number or its time is not finite. */
  invalid: 'invalid',
} as const;
/** A value of {@link TickRejection}. */
export type TickRejection = (typeof TickRejection)[keyof typeof TickRejection];

interface OpenBar {
  readonly startMs: number;
  open: number;
  openAtMs: number;
  high: number;
  low: number;
  close: number;
  closeAtMs: number;
  volume: number;
}

interface Series {
  readonly token: number;
  readonly tradingsymbol: string;
  readonly underlying: string;
  /** Open bars by interval start. */
  readonly bars: Map<number, OpenBar>;
  /** Start of the newest interval already emitted; ticks at or before it are late. */
  emittedThroughMs: number;
}

/** The aggregator; pure and synchronous (the caller owns the clock and the bus). */
export class UnderlyingBarAggregator {
  readonly #intervalMs: number;
  readonly #graceMs: number;
  readonly #isMock: boolean;
  readonly #series = new Map<number, Series>();
  /** Last cumulative volume per source and token. */
  readonly #lastVolume = new Map<string, Map<number, number>>();
  #rejected = { 'unknown-instrument': 0, late: 0, invalid: 0 };

  /** Throws a `RangeError` for a non-positive interval or a negative grace. */
  constructor(options: UnderlyingBarAggregatorOptions) {
    if (!(options.intervalSeconds > 0 && Number.isFinite(options.intervalSeconds))) {
      throw new RangeError(`intervalSeconds must be a positive number, got ${options.intervalSeconds}`);
    }
    const graceMs = options.graceMs ?? 0;
    if (!(graceMs >= 0 && Number.isFinite(graceMs))) throw new RangeError(`graceMs must be >= 0, got ${graceMs}`);
    this.#intervalMs = options.intervalSeconds * 1000;
    this.#graceMs = graceMs;
    this.#isMock = options.isMock;
    for (const instrument of options.instruments) {
      this.#series.set(instrument.instrumentToken, {
        token: instrument.instrumentToken,
        tradingsymbol: instrument.tradingsymbol,
        underlying: instrument.name,
        bars: new Map(),
        emittedThroughMs: Number.NEGATIVE_INFINITY,
      });
    }
  }

  /** Bar length in milliseconds. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** How long after an interval ends its bar waits for late ticks. */
  get graceMs(): number {
    return this.#graceMs;
  }

  /** Whether ticks of `token` make bars here (so callers can skip option ticks cheaply). */
  tracks(token: number): boolean {
    return this.#series.has(token);
  }

  /** Counts of ticks not used, by reason. */
  get rejected(): Readonly<Record<TickRejection, number>> {
    return { ...this.#rejected };
  }

  /**
   * Adds one tick that `source` (an account id, a feed name) received. Returns `undefined` when
   * the tick was used, or why it was not.
   */
  add(source: string, tick: MarketTick): TickRejection | undefined {
    const series = this.#series.get(tick.instrumentToken);
    if (series === undefined) return this.#reject(TickRejection.unknownInstrument);
    const at = tickTimeMs(tick);
    const price = tick.lastPrice;
    if (!(price > 0 && price < Number.POSITIVE_INFINITY) || !Number.isFinite(at)) {
      return this.#reject(TickRejection.invalid);
    }
    const delta = this.#volumeDelta(source, tick);
    const startMs = Math.floor(at / this.#intervalMs) * this.#intervalMs;
    if (startMs <= series.emittedThroughMs) return this.#reject(TickRejection.late);
    const bar = series.bars.get(startMs);
    if (bar === undefined) {
      series.bars.set(startMs, {
        startMs,
        open: price,
        openAtMs: at,
        high: price,
        low: price,
        close: price,
        closeAtMs: at,
        volume: delta,
      });
      return undefined;
    }
    if (at < bar.openAtMs) {
      bar.open = price;
      bar.openAtMs = at;
    }
    if (at >= bar.closeAtMs) {
      bar.close = price;
      bar.closeAtMs = at;
    }
    if (price > bar.high) bar.high = price;
    if (price < bar.low) bar.low = price;
    bar.volume += delta;
    return undefined;
  }

  /**
   * Emits every bar whose interval ended at least `graceMs` before `nowMs`, oldest first within
   * each instrument. Call it once per interval from the clock.
   */
  flush(nowMs: number): CompletedBar[] {
    const out: CompletedBar[] = [];
    for (const series of this.#series.values()) {
      if (series.bars.size === 0) continue;
      const due = [...series.bars.keys()]
        .filter((startMs) => startMs + this.#intervalMs + this.#graceMs <= nowMs)
        .sort((a, b) => a - b);
      for (const startMs of due) {
        const bar = series.bars.get(startMs) as OpenBar;
        series.bars.delete(startMs);
        series.emittedThroughMs = Math.max(series.emittedThroughMs, startMs);
        out.push({
          underlying: series.underlying,
          bar: {
            instrument_token: series.token,
            tradingsymbol: series.tradingsymbol,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
            timestamp: new Date(startMs).toISOString(),
            is_mock: this.#isMock,
          },
        });
      }
    }
    return out;
  }

  #volumeDelta(source: string, tick: MarketTick): number {
    const volume = tick.volumeTraded;
    if (volume === undefined || !(volume >= 0 && volume < Number.POSITIVE_INFINITY)) return 0;
    let bySource = this.#lastVolume.get(source);
    if (bySource === undefined) {
      bySource = new Map();
      this.#lastVolume.set(source, bySource);
    }
    const last = bySource.get(tick.instrumentToken);
    bySource.set(tick.instrumentToken, volume);
    return last === undefined || volume < last ? 0 : Math.round(volume - last);
  }

  #reject(reason: TickRejection): TickRejection {
    this.#rejected[reason]++;
    return reason;
  }
}

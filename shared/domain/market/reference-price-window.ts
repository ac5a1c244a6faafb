/**
 * The exchange's reference price for limit price protection is the simple average of a contract's
 * trade prices in the last 30 seconds (NSE, 28 October 2022). The platform sees trades only as
 * ticks, so it averages the last price of every tick that shows a trade: one whose cumulative
 * volume rose since the token's previous tick, or, for ticks that carry no volume (LTP mode),
 * every tick. Several trades between two ticks count once, at the last price; that is as close to
 * the exchange's figure as ticks allow.
 */
export const REFERENCE_WINDOW_SECONDS = 30;

/** Construction options of {@link ReferencePriceWindow}. */
export interface ReferencePriceWindowOptions {
  /** Length of the window in whole seconds; 30 by default, the exchange's. */
  readonly seconds?: number;
  /** Slots allocated up front; the arrays double when more tokens arrive. */
  readonly initialCapacity?: number;
}

/**
 * The average trade price of each token over the last {@link REFERENCE_WINDOW_SECONDS} seconds,
 * kept cheaply enough to be fed from the ingest hot path: every token has a slot, a ring of
 * one-second buckets of price sums and counts in typed arrays, so recording a tick is a few array
 * writes with no allocation and no map lookup (callers keep the slot, see {@link slotOf}), and
 * the averages are read once a second by whoever publishes them.
 *
 * A bucket holds the second it was filled in; reading skips buckets older than the window, so
 * nothing has to be cleared as time passes. Pure: the time is handed in with every call.
 */
export class ReferencePriceWindow {
  readonly #seconds: number;
  /** Token → slot. */
  readonly #slots = new Map<number, number>();
  /** Slots released and free for the next new token. */
  readonly #free: number[] = [];
  #capacity: number;
  /** Per slot × bucket: sum of trade prices, number of trades, and the epoch second filled in (NaN: never). */
  #sums: Float64Array;
  #counts: Uint32Array;
  #stamps: Float64Array;
  /** Per slot: cumulative volume of the previous tick (NaN: none seen yet). */
  #volumes: Float64Array;
  #used = 0;

  constructor(options: ReferencePriceWindowOptions = {}) {
    const seconds = options.seconds ?? REFERENCE_WINDOW_SECONDS;
    if (!Number.isSafeInteger(seconds) || seconds < 1) {
      throw new RangeError(`seconds must be a whole number from 1, got ${seconds}`);
    }
    this.#seconds = seconds;
    this.#capacity = Math.max(1, options.initialCapacity ?? 256);
    this.#sums = new Float64Array(this.#capacity * seconds);
    this.#counts = new Uint32Array(this.#capacity * seconds);
    this.#stamps = new Float64Array(this.#capacity * seconds).fill(Number.NaN);
    this.#volumes = new Float64Array(this.#capacity).fill(Number.NaN);
  }

  /** Tokens that have a slot. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * The slot of `token`, made (empty) on first use. It stays the token's until {@link release}, so
   * a caller that records many ticks of a token looks it up once and keeps it.
   */
  slotOf(token: number): number {
    const known = this.#slots.get(token);
    if (known !== undefined) return known;
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#used === this.#capacity) this.#grow();
      slot = this.#used++;
    }
    const start = slot * this.#seconds;
    this.#stamps.fill(Number.NaN, start, start + this.#seconds);
    this.#volumes[slot] = Number.NaN;
    this.#slots.set(token, slot);
    return slot;
  }

  /** Forgets `token` (an instrument that left the master): its slot goes to the next new token. */
  release(token: number): void {
    const slot = this.#slots.get(token);
    if (slot === undefined) return;
    this.#slots.delete(token);
    this.#free.push(slot);
  }

  /** Forgets every token for which `keep` is false (those that left a new instrument master). */
  retain(keep: (token: number) => boolean): void {
    for (const token of [...this.#slots.keys()]) if (!keep(token)) this.release(token);
  }

  /**
   * Records one tick of the token in `slot` at `nowMs`. It counts as a trade at `lastPrice` when
   * `volumeTraded` (the day's cumulative volume) rose since the slot's previous tick, or when the
   * tick carries no volume; a tick whose price is not positive (Kite's 0 for an untraded contract)
   * is not a trade. Never throws.
   */
  record(slot: number, lastPrice: number, volumeTraded: number | undefined, nowMs: number): void {
    if (volumeTraded !== undefined) {
      const previous = this.#volumes[slot] as number;
      this.#volumes[slot] = volumeTraded;
      // NaN (no previous tick) compares false: the first tick of a token shows no trade.
      if (!(volumeTraded > previous)) return;
    }
    if (!(lastPrice > 0 && lastPrice < Number.POSITIVE_INFINITY)) return;
    const second = Math.floor(nowMs / 1000);
    const seconds = this.#seconds;
    const index = slot * seconds + (second % seconds);
    if (this.#stamps[index] !== second) {
      this.#stamps[index] = second;
      this.#sums[index] = lastPrice;
      this.#counts[index] = 1;
    } else {
      this.#sums[index] = (this.#sums[index] as number) + lastPrice;
      this.#counts[index] = (this.#counts[index] as number) + 1;
    }
  }

  /** The average trade price of `token` in the window ending at `nowMs`; undefined when it had no trade. */
  average(token: number, nowMs: number): number | undefined {
    const slot = this.#slots.get(token);
    return slot === undefined ? undefined : this.#averageOf(slot, Math.floor(nowMs / 1000));
  }

  /** The average trade price of every token that traded in the window ending at `nowMs`. */
  averages(nowMs: number): Map<number, number> {
    const second = Math.floor(nowMs / 1000);
    const out = new Map<number, number>();
    for (const [token, slot] of this.#slots) {
      const average = this.#averageOf(slot, second);
      if (average !== undefined) out.set(token, average);
    }
    return out;
  }

  /** Over the buckets of the current second and the `seconds - 1` before it. */
  #averageOf(slot: number, second: number): number | undefined {
    const seconds = this.#seconds;
    const start = slot * seconds;
    let sum = 0;
    let count = 0;
    for (let index = start; index < start + seconds; index++) {
      const age = second - (this.#stamps[index] as number);
      // NaN (never filled) fails both; a bucket from a later second (the clock stepped back) too.
      if (age >= 0 && age < seconds) {
        sum += this.#sums[index] as number;
        count += this.#counts[index] as number;
      }
    }
    return count === 0 ? undefined : sum / count;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const seconds = this.#seconds;
    const sums = new Float64Array(capacity * seconds);
    sums.set(this.#sums);
    const counts = new Uint32Array(capacity * seconds);
    counts.set(this.#counts);
    const stamps = new Float64Array(capacity * seconds).fill(Number.NaN);
    stamps.set(this.#stamps);
    const volumes = new Float64Array(capacity).fill(Number.NaN);
    volumes.set(this.#volumes);
    this.#sums = sums;
    this.#counts = counts;
    this.#stamps = stamps;
    this.#volumes = volumes;
    this.#capacity = capacity;
  }
}

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
  /** Slots per page of storage; pages are added as tokens arrive and never copied. Default 256. */
  readonly pageSlots?: number;
}

/** Trades counted per token and second at most: the count is 16 bits; more in one second are not averaged in. */
const MAX_TRADES_PER_SECOND = 0xffff;

/** The storage of `pageSlots` consecutive slots. */
interface Page {
  /** Per slot × second of the ring: sum of trade prices and number of trades. */
  readonly sums: Float64Array;
  readonly counts: Uint16Array;
  /** Per slot: the newest second the ring holds (NaN: no trade yet). */
  readonly newest: Float64Array;
  /** Per slot: cumulative volume of the previous tick (NaN: none seen yet). */
  readonly volumes: Float64Array;
}

/**
 * The average trade price of each token over the last {@link REFERENCE_WINDOW_SECONDS} seconds,
 * kept cheaply enough to be fed from the ingest hot path: every token has a slot, a ring of
 * one-second buckets of price sums and trade counts in typed arrays, so recording a tick is a few
 * array writes with no allocation and no map lookup (callers keep the slot, see {@link slotOf}),
 * and the averages are read once a second by whoever publishes them.
 *
 * Lean, for 9,000 tokens in a task with a 200 MB memory target (about 2.9 MB here, against 9.8 MB
 * with a stamp per bucket in arrays grown by doubling): a slot keeps one stamp, the newest second
 * its ring holds, and the ring always holds exactly the seconds up to it, so moving on to a later
 * second clears the buckets it skips; slots live in fixed pages, so more tokens add a page
 * instead of copying every array. Pure: the time is handed in with every call.
 */
export class ReferencePriceWindow {
  readonly #seconds: number;
  readonly #pageSlots: number;
  /** Token → slot. */
  readonly #slots = new Map<number, number>();
  readonly #pages: Page[] = [];
  #used = 0;

  constructor(options: ReferencePriceWindowOptions = {}) {
    const seconds = options.seconds ?? REFERENCE_WINDOW_SECONDS;
    if (!Number.isSafeInteger(seconds) || seconds < 1) {
      throw new RangeError(`seconds must be a whole number from 1, got ${seconds}`);
    }
    const pageSlots = options.pageSlots ?? 256;
    if (!Number.isSafeInteger(pageSlots) || pageSlots < 1) {
      throw new RangeError(`pageSlots must be a whole number from 1, got ${pageSlots}`);
    }
    this.#seconds = seconds;
    this.#pageSlots = pageSlots;
  }

  /** Tokens that have a slot. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes of typed arrays the window holds: what its tokens cost beyond the token → slot map. */
  get arrayBytes(): number {
    let bytes = 0;
    for (const page of this.#pages) {
      bytes += page.sums.byteLength + page.counts.byteLength + page.newest.byteLength + page.volumes.byteLength;
    }
    return bytes;
  }

  /**
   * The slot of `token`, made (empty) on first use. It stays the token's for the window's life, so
   * a caller that records many ticks of a token looks it up once and keeps it.
   */
  slotOf(token: number): number {
    const known = this.#slots.get(token);
    if (known !== undefined) return known;
    if (this.#used === this.#pages.length * this.#pageSlots) this.#addPage();
    const slot = this.#used++;
    const page = this.#pages[Math.floor(slot / this.#pageSlots)] as Page;
    const at = slot % this.#pageSlots;
    page.newest[at] = Number.NaN;
    page.volumes[at] = Number.NaN;
    this.#slots.set(token, slot);
    return slot;
  }

  /**
   * Records one tick of the token in `slot` at `nowMs`. It counts as a trade at `lastPrice` when
   * `volumeTraded` (the day's cumulative volume) rose since the slot's previous tick, or when the
   * tick carries no volume; a tick whose price is not positive (Kite's 0 for an untraded contract)
   * is not a trade. Never throws.
   */
  record(slot: number, lastPrice: number, volumeTraded: number | undefined, nowMs: number): void {
    const pageSlots = this.#pageSlots;
    const page = this.#pages[Math.floor(slot / pageSlots)] as Page;
    const at = slot % pageSlots;
    if (volumeTraded !== undefined) {
      const previous = page.volumes[at] as number;
      page.volumes[at] = volumeTraded;
      // NaN (no previous tick) compares false: the first tick of a token shows no trade.
      if (!(volumeTraded > previous)) return;
    }
    if (!(lastPrice > 0 && lastPrice < Number.POSITIVE_INFINITY)) return;
    const second = Math.floor(nowMs / 1000);
    const seconds = this.#seconds;
    const base = at * seconds;
    const newest = page.newest[at] as number;
    // NaN (no trade yet) fails every comparison and lands in the reset, as does a clock that
    // stepped back by the whole window.
    if (second > newest && second - newest < seconds) {
      // Clear the buckets of the seconds in between, and the one this second reuses.
      for (let s = newest + 1; s <= second; s++) this.#clear(page, base + modulo(s, seconds));
      page.newest[at] = second;
    } else if (!(second <= newest && newest - second < seconds)) {
      for (let index = base; index < base + seconds; index++) this.#clear(page, index);
      page.newest[at] = second;
    }
    // Here the ring holds `second`: the newest, or an earlier one still in it (clock stepped back).
    const index = base + modulo(second, seconds);
    const count = page.counts[index] as number;
    if (count === MAX_TRADES_PER_SECOND) return;
    page.sums[index] = (page.sums[index] as number) + lastPrice;
    page.counts[index] = count + 1;
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

  /** Over the seconds from `second - seconds + 1` to `second` that the slot's ring holds. */
  #averageOf(slot: number, second: number): number | undefined {
    const seconds = this.#seconds;
    const page = this.#pages[Math.floor(slot / this.#pageSlots)] as Page;
    const at = slot % this.#pageSlots;
    const newest = page.newest[at] as number;
    // The ring holds newest - seconds + 1 … newest; a later second (clock stepped back) is left out.
    const from = Math.max(second, newest) - seconds + 1;
    const to = Math.min(second, newest);
    // NaN (no trade yet) makes the loop run zero times.
    const base = at * seconds;
    let sum = 0;
    let count = 0;
    for (let s = from; s <= to; s++) {
      const index = base + modulo(s, seconds);
      sum += page.sums[index] as number;
      count += page.counts[index] as number;
    }
    return count === 0 ? undefined : sum / count;
  }

  #clear(page: Page, index: number): void {
    page.sums[index] = 0;
    page.counts[index] = 0;
  }

  #addPage(): void {
    const slots = this.#pageSlots;
    this.#pages.push({
      sums: new Float64Array(slots * this.#seconds),
      counts: new Uint16Array(slots * this.#seconds),
      newest: new Float64Array(slots).fill(Number.NaN),
      volumes: new Float64Array(slots).fill(Number.NaN),
    });
  }
}

/** `value mod divisor` in 0 … divisor - 1, negative values (seconds before 1970) included. */
function modulo(value: number, divisor: number): number {
  const rest = value % divisor;
  return rest < 0 ? rest + divisor : rest;
}

import { MAX_UNITS, SCALE } from './decimal-places.js';

/**
 * Writes JSON text as UTF-8 bytes into chunks it allocates, for the live tick encoder: a tick goes
 * to Redis, and over every socket after it, as bytes, so building it as a JavaScript string first
 * costs a rope of some thirty pieces, its flattening, and two more passes over it when it is
 * written out (`Buffer.byteLength` and the UTF-8 conversion). Here each value is written once,
 * where it belongs. Hand-written because no library writes numbers in JSON's format into a byte
 * buffer without making a string of each first.
 *
 * A run of writes between `start()` and `take()` stays in one chunk, so it can be handed out as a
 * view; `start` is told how long the run may get. A chunk is never written again once full: views
 * handed out stay valid for as long as anyone holds them.
 */
export class JsonBytes {
  readonly #chunkSize: number;
  #chunk: Uint8Array;
  #pos = 0;
  #start = 0;

  constructor(chunkSize = 64 * 1024) {
    this.#chunkSize = chunkSize;
    this.#chunk = new Uint8Array(chunkSize);
  }

  /** Starts a run that will write at most `maxBytes`, in a new chunk if this one has not the room. */
  start(maxBytes: number): void {
    if (this.#pos + maxBytes > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(this.#chunkSize, maxBytes));
      this.#pos = 0;
    }
    this.#start = this.#pos;
  }

  /** How many bytes have been written since `start()`. */
  get length(): number {
    return this.#pos - this.#start;
  }

  /** The bytes written since `start()`, as a view of the chunk. */
  take(): Uint8Array {
    return this.#chunk.subarray(this.#start, this.#pos);
  }

  /** Copies `bytes[from, to)`. */
  copy(bytes: Uint8Array, from = 0, to = bytes.length): void {
    const chunk = this.#chunk;
    let pos = this.#pos;
    for (let i = from; i < to; i++) chunk[pos++] = bytes[i] as number;
    this.#pos = pos;
  }

  /** Writes any text as UTF-8 (at most three bytes per UTF-16 unit: `start` with room for that). */
  text(text: string): void {
    this.#pos += encoder.encodeInto(text, this.#chunk.subarray(this.#pos)).written;
  }

  /** Writes text known to be ASCII (JSON punctuation, numbers' text, ISO dates). */
  ascii(text: string): void {
    const chunk = this.#chunk;
    let pos = this.#pos;
    for (let i = 0; i < text.length; i++) chunk[pos++] = text.charCodeAt(i);
    this.#pos = pos;
  }

  /** A whole number of at least 0 as `JSON.stringify` writes it (digits up to 2⁵³, beyond as JSON does). */
  whole(value: number): void {
    if (value > MAX_SAFE) {
      this.ascii(String(value));
      return;
    }
    const chunk = this.#chunk;
    let n = value;
    let end = this.#pos + digitCount(n);
    this.#pos = end;
    do {
      const q = Math.floor(n / 10);
      chunk[--end] = 48 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /**
   * Exactly `JSON.stringify(roundTo(value, decimals))` for a finite `value`: the digits of the
   * rounded value are those of a whole number of units of the last place, and a value of at most
   * 15 significant digits prints as exactly those digits.
   */
  decimal(value: number, decimals: number): void {
    const scale = SCALE[decimals] ?? 1;
    this.#units(Math.round(value * scale), scale, decimals, value);
  }

  /** Exactly `JSON.stringify(price)` for a finite price; whole paise without a string. */
  price(value: number): void {
    const paise = Math.round(value * 100);
    if (paise / 100 === value) this.#units(paise, 100, 2, value);
    else this.ascii(String(value));
  }

  #units(units: number, scale: number, decimals: number, value: number): void {
    if (!(units > -MAX_UNITS && units < MAX_UNITS)) {
      this.ascii(String(value));
      return;
    }
    if (units === 0) {
      this.#chunk[this.#pos++] = 48;
      return;
    }
    const magnitude = units < 0 ? -units : units;
    const whole = Math.floor(magnitude / scale);
    let fraction = magnitude - whole * scale;
    if (whole === 0 && fraction * 1e6 < scale) {
      // Below 1e-6 JSON switches to exponent notation (9.9e-7); rare enough to print the usual way.
      this.ascii(String(units / scale));
      return;
    }
    if (units < 0) this.#chunk[this.#pos++] = 45;
    this.whole(whole);
    if (fraction === 0) return;
    let places = decimals;
    while (fraction % 10 === 0) {
      fraction /= 10;
      places--;
    }
    const chunk = this.#chunk;
    chunk[this.#pos++] = 46;
    for (let zeros = places - digitCount(fraction); zeros > 0; zeros--) chunk[this.#pos++] = 48;
    this.whole(fraction);
  }
}

const MAX_SAFE = 2 ** 53;

/** Decimal digits of a whole number from 0 to 2⁵³. */
function digitCount(n: number): number {
  let digits = 1;
  for (let limit = 10; n >= limit && digits < 16; limit *= 10) digits++;
  return digits;
}

const encoder = new TextEncoder();

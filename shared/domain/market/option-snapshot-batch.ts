import type { MarketTick } from '../../contracts/tick.js';
import type { Instrument } from '../../ports/market-data.js';
import {
  expiryInstantMs,
  type GreeksColumns,
  greeksBatch,
  IV_STATUS_BY_CODE,
  IV_STATUS_CODE,
  impliedVolatilityBatch,
  OPTION_KIND_CODE,
  yearsUntil,
} from '../greeks/index.js';
import { TICK_DECIMALS } from './decimal-places.js';
import { JsonBytes } from './json-bytes.js';
import { isoTimestamp, tickTimeMs } from './option-snapshot.js';
import { engineDividendYield, type PricingParameters, usableVolatility } from './pricing-parameters.js';

/**
 * The live tick path's form of {@link buildOptionSnapshot}: a whole frame of option ticks is
 * priced through the engine's typed-array batch API (two kernel passes, no object per tick) and
 * each snapshot is written straight to its JSON as UTF-8 bytes, the form in which it leaves the
 * process. The JSON is byte for byte what `JSON.stringify(buildOptionSnapshot(…))` gives for the
 * same inputs (a property test holds the two together), at a fraction of the cost: the
 * instrument's fixed fields are escaped and encoded once per instrument, a frame's shared
 * exchange timestamp is formatted once, and numbers are written by integer arithmetic.
 * `JSON.stringify`, per-tick objects and then per-tick strings were the largest costs of the
 * ingest hot path.
 */

/** An option instrument with what every one of its ticks needs precomputed. */
export interface PreparedOption {
  readonly instrument: Instrument;
  /** `OPTION_KIND_CODE` of the option. */
  readonly kindCode: number;
  /** 15:30 IST on the expiry date, epoch milliseconds. */
  readonly expiryMs: number;
  /**
   * The option's fixed JSON as UTF-8, in three parts: up to `headEnd`
   * `{"instrument_token":…,"tradingsymbol":"…","last_price":`, up to `underlyingEnd`
   * `,"underlying":"…"`, then `,"strike":…,"expiry":"…","option_type":"…","received_at_ms":`.
   */
  readonly fixed: Uint8Array;
  readonly headEnd: number;
  readonly underlyingEnd: number;
}

/**
 * Where the options' fixed fragments are kept: views of shared chunks, since a typed array of its
 * own per option (a backing store each) cost several megabytes more for 9,000 streamed options.
 */
const fragments = new JsonBytes(16 * 1024);

/**
 * Precomputes an option's fixed JSON fragments and expiry instant. Throws a `RangeError` for an
 * instrument that is not an option with a valid expiry (a wiring mistake, as in `buildOptionSnapshot`).
 */
export function prepareOption(instrument: Instrument): PreparedOption {
  const kind = instrument.instrumentType;
  if ((kind !== 'CE' && kind !== 'PE') || instrument.expiry === null) {
    throw new RangeError(`instrument ${instrument.tradingsymbol} is not an option with an expiry`);
  }
  const head = `{"instrument_token":${json(instrument.instrumentToken)},"tradingsymbol":${JSON.stringify(instrument.tradingsymbol)},"last_price":`;
  const underlying = `,"underlying":${JSON.stringify(instrument.name)}`;
  const tail = `,"strike":${json(instrument.strike)},"expiry":${JSON.stringify(instrument.expiry)},"option_type":"${kind}","received_at_ms":`;
  fragments.start(3 * (head.length + underlying.length + tail.length));
  fragments.text(head);
  const headEnd = fragments.length;
  fragments.text(underlying);
  const underlyingEnd = fragments.length;
  fragments.text(tail);
  return {
    instrument,
    kindCode: OPTION_KIND_CODE[kind],
    expiryMs: expiryInstantMs(instrument.expiry),
    fixed: fragments.take(),
    headEnd,
    underlyingEnd,
  };
}

/**
 * One encoded snapshot: its JSON as UTF-8 (a view that stays valid for as long as it is held), and
 * the implied volatility it solved (NaN when `iv` is null).
 */
export type SnapshotSink = (index: number, encoded: Uint8Array, impliedVolatility: number) => void;

const IV_STATUS_JSON = IV_STATUS_BY_CODE.map((status) => `,"iv_status":"${status}"`);
const IV_STATUS_INVALID = ',"iv_status":"invalid"';
/** Bytes a snapshot may take beyond its fixed fragments: field names, numbers (24 characters at most each), the timestamp. */
const VARIABLE_BYTES = 512;

/**
 * A reusable batch of option ticks: `add` the ticks of one frame, then `encode` them all. The
 * columns grow to the largest frame seen and are reused, so a steady stream allocates only the
 * chunks its snapshots are written to and a view of each.
 */
export class OptionSnapshotBatch {
  #capacity = 0;
  #size = 0;
  #ticks: (MarketTick | undefined)[] = [];
  #options: PreparedOption[] = [];
  #kind = new Uint8Array(0);
  #underlying = new Float64Array(0);
  #strike = new Float64Array(0);
  #years = new Float64Array(0);
  #price = new Float64Array(0);
  #fallback = new Float64Array(0);
  #volatility = new Float64Array(0);
  #iv = new Float64Array(0);
  #status = new Uint8Array(0);
  #greeks: GreeksColumns = emptyGreeks(0);
  #lastTimeMs = Number.NaN;
  #lastIso = '';
  readonly #out = new JsonBytes();
  #lastReceivedMs = Number.NaN;
  #lastReceivedText = 'null';

  /** Ticks added since the last `encode`. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds one option tick: its prepared instrument, the underlying price (spot for Black-Scholes,
   * forward for Black-76) and the volatility to fall back to when its price admits none.
   */
  add(tick: MarketTick, option: PreparedOption, underlyingPrice: number, fallbackVolatility: number): void {
    const i = this.#size;
    if (i === this.#capacity) this.#grow(Math.max(64, this.#capacity * 2));
    this.#ticks[i] = tick;
    this.#options[i] = option;
    this.#kind[i] = option.kindCode;
    this.#underlying[i] = underlyingPrice;
    this.#strike[i] = option.instrument.strike;
    this.#price[i] = tick.lastPrice;
    this.#fallback[i] = fallbackVolatility;
    this.#size = i + 1;
  }

  /**
   * Prices every added tick at `nowMs` and hands each JSON snapshot to `sink` in the order they
   * were added, and empties the batch (also when `sink` throws). Never throws for market data.
   */
  encode(nowMs: number, pricing: PricingParameters, isMock: boolean, sink: SnapshotSink): void {
    const n = this.#size;
    if (n === 0) return;
    this.#size = 0;
    try {
      this.#encode(n, nowMs, pricing, isMock, sink);
    } finally {
      this.#ticks.fill(undefined, 0, n);
    }
  }

  #encode(n: number, nowMs: number, pricing: PricingParameters, isMock: boolean, sink: SnapshotSink): void {
    const kind = this.#kind.subarray(0, n);
    for (let i = 0; i < n; i++) this.#years[i] = yearsUntil((this.#options[i] as PreparedOption).expiryMs, nowMs);
    const columns = {
      kind,
      underlying: this.#underlying,
      strike: this.#strike,
      timeToExpiryYears: this.#years,
      price: this.#price,
      volatility: this.#volatility,
    };
    const parameters = { model: pricing.model, rate: pricing.rate, dividendYield: engineDividendYield(pricing) };
    impliedVolatilityBatch(parameters, columns, this.#iv, this.#status);
    for (let i = 0; i < n; i++) {
      this.#volatility[i] =
        this.#status[i] === IV_STATUS_CODE.ok ? (this.#iv[i] as number) : usableVolatility(this.#fallback[i]);
    }
    greeksBatch(parameters, columns, this.#greeks);
    const { delta, gamma, theta, vega, rho } = this.#greeks;
    const out = this.#out;
    const mock = isMock ? ',"is_mock":true,"rho":' : ',"is_mock":false,"rho":';
    for (let i = 0; i < n; i++) {
      const tick = this.#ticks[i] as MarketTick;
      const option = this.#options[i] as PreparedOption;
      const { fixed } = option;
      const status = this.#status[i] as number;
      const ok = status === IV_STATUS_CODE.ok;
      const underlying = this.#underlying[i] as number;
      out.start(fixed.length + VARIABLE_BYTES);
      out.copy(fixed, 0, option.headEnd);
      if (Number.isFinite(tick.lastPrice)) out.price(tick.lastPrice);
      else out.ascii('null');
      out.ascii(',"volume":');
      out.whole(wholeNonNegative(tick.volumeTraded));
      out.ascii(',"oi":');
      out.whole(wholeNonNegative(tick.oi));
      out.ascii(',"delta":');
      out.decimal(finiteOrZero(delta[i] as number), TICK_DECIMALS.delta);
      out.ascii(',"gamma":');
      out.decimal(finiteOrZero(gamma[i] as number), TICK_DECIMALS.gamma);
      out.ascii(',"theta":');
      out.decimal(finiteOrZero(theta[i] as number), TICK_DECIMALS.theta);
      out.ascii(',"vega":');
      out.decimal(finiteOrZero(vega[i] as number), TICK_DECIMALS.vega);
      out.ascii(',"timestamp":"');
      out.ascii(this.#iso(tickTimeMs(tick), nowMs));
      out.ascii('"');
      out.ascii(mock);
      out.decimal(finiteOrZero(rho[i] as number), TICK_DECIMALS.rho);
      out.ascii(',"iv":');
      if (ok) out.decimal(this.#iv[i] as number, TICK_DECIMALS.iv);
      else out.ascii('null');
      out.ascii(IV_STATUS_JSON[status] ?? IV_STATUS_INVALID);
      out.copy(fixed, option.headEnd, option.underlyingEnd);
      if (underlying > 0 && underlying < Number.POSITIVE_INFINITY) {
        out.ascii(',"underlying_price":');
        out.price(underlying);
      }
      out.copy(fixed, option.underlyingEnd);
      out.ascii(this.#receivedAt(tick.receivedAtMs));
      out.ascii('}');
      sink(i, out.take(), ok ? (this.#iv[i] as number) : Number.NaN);
    }
  }

  /** The JSON of a tick's receipt time; the ticks of a frame share it, so it is written once. */
  #receivedAt(receivedAtMs: number): string {
    if (receivedAtMs !== this.#lastReceivedMs) {
      this.#lastReceivedText = json(receivedAtMs);
      this.#lastReceivedMs = receivedAtMs;
    }
    return this.#lastReceivedText;
  }

  /** The ISO text of a tick's time; consecutive ticks of a frame share it, so it is formatted once. */
  #iso(timeMs: number, nowMs: number): string {
    if (timeMs !== this.#lastTimeMs) {
      this.#lastIso = isoTimestamp(timeMs, nowMs);
      this.#lastTimeMs = timeMs;
    }
    return this.#lastIso;
  }

  #grow(capacity: number): void {
    const grow = <T extends Float64Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.#kind = grow(this.#kind, (c) => new Uint8Array(c));
    this.#status = grow(this.#status, (c) => new Uint8Array(c));
    const f64 = (c: number) => new Float64Array(c);
    this.#underlying = grow(this.#underlying, f64);
    this.#strike = grow(this.#strike, f64);
    this.#years = grow(this.#years, f64);
    this.#price = grow(this.#price, f64);
    this.#fallback = grow(this.#fallback, f64);
    this.#volatility = grow(this.#volatility, f64);
    this.#iv = grow(this.#iv, f64);
    this.#greeks = emptyGreeks(capacity);
    this.#capacity = capacity;
  }
}

function emptyGreeks(n: number): GreeksColumns {
  return {
    price: new Float64Array(n),
    delta: new Float64Array(n),
    gamma: new Float64Array(n),
    theta: new Float64Array(n),
    vega: new Float64Array(n),
    rho: new Float64Array(n),
  };
}

/** A number as `JSON.stringify` writes it: `null` unless finite. */
function json(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

function finiteOrZero(value: number): number {
  return Number.isFinite(value) ? value : 0;
}

function wholeNonNegative(value: number | undefined): number {
  return value !== undefined && value > 0 && value < Number.POSITIVE_INFINITY ? Math.round(value) : 0;
}

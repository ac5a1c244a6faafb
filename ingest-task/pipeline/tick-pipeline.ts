import type { MarketTick } from '../../shared/contracts/tick.js';
import { Interner } from '../../shared/domain/interner.js';
import {
  OptionSnapshotBatch,
  type PreparedOption,
  prepareOption,
} from '../../shared/domain/market/option-snapshot-batch.js';
import { DEFAULT_FALLBACK_VOLATILITY, type PricingParameters } from '../../shared/domain/market/pricing-parameters.js';
import type { ReferencePriceWindow } from '../../shared/domain/market/reference-price-window.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import { Channels, type EncodedMessage } from '../../shared/ports/tick-bus.js';

/** Where enriched ticks go (the {@link TickPublisher}). */
export interface TickSink {
  enqueue(channel: string, token: number, encoded: EncodedMessage, receivedAtMs: number): void;
}

export interface TickPipelineOptions {
  readonly instruments: readonly Instrument[];
  readonly pricing: PricingParameters;
  readonly sink: TickSink;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether ticks from `source` are mock data (clients see `is_mock`); the mock feed, or everything in mock mode. */
  readonly isMock: (source: string | undefined) => boolean;
  /**
   * Where every option tick's trade is recorded for the exchange's reference price (the 30-s
   * average trade price); none when nothing publishes reference prices.
   */
  readonly referencePrices?: ReferencePriceWindow;
}

interface OptionEntry {
  readonly prepared: PreparedOption;
  readonly channel: string;
  /** Key of the future whose price is the forward of this option's expiry (Black-76). */
  readonly forwardKey: string;
  /** The option's slot in the reference price window, looked up once (-1 without a window). */
  readonly referenceSlot: number;
  lastIv: number;
}

/** Counters of the pipeline; they only grow. */
export interface PipelineCounters {
  ticksIn: number;
  optionTicks: number;
  underlyingTicks: number;
  unknownInstrument: number;
  errors: number;
}

/**
 * Raw ticks (Kite or mock) → option snapshots in the frozen client format, with IV and Greeks from
 * the option's price and the current underlying price, encoded once and handed to the publisher.
 * Index ticks update the underlying price; futures ticks the forward of their expiry (used under
 * Black-76; spot is used until a future of that expiry has ticked). A tick that fails is logged
 * with its instrument token and skipped: one bad tick never stops the stream.
 */
export class TickPipeline {
  readonly counters: PipelineCounters = {
    ticksIn: 0,
    optionTicks: 0,
    underlyingTicks: 0,
    unknownInstrument: 0,
    errors: 0,
  };
  readonly #options: TickPipelineOptions;
  readonly #instruments = new Map<number, Instrument>();
  /**
   * Options ready to price, with their channel and the last volatility their price implied; an
   * option is prepared on its first tick, so memory follows the streamed tokens, not the
   * instrument master (tens of thousands of rows). `null`: known, but not an option with a usable
   * expiry.
   */
  readonly #optionIndex = new Map<number, OptionEntry | null>();
  /** Texts that many options share (channel, forward key), one copy each. */
  readonly #shared = new Interner();
  readonly #spot = new Map<string, number>();
  readonly #forward = new Map<string, number>();
  readonly #batch = new OptionSnapshotBatch();
  #frame: { tick: MarketTick; entry: OptionEntry }[] = [];

  constructor(options: TickPipelineOptions) {
    this.#options = options;
    // Nothing replaces the master while the process runs.
    for (const instrument of options.instruments) this.#instruments.set(instrument.instrumentToken, instrument);
  }

  /** The option entry of `token`, prepared on first use; undefined for an unknown token. */
  #option(token: number): OptionEntry | null | undefined {
    const known = this.#optionIndex.get(token);
    if (known !== undefined) return known;
    const instrument = this.#instruments.get(token);
    if (instrument === undefined) return undefined;
    let entry: OptionEntry | null = null;
    if (instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE') {
      try {
        const prepared = prepareOption(instrument);
        entry = {
          prepared,
          channel: this.#shared.intern(Channels.options(instrument.name)),
          forwardKey: this.#shared.intern(`${instrument.name}:${instrument.expiry}`),
          referenceSlot: this.#options.referencePrices?.slotOf(token) ?? -1,
          lastIv: DEFAULT_FALLBACK_VOLATILITY,
        };
      } catch {
        // An option without a usable expiry cannot be priced: its ticks count as errors.
      }
    }
    this.#optionIndex.set(token, entry);
    return entry;
  }

  /** Processes one batch of ticks from one source (an account's connection or the mock feed). */
  readonly handle = (ticks: readonly MarketTick[], source?: string): void => {
    const { sink, clock, pricing, logger, referencePrices } = this.#options;
    const now = clock.now();
    const isMock = this.#options.isMock(source);
    this.counters.ticksIn += ticks.length;
    // Underlying and futures first, so options in the same frame price against the newest level.
    for (const tick of ticks) {
      const instrument = this.#instruments.get(tick.instrumentToken);
      if (instrument?.instrumentType === 'INDEX') {
        this.#spot.set(instrument.name, tick.lastPrice);
        this.counters.underlyingTicks++;
      } else if (instrument?.instrumentType === 'FUT' && instrument.expiry !== null) {
        this.#forward.set(`${instrument.name}:${instrument.expiry}`, tick.lastPrice);
      }
    }
    const frame = this.#frame;
    for (const tick of ticks) {
      const entry = this.#option(tick.instrumentToken);
      if (!entry) {
        const instrument = this.#instruments.get(tick.instrumentToken);
        if (!instrument) {
          this.counters.unknownInstrument++;
        } else if (instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE') {
          this.counters.errors++;
          logger.error('Tick processing failed', {
            instrument_token: tick.instrumentToken,
            error: `instrument ${instrument.tradingsymbol} is not an option with an expiry`,
          });
        }
        continue;
      }
      referencePrices?.record(entry.referenceSlot, tick.lastPrice, tick.volumeTraded, now);
      const spot = this.#spot.get(entry.prepared.instrument.name) ?? Number.NaN;
      const underlyingPrice = pricing.model === 'black-76' ? (this.#forward.get(entry.forwardKey) ?? spot) : spot;
      this.#batch.add(tick, entry.prepared, underlyingPrice, entry.lastIv);
      frame.push({ tick, entry });
    }
    let done = 0;
    try {
      this.#batch.encode(now, pricing, isMock, (index, encoded, iv) => {
        const { tick, entry } = frame[index] as { tick: MarketTick; entry: OptionEntry };
        if (!Number.isNaN(iv)) entry.lastIv = iv;
        sink.enqueue(entry.channel, tick.instrumentToken, encoded, tick.receivedAtMs);
        this.counters.optionTicks++;
        done = index + 1;
      });
    } catch (error) {
      // Only a wiring mistake gets here; the ticks not yet out are lost and counted.
      this.counters.errors += frame.length - done;
      const first = frame[done]?.tick.instrumentToken;
      logger.error('Tick processing failed', { instrument_token: first, error: describeError(error) });
    } finally {
      frame.length = 0;
    }
  };
}

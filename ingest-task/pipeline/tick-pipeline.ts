import type { MarketTick } from '../../shared/contracts/tick.js';
import { buildOptionSnapshot } from '../../shared/domain/market/option-snapshot.js';
import { DEFAULT_FALLBACK_VOLATILITY, type PricingParameters } from '../../shared/domain/market/pricing-parameters.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import { Channels } from '../../shared/ports/tick-bus.js';

/** Where enriched ticks go (the {@link TickPublisher}). */
export interface TickSink {
  enqueue(channel: string, token: number, encoded: string, receivedAtMs: number): void;
}

export interface TickPipelineOptions {
  readonly instruments: readonly Instrument[];
  readonly pricing: PricingParameters;
  readonly sink: TickSink;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether ticks from `source` are mock data (clients see `is_mock`); the mock feed, or everything in mock mode. */
  readonly isMock: (source: string | undefined) => boolean;
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
  readonly #spot = new Map<string, number>();
  readonly #forward = new Map<string, number>();
  readonly #lastIv = new Map<number, number>();

  constructor(options: TickPipelineOptions) {
    this.#options = options;
    this.setInstruments(options.instruments);
  }

  /** Replaces the instrument index (the master is refreshed daily). */
  setInstruments(instruments: readonly Instrument[]): void {
    this.#instruments.clear();
    for (const instrument of instruments) this.#instruments.set(instrument.instrumentToken, instrument);
  }

  /** The last price of each underlying index, by name. */
  get underlyingPrices(): ReadonlyMap<string, number> {
    return this.#spot;
  }

  /** Processes one batch of ticks from one source (an account's connection or the mock feed). */
  readonly handle = (ticks: readonly MarketTick[], source?: string): void => {
    const { sink, clock, pricing, logger } = this.#options;
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
    for (const tick of ticks) {
      const instrument = this.#instruments.get(tick.instrumentToken);
      if (!instrument) {
        this.counters.unknownInstrument++;
        continue;
      }
      if (instrument.instrumentType !== 'CE' && instrument.instrumentType !== 'PE') continue;
      try {
        const spot = this.#spot.get(instrument.name) ?? Number.NaN;
        const underlyingPrice =
          pricing.model === 'black-76' ? (this.#forward.get(`${instrument.name}:${instrument.expiry}`) ?? spot) : spot;
        const snapshot = buildOptionSnapshot({
          tick,
          instrument,
          underlyingPrice,
          nowMs: now,
          pricing,
          isMock,
          fallbackVolatility: this.#lastIv.get(tick.instrumentToken) ?? DEFAULT_FALLBACK_VOLATILITY,
        });
        if (snapshot.iv !== null && snapshot.iv !== undefined) this.#lastIv.set(tick.instrumentToken, snapshot.iv);
        sink.enqueue(
          Channels.options(instrument.name),
          tick.instrumentToken,
          JSON.stringify(snapshot),
          tick.receivedAtMs,
        );
        this.counters.optionTicks++;
      } catch (error) {
        this.counters.errors++;
        logger.error('Tick processing failed', { instrument_token: tick.instrumentToken, error: describeError(error) });
      }
    }
  };
}

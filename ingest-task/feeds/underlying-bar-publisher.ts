import type { MarketTick } from '../../shared/contracts/tick.js';
import type { CompletedBar, UnderlyingBarAggregator } from '../../shared/domain/market/underlying-bars.js';
import type { Clock } from '../../shared/ports/clock.js';
import { Channels, type TickBus } from '../../shared/ports/tick-bus.js';
import type { Service } from '../supervisor.js';

/** Configuration of an {@link UnderlyingBarPublisher}. */
export interface UnderlyingBarPublisherOptions {
  readonly aggregator: UnderlyingBarAggregator;
  readonly bus: TickBus;
  readonly clock: Clock;
  /**
   * Called when the bus rejects a bar. The bus is at-most-once, so a bar that cannot be published
   * is dropped after being reported; the next interval's bar goes out as usual.
   */
  readonly onPublishError?: (error: unknown, bar: CompletedBar) => void;
}

/**
 * Publishes the underlying bars on `ticker:<underlying>:underlying` (TC-MATL-022): feeds hand it
 * their ticks through `accept`, and on every interval boundary of the clock (plus the
 * aggregator's grace for late ticks) it flushes the
 * aggregator's finished bars to the bus, one JSON `UnderlyingBar` per message. Ticks of several
 * feeds (accounts) end up in one bar per interval. On abort it publishes the bars already
 * finished, waits for pending publishes and resolves, leaving no timer behind.
 */
export class UnderlyingBarPublisher implements Service {
  readonly name = 'underlying-bars';
  readonly #options: UnderlyingBarPublisherOptions;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: UnderlyingBarPublisherOptions) {
    this.#options = options;
  }

  /** Adds a feed's ticks; ticks of instruments that make no bars are skipped. Usable as a `TickHandler`. */
  readonly accept = (ticks: readonly MarketTick[], source: string): void => {
    const { aggregator } = this.#options;
    for (const tick of ticks) if (aggregator.tracks(tick.instrumentToken)) aggregator.add(source, tick);
  };

  async run(signal: AbortSignal): Promise<void> {
    const { aggregator, clock } = this.#options;
    // Flush when the aggregator lets the last interval's bar go: its end plus the grace for late ticks.
    const delayMs = aggregator.graceMs;
    const interval = aggregator.intervalMs;
    let cancelTimer: (() => void) | undefined;
    const schedule = (): void => {
      const now = clock.now();
      const next = (Math.floor((now - delayMs) / interval) + 1) * interval + delayMs;
      cancelTimer = clock.setTimeout(tick, next - now);
    };
    const tick = (): void => {
      this.#publish(aggregator.flush(clock.now()));
      schedule();
    };
    if (!signal.aborted) {
      schedule();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    cancelTimer?.();
    this.#publish(aggregator.flush(clock.now()));
    await Promise.allSettled([...this.#pending]);
  }

  #publish(bars: readonly CompletedBar[]): void {
    const { bus, onPublishError } = this.#options;
    for (const completed of bars) {
      const pending = bus
        .publish(Channels.underlying(completed.underlying), JSON.stringify(completed.bar))
        .then(() => {})
        .catch((error: unknown) => onPublishError?.(error, completed))
        .finally(() => this.#pending.delete(pending));
      this.#pending.add(pending);
    }
  }
}

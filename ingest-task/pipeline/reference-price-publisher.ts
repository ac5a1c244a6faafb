import type { ReferencePriceWindow } from '../../shared/domain/market/reference-price-window.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { LiveStateStore } from '../../shared/ports/live-state-store.js';
import type { Service } from '../supervisor.js';

/** Construction options of {@link ReferencePricePublisher}. */
export interface ReferencePricePublisherOptions {
  /** The window the tick pipeline records trades in. */
  readonly window: ReferencePriceWindow;
  readonly state: Pick<LiveStateStore, 'putReferencePrices'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often the averages are written. Default 1000 ms: the window moves in one-second steps. */
  readonly intervalMs?: number;
  /**
   * How long a written set stays readable. Default 5000 ms: a write or two may fail without the
   * prices vanishing, and when this task stops they are gone within seconds, so order checks fall
   * back to the latest tick instead of trusting an average nobody updates.
   */
  readonly ttlMs?: number;
}

/**
 * Writes the 30-s average trade price of every streamed option to the live state store once a
 * second, where `POST /orders` and the order worker read it (`referencePriceOf`). The ticks
 * themselves only add to the window; the averaging and the write happen here, off the tick path,
 * and a write never overlaps the previous one. A failed write is logged (once until one succeeds)
 * and the next interval tries again.
 */
export class ReferencePricePublisher implements Service {
  readonly name = 'reference-prices';
  readonly #options: ReferencePricePublisherOptions;
  readonly #intervalMs: number;
  readonly #ttlMs: number;
  #failing = false;

  constructor(options: ReferencePricePublisherOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#ttlMs = options.ttlMs ?? 5000;
  }

  /** Writes the window's averages as of now; resolves whether or not the write succeeded. */
  async publish(): Promise<void> {
    const { window, state, clock, logger } = this.#options;
    try {
      await state.putReferencePrices(window.averages(clock.now()), this.#ttlMs);
      if (this.#failing) logger.info('Reference prices written again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) logger.warn('Reference prices not written', { error: describeError(error) });
      this.#failing = true;
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#options;
    while (!signal.aborted) {
      const started = clock.now();
      await this.publish();
      if (signal.aborted) break;
      // On the interval from the start of this write, or at once after a write that took longer.
      const wait = Math.max(0, this.#intervalMs - (clock.now() - started));
      await new Promise<void>((resolve) => {
        const done = () => {
          cancel();
          signal.removeEventListener('abort', done);
          resolve();
        };
        const cancel = clock.setTimeout(done, wait);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

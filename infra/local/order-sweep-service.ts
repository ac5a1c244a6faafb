import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';

/**
 * The order sweeper as a service of the local platform: a sweep at start (records stranded by a
 * crash are found as soon as they are old enough) and every `intervalSeconds` after, as the
 * cloud's EventBridge rule runs the Lambda. A failed sweep is logged and the next one tries again.
 */
export class OrderSweepService {
  readonly name: string;
  readonly #sweeper: { sweep(): Promise<unknown> };
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  /** `sweeper`: any periodic pass over the orders (the stranded-order sweep, the open-order poll). */
  constructor(options: {
    sweeper: { sweep(): Promise<unknown> };
    intervalSeconds: number;
    clock: Clock;
    logger: Logger;
    name?: string;
  }) {
    this.name = options.name ?? 'order-sweeper';
    this.#sweeper = options.sweeper;
    this.#intervalMs = options.intervalSeconds * 1000;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#sweeper.sweep();
      } catch (error) {
        this.#logger.warn('Order sweep failed; trying again next interval', { error: describeError(error) });
      }
      await this.#wait(signal);
    }
  }

  #wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const cancel = this.#clock.setTimeout(done, this.#intervalMs);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

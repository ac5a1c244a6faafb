import pRetry from 'p-retry';
import { DependencyUnavailableError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Candle, CandleInterval, Instrument, MarketData } from '../../ports/market-data.js';
import { KiteApiError, type KiteRestClient, toKiteApiError } from './kite-rest-client.js';

export interface KiteMarketDataOptions {
  /** One client per account, tried in turn. */
  readonly clients: readonly KiteRestClient[];
  readonly logger: Logger;
  /** Retries on the same account for timeouts, network and server errors before failing over. Default 2. */
  readonly retriesPerAccount?: number;
  /** First retry delay; doubles each retry. Default 200 ms. */
  readonly retryDelayMs?: number;
  /** How long a rate-limited account is skipped. Default 60 s. */
  readonly rateLimitCooldownMs?: number;
  readonly now?: () => number;
}

/**
 * The `MarketData` port on Kite REST across accounts. Market data is the same whichever account
 * asks, so a call that an account cannot serve moves to the next one: at once on a rate limit (the
 * account is then skipped for a cool-down), after a few backed-off retries on timeouts and server
 * errors. Errors a retry cannot fix (bad input, refused permission) are thrown straight away.
 */
export class KiteMarketData implements MarketData {
  readonly #options: KiteMarketDataOptions;
  readonly #coolingUntil = new Map<string, number>();
  #next = 0;

  constructor(options: KiteMarketDataOptions) {
    if (options.clients.length === 0) throw new RangeError('clients must name at least one Kite account');
    this.#options = options;
  }

  historical(query: {
    instrumentToken: number;
    from: number;
    to: number;
    interval: CandleInterval;
    oi: boolean;
  }): Promise<readonly Candle[]> {
    return this.#withFailover('historical', (client) => client.historical(query));
  }

  async lastPrices(tokens: readonly number[]): Promise<ReadonlyMap<number, number>> {
    const prices = await this.#withFailover('lastPrices', (client) => client.lastPrices(tokens.map(String)));
    return new Map([...prices.values()].map((p) => [p.instrumentToken, p.lastPrice]));
  }

  instruments(): Promise<readonly Instrument[]> {
    return Promise.reject(
      new DependencyUnavailableError('kite', 'The Kite instrument master is served by the instrument registry'),
    );
  }

  async #withFailover<T>(call: string, run: (client: KiteRestClient) => Promise<T>): Promise<T> {
    const now = this.#options.now ?? Date.now;
    const { clients } = this.#options;
    const start = this.#next++ % clients.length;
    const order = clients.map((_, i) => clients[(start + i) % clients.length] as KiteRestClient);
    const usable = order.filter((c) => (this.#coolingUntil.get(c.accountId) ?? 0) <= now());
    let lastError: unknown = new DependencyUnavailableError('kite', 'Every Kite account is rate-limited');
    for (const client of usable.length > 0 ? usable : order) {
      try {
        return await pRetry(() => run(client), {
          retries: this.#options.retriesPerAccount ?? 2,
          minTimeout: this.#options.retryDelayMs ?? 200,
          factor: 2,
          randomize: true,
          shouldRetry: ({ error }) => {
            const mapped = toKiteApiError(error, client.accountId);
            return mapped.retryable && mapped.kind !== 'rate-limited';
          },
          onFailedAttempt: ({ error, attemptNumber }) => {
            this.#options.logger.warn('Kite market-data call failed', {
              accountId: client.accountId,
              call,
              attempt: attemptNumber,
              error: error.message,
            });
          },
        });
      } catch (error) {
        const mapped = toKiteApiError(error, client.accountId);
        lastError = mapped;
        if (!mapped.retryable) throw mapped;
        if (mapped.kind === 'rate-limited') {
          this.#coolingUntil.set(client.accountId, now() + (this.#options.rateLimitCooldownMs ?? 60_000));
        }
        this.#options.logger.warn('Failing over to the next Kite account', {
          accountId: client.accountId,
          call,
          kind: mapped.kind,
        });
      }
    }
    throw lastError instanceof KiteApiError ? lastError : toKiteApiError(lastError, 'all');
  }
}

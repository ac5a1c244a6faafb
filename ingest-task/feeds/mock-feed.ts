import type { MarketTick } from '../../shared/contracts/tick.js';
import type { MockMarket } from '../../shared/domain/market/mock-market.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Service } from '../supervisor.js';

/** Receives each step's ticks, with the name of the feed (the "account") that produced them. */
export type TickHandler = (ticks: readonly MarketTick[], source: string) => void;

/** Configuration of a {@link MockFeed}. */
export interface MockFeedOptions {
  /** Service name and tick source, e.g. `mock-feed:account-1` (default `mock-feed`). */
  readonly name?: string;
  /** The market to step; several feeds may share one (they then see the same snapshots). */
  readonly market: MockMarket;
  readonly clock: Clock;
  /** Time between steps (config `streamIntervalSeconds` × 1000); > 0. */
  readonly intervalMs: number;
  /**
   * The tokens to stream, read at every step (so subscription changes apply at the next step);
   * every instrument of the market when absent or when it returns `undefined`.
   */
  readonly tokens?: () => ReadonlySet<number> | undefined;
  /** Where ticks go: the ingest pipeline, or anything that consumes Kite ticks. */
  readonly onTicks: TickHandler;
}

/**
 * Drives the mock market in place of a Kite connection: every `intervalMs` on the clock it
 * advances the market and hands the new snapshot's ticks to `onTicks`, so the pipeline behind it
 * runs exactly as on live data.
 *
 * Steps keep to a fixed schedule from the start (a slow step does not shift the later ones; missed
 * slots are skipped, not replayed in a burst). A step whose snapshot this feed has already sent is
 * not sent again, so tick timestamps strictly increase. `run` resolves promptly when `signal`
 * aborts and leaves no timer behind; it rejects, after cancelling its timer, if `onTicks` throws,
 * so a broken consumer stops the process instead of running half-broken.
 */
export class MockFeed implements Service {
  readonly name: string;
  readonly #options: MockFeedOptions;

  /** Throws a `RangeError` for a non-positive or non-finite interval. */
  constructor(options: MockFeedOptions) {
    if (!(options.intervalMs > 0 && Number.isFinite(options.intervalMs))) {
      throw new RangeError(`intervalMs must be a positive number, got ${options.intervalMs}`);
    }
    this.name = options.name ?? 'mock-feed';
    this.#options = options;
  }

  run(signal: AbortSignal): Promise<void> {
    const { market, clock, intervalMs, tokens, onTicks } = this.#options;
    const source = this.name;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let cancelTimer: (() => void) | undefined;
      let finished = false;
      let lastVersion = -1;
      const startMs = clock.now();
      let slot = 0;

      const finish = (error?: unknown): void => {
        if (finished) return;
        finished = true;
        cancelTimer?.();
        cancelTimer = undefined;
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = (): void => finish();

      const step = (): void => {
        cancelTimer = undefined;
        if (finished) return;
        try {
          // With nothing to stream (Kite is the source) the market is not stepped at all: a step
          // moves every instrument of the master, work and garbage for nobody.
          const wanted = tokens?.();
          if (wanted === undefined || wanted.size > 0) {
            const snapshot = market.advanceTo(clock.now());
            if (snapshot.version !== lastVersion) {
              lastVersion = snapshot.version;
              const ticks = market.ticks(snapshot, wanted);
              if (ticks.length > 0) onTicks(ticks, source);
            }
          }
        } catch (error) {
          finish(error);
          return;
        }
        if (finished) return;
        const now = clock.now();
        slot = Math.max(slot + 1, Math.floor((now - startMs) / intervalMs) + 1);
        cancelTimer = clock.setTimeout(step, startMs + slot * intervalMs - now);
      };

      signal.addEventListener('abort', onAbort, { once: true });
      step();
    });
  }
}

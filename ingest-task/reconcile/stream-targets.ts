import type { KiteMode } from '../../shared/contracts/tick.js';
import type { KitePool } from '../kite/kite-pool.js';
import type { ApplyResult, DesiredStreams, StreamTarget } from './reconciler.js';

/** Applies desired streams to the Kite pool: unsubscribes what is gone, subscribes what is new or changed mode. */
export class KitePoolTarget implements StreamTarget {
  constructor(readonly pool: KitePool) {}

  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    const current = this.pool.subscriptions();
    const gone = [...current.keys()].filter((token) => !desired.has(token));
    const byMode = new Map<KiteMode, number[]>();
    for (const [token, want] of desired) {
      if (current.get(token) === want.mode) continue;
      const list = byMode.get(want.mode);
      if (list) list.push(token);
      else byMode.set(want.mode, [token]);
    }
    const removed = gone.length > 0 ? (await this.pool.unsubscribe(gone)).unsubscribed.length : 0;
    let added = 0;
    let failed = 0;
    for (const [mode, tokens] of byMode) {
      const result = await this.pool.subscribe(tokens, mode, (token) => desired.get(token)?.accountId);
      added += result.subscribed.length;
      failed += result.failed.length;
    }
    return { added, removed, failed };
  }
}

/** Applies desired streams to the mock feed, which reads `tokens` at every step. */
export class MockFeedTarget implements StreamTarget {
  #tokens: ReadonlySet<number> = new Set();

  /** The tokens the mock feed should stream now. */
  readonly tokens = (): ReadonlySet<number> => this.#tokens;

  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    const next = new Set(desired.keys());
    const added = [...next].filter((t) => !this.#tokens.has(t)).length;
    const removed = [...this.#tokens].filter((t) => !next.has(t)).length;
    this.#tokens = next;
    return { added, removed, failed: 0 };
  }
}

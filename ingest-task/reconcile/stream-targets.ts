import type { KiteMode } from '../../shared/contracts/tick.js';
import type { KitePool } from '../kite/kite-pool.js';
import type { ApplyResult, DesiredStreams, StreamTarget } from './reconciler.js';

/**
 * Applies desired streams to the Kite pool: unsubscribes what is gone, moves what streams on
 * another account than its subscription names (TC-SUB-005), and subscribes what is new or
 * changed mode. A token whose named account cannot take it keeps streaming where it is.
 */
export class KitePoolTarget implements StreamTarget {
  constructor(readonly pool: KitePool) {}

  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    const current = this.pool.subscriptions();
    const gone = [...current.keys()].filter((token) => !desired.has(token));
    const byMode = new Map<KiteMode, number[]>();
    const moves = new Map<string, Map<KiteMode, number[]>>();
    const push = <K>(map: Map<K, number[]>, key: K, token: number) => {
      const list = map.get(key);
      if (list) list.push(token);
      else map.set(key, [token]);
    };
    for (const [token, want] of desired) {
      const account = this.pool.accountOf(token);
      if (want.accountId !== null && account !== undefined && account !== want.accountId) {
        const modes = moves.get(want.accountId) ?? new Map<KiteMode, number[]>();
        moves.set(want.accountId, modes);
        push(modes, want.mode, token);
        continue;
      }
      if (current.get(token) !== want.mode) push(byMode, want.mode, token);
    }
    const removed = gone.length > 0 ? (await this.pool.unsubscribe(gone)).unsubscribed.length : 0;
    let moved = 0;
    for (const [accountId, modes] of moves) {
      for (const [mode, tokens] of modes) {
        const result = await this.pool.move(tokens, accountId, mode);
        moved += result.moved.length;
        // A token that could not move still streams; bring its mode up to date where it is.
        const stayed = tokens.filter((t) => !result.moved.includes(t) && current.get(t) !== mode);
        for (const token of stayed) push(byMode, mode, token);
      }
    }
    let added = 0;
    let failed = 0;
    for (const [mode, tokens] of byMode) {
      const result = await this.pool.subscribe(tokens, mode, (token) => desired.get(token)?.accountId);
      added += result.subscribed.length;
      failed += result.failed.length;
    }
    return { added, removed, failed, ...(moved > 0 && { moved }) };
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

/**
 * Routes the desired streams to Kite while the market is open and to the mock feed while it is
 * closed (a closed exchange sends nothing, and clients still want a live-looking chain to work
 * with). Switching re-applies the last desired set to the newly active target and empties the
 * other, so exactly one of them streams at any time.
 */
export class MarketHoursTarget implements StreamTarget {
  #desired: DesiredStreams = new Map();
  #open: boolean;

  constructor(
    readonly live: StreamTarget,
    readonly mock: StreamTarget,
    open: boolean,
  ) {
    this.#open = open;
  }

  get open(): boolean {
    return this.#open;
  }

  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    this.#desired = desired;
    const [active, idle] = this.#open ? [this.live, this.mock] : [this.mock, this.live];
    await idle.apply(new Map());
    return active.apply(desired);
  }

  /** Moves the streams to the source for the new state; does nothing when the state is unchanged. */
  async setOpen(open: boolean): Promise<ApplyResult | undefined> {
    if (open === this.#open) return undefined;
    this.#open = open;
    return this.apply(this.#desired);
  }
}

/** One connection as the index holds it: what a fan-out instance needs to deliver to it. */
export interface IndexedConnection {
  readonly connectionId: string;
  /** The user's id (the JWT subject), so a fan-out instance that loads the connection knows whose orders it gets. */
  readonly userId: string;
  /** Ascending, without repeats. */
  readonly tokens: readonly number[];
  readonly delivery: 'tick' | 'batch';
  readonly batchIntervalMs: number | null;
  /** Epoch seconds after which the connection no longer counts (a little past API Gateway's 2 h limit). */
  readonly expiresAt: number;
  /** The record's `version` (token changes so far) this entry reflects; 0 when absent. */
  readonly version?: number;
}

/**
 * The token → connections index of the WebSocket registry, kept beside the durable records (the
 * `ConnectionStore`) where the fan-out can read it fast: Redis in the cloud. The WebSocket handlers
 * write it on `$connect`, subscribe, unsubscribe, configure and `$disconnect` (through the indexed
 * connection store); a fan-out instance loads it whole when it starts, then follows the change
 * notifications on `control:connections`.
 *
 * Guarantees, the same for every adapter (one contract suite checks them):
 * - `put` replaces whatever the index held for the connection, tokens included.
 * - `addTokens`, `removeTokens` and `setDelivery` change a connection the index knows and answer
 *   true; for one it does not know (never put, removed, expired, or lost with a Redis restart) they
 *   change nothing and answer false, so the caller can `put` it again from the durable record.
 * - `replaceTokens` sets a known connection's whole token list as of `version`, unless the index
 *   already holds that version or a later one (changes heard out of order keep the latest); it
 *   answers false, changing nothing, for a connection it does not know.
 * - `remove` is idempotent and takes the connection out of every token's list.
 * - `connectionsFor` and `snapshot` never return a removed connection or one past `expiresAt` by
 *   the index's clock; `connectionsFor` is sorted.
 * - Every method rejects with `DependencyUnavailableError` when the index cannot be reached.
 */
export interface ConnectionIndex {
  put(connection: IndexedConnection): Promise<void>;
  addTokens(connectionId: string, tokens: readonly number[]): Promise<boolean>;
  removeTokens(connectionId: string, tokens: readonly number[]): Promise<boolean>;
  replaceTokens(connectionId: string, tokens: readonly number[], version: number): Promise<boolean>;
  setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<boolean>;
  remove(connectionId: string): Promise<void>;
  connectionsFor(instrumentToken: number): Promise<readonly string[]>;
  /** Every live connection with its tokens and delivery: what a fan-out instance loads at start. */
  snapshot(): Promise<readonly IndexedConnection[]>;
  /** Releases the index's connection; idempotent. */
  close(): Promise<void>;
}

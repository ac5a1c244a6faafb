/** An authenticated WebSocket connection as the registry records it. */
export interface ConnectionRecord {
  readonly connectionId: string;
  readonly userId: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly tokens: readonly number[];
  /** `tick` (one message per tick) or `batch` (latest value per token per interval). */
  readonly delivery: 'tick' | 'batch';
  readonly batchIntervalMs: number | null;
  /** Epoch milliseconds. */
  readonly connectedAt: number;
  /** Epoch seconds after which the record may be deleted (a little past API Gateway's 2 h limit). */
  readonly expiresAt: number;
}

/**
 * Which connections exist and what each wants.
 *
 * Guarantees:
 * - `put` then `get` returns the record; `remove` is idempotent.
 * - `addTokens`/`removeTokens` return the connection's full token list afterwards.
 * - Records expire after `expiresAt` even if `$disconnect` never arrives.
 */
export interface ConnectionStore {
  put(record: ConnectionRecord): Promise<void>;
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  remove(connectionId: string): Promise<void>;
  addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]>;
  removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]>;
  setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<void>;
}

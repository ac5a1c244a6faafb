import type { TokenAction } from '../domain/connections/ordered-tokens.js';

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

/** The outcome of {@link ConnectionStore.changeTokens}. */
export interface TokenChangeResult {
  /** false when the action's `maxTokens` refused it; the record is then unchanged. */
  readonly accepted: boolean;
  /** The connection's tokens after the call, ascending. */
  readonly tokens: readonly number[];
  /**
   * How many token changes the record has had: each accepted change gets the next number, so
   * whoever hears of changes out of order (the fan-out, the index) keeps the latest.
   */
  readonly version: number;
}

/**
 * Which connections exist and what each wants.
 *
 * Guarantees:
 * - `put` then `get` returns the record; `remove` is idempotent.
 * - `addTokens`/`removeTokens` return the connection's full token list afterwards.
 * - Records expire after `expiresAt` even if `$disconnect` never arrives.
 * - `changeTokens` applies a stamped subscribe or unsubscribe as a last-writer-wins set
 *   (`shared/domain/connections/ordered-tokens.ts`): a token changes only when the action is not
 *   older than the last one that touched it, so concurrent calls leave what the latest action on
 *   each token asked for, whatever order they ran in. Each accepted change takes the next
 *   `version`, atomically with the tokens.
 */
export interface ConnectionStore {
  put(record: ConnectionRecord): Promise<void>;
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  remove(connectionId: string): Promise<void>;
  addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]>;
  removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]>;
  changeTokens(connectionId: string, action: TokenAction): Promise<TokenChangeResult>;
  setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<void>;
}

import type { TokenAction } from '../domain/connections/ordered-tokens.js';
import type { ConnectionIndex, IndexedConnection } from '../ports/connection-index.js';
import type { ConnectionRecord, ConnectionStore, TokenChangeResult } from '../ports/connection-store.js';

const indexed = (record: ConnectionRecord): IndexedConnection => ({
  connectionId: record.connectionId,
  userId: record.userId,
  tokens: record.tokens,
  delivery: record.delivery,
  batchIntervalMs: record.batchIntervalMs,
  expiresAt: record.expiresAt,
});

/**
 * The cloud's {@link ConnectionStore} (docs/architecture.md): the durable records in one
 * store (DynamoDB), and a {@link ConnectionIndex} (Redis) kept in step with them, which a fan-out
 * instance loads at start.
 *
 * Every change goes to the records first (they validate the input, decide whether the connection
 * is live and answer `NotFoundError` when it is not) and then to the index; a call that fails on
 * the index rejects, and repeating it repairs the index. When the index does not know a live
 * connection (Redis restarted without persistence, or its keys expired early), the connection is
 * put into it again from the record, so one change is enough to heal it. Concurrent changes of the
 * same token on the same connection through `addTokens`/`removeTokens` can reach the index in
 * another order than the records; `changeTokens` carries the record's version, so the index keeps
 * the latest whatever the order.
 */
export class IndexedConnectionStore implements ConnectionStore {
  readonly #records: ConnectionStore;
  readonly #index: ConnectionIndex;

  constructor(records: ConnectionStore, index: ConnectionIndex) {
    this.#records = records;
    this.#index = index;
  }

  async put(record: ConnectionRecord): Promise<void> {
    await this.#records.put(record);
    await this.#index.put(indexed(record));
  }

  get(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.#records.get(connectionId);
  }

  async remove(connectionId: string): Promise<void> {
    await this.#records.remove(connectionId);
    await this.#index.remove(connectionId);
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    const all = await this.#records.addTokens(connectionId, tokens);
    if (!(await this.#index.addTokens(connectionId, tokens))) await this.#reindex(connectionId);
    return all;
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    const all = await this.#records.removeTokens(connectionId, tokens);
    if (!(await this.#index.removeTokens(connectionId, tokens))) await this.#reindex(connectionId);
    return all;
  }

  /**
   * The stamped change on the records, then the resulting token list on the index as of the
   * record's new version: changes that reach the index out of order leave it at the latest one.
   */
  async changeTokens(connectionId: string, action: TokenAction): Promise<TokenChangeResult> {
    const result = await this.#records.changeTokens(connectionId, action);
    if (result.accepted && !(await this.#index.replaceTokens(connectionId, result.tokens, result.version))) {
      await this.#reindex(connectionId);
    }
    return result;
  }

  async setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<void> {
    await this.#records.setDelivery(connectionId, delivery, batchIntervalMs);
    if (!(await this.#index.setDelivery(connectionId, delivery, batchIntervalMs))) await this.#reindex(connectionId);
  }

  /** Puts a live connection the index lost back into it, from its record. */
  async #reindex(connectionId: string): Promise<void> {
    const record = await this.#records.get(connectionId);
    if (record) await this.#index.put(indexed(record));
  }
}

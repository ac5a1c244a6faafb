import { NotFoundError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ConnectionRecord, ConnectionStore } from '../../ports/connection-store.js';
import {
  BatchIntervalMs,
  ConnectionId,
  ConnectionRecordInput,
  Delivery,
  normaliseTokens,
  parseConnectionInput,
  Tokens,
} from '../connection-store-input.js';
import { SystemClock } from '../system-clock.js';

/*
 * The input rules every ConnectionStore adapter applies, exported so the DynamoDB store accepts and
 * rejects exactly the same calls. They live here because this module does not load the AWS SDK.
 */

/** What a {@link MemoryConnectionStore} needs. */
interface Entry {
  record: ConnectionRecord;
  tokens: Set<number>;
}

export interface MemoryConnectionStoreOptions {
  /** Decides when a record has expired. Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * The {@link ConnectionStore} inside one process: for unit tests and the local platform. It keeps
 * the guarantees the DynamoDB store keeps, checked by the same contract suite:
 *
 * - Token lists come back ascending and without repeats, whatever order they were given in.
 * - A record is live while `clock.now()` is before `expiresAt` (epoch seconds); from then on it is
 *   gone for every method, as if `remove` had run, though `$disconnect` never came. Expired
 *   records are dropped when next touched.
 * - `addTokens`, `removeTokens` and `setDelivery` on a connection that is not there (never put,
 *   removed or expired) reject with `NotFoundError` and create nothing.
 * - `remove` is idempotent.
 *
 * Records are copied in and out.
 */
export class MemoryConnectionStore implements ConnectionStore {
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(options: MemoryConnectionStoreOptions = {}) {
    this.#clock = options.clock ?? new SystemClock();
  }

  async put(record: ConnectionRecord): Promise<void> {
    const parsed = parseConnectionInput(ConnectionRecordInput, record, 'record');
    this.#drop(parsed.connectionId);
    const tokens = new Set(parsed.tokens);
    this.#entries.set(parsed.connectionId, { record: { ...parsed, tokens: normaliseTokens(tokens) }, tokens });
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const entry = this.#live(parseConnectionInput(ConnectionId, connectionId, 'connectionId'));
    return entry && this.#copy(entry);
  }

  async remove(connectionId: string): Promise<void> {
    this.#drop(parseConnectionInput(ConnectionId, connectionId, 'connectionId'));
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    const entry = this.#existing(connectionId);
    for (const token of parseConnectionInput(Tokens, tokens, 'tokens')) entry.tokens.add(token);
    return normaliseTokens(entry.tokens);
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    const entry = this.#existing(connectionId);
    for (const token of parseConnectionInput(Tokens, tokens, 'tokens')) entry.tokens.delete(token);
    return normaliseTokens(entry.tokens);
  }

  async setDelivery(connectionId: string, delivery: 'tick' | 'batch', batchIntervalMs: number | null): Promise<void> {
    const entry = this.#existing(connectionId);
    entry.record = {
      ...entry.record,
      delivery: parseConnectionInput(Delivery, delivery, 'delivery'),
      batchIntervalMs: parseConnectionInput(BatchIntervalMs, batchIntervalMs, 'batchIntervalMs'),
    };
  }

  /** The live entry of `connectionId`, or `NotFoundError`. */
  #existing(connectionId: string): Entry {
    const id = parseConnectionInput(ConnectionId, connectionId, 'connectionId');
    const entry = this.#live(id);
    if (!entry) throw new NotFoundError(`No connection ${id}`);
    return entry;
  }

  /** The entry of `connectionId` if it has not expired; an expired one is dropped on the way. */
  #live(connectionId: string): Entry | undefined {
    const entry = this.#entries.get(connectionId);
    if (entry && this.#clock.now() >= entry.record.expiresAt * 1000) {
      this.#drop(connectionId);
      return undefined;
    }
    return entry;
  }

  #drop(connectionId: string): void {
    this.#entries.delete(connectionId);
  }

  #copy(entry: Entry): ConnectionRecord {
    return { ...entry.record, tokens: normaliseTokens(entry.tokens) };
  }
}

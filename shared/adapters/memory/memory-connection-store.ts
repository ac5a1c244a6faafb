import {
  applyTokenAction,
  type TokenAction,
  type TokenMark,
  wantedTokens,
} from '../../domain/connections/ordered-tokens.js';
import { NotFoundError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ConnectionRecord, ConnectionStore, TokenChangeResult } from '../../ports/connection-store.js';
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
  /** The last action on each token (`shared/domain/connections/ordered-tokens.ts`); the wanted ones are the tokens. */
  marks: ReadonlyMap<number, TokenMark>;
  version: number;
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
    const marks = new Map(parsed.tokens.map((token) => [token, { stamp: 0, wanted: true }] as const));
    this.#entries.set(parsed.connectionId, {
      record: { ...parsed, tokens: normaliseTokens(parsed.tokens) },
      marks,
      version: 0,
    });
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const entry = this.#live(parseConnectionInput(ConnectionId, connectionId, 'connectionId'));
    return entry && this.#copy(entry);
  }

  async remove(connectionId: string): Promise<void> {
    this.#drop(parseConnectionInput(ConnectionId, connectionId, 'connectionId'));
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#unstamped(connectionId, 'add', tokens);
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<readonly number[]> {
    return this.#unstamped(connectionId, 'remove', tokens);
  }

  async changeTokens(connectionId: string, action: TokenAction): Promise<TokenChangeResult> {
    const entry = this.#existing(connectionId);
    const tokens = parseConnectionInput(Tokens, action.tokens, 'tokens');
    const outcome = applyTokenAction(entry.marks, { ...action, tokens });
    if (outcome.accepted) {
      entry.marks = outcome.marks;
      entry.version++;
    }
    return { accepted: outcome.accepted, tokens: wantedTokens(entry.marks), version: entry.version };
  }

  /** An unordered change: it counts as the latest action on its tokens. */
  async #unstamped(connectionId: string, action: 'add' | 'remove', tokens: readonly number[]): Promise<number[]> {
    const entry = this.#existing(connectionId);
    let stamp = 0;
    for (const mark of entry.marks.values()) stamp = Math.max(stamp, mark.stamp);
    entry.marks = applyTokenAction(entry.marks, {
      action,
      tokens: parseConnectionInput(Tokens, tokens, 'tokens'),
      stamp,
    }).marks;
    entry.version++;
    return wantedTokens(entry.marks);
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
    return { ...entry.record, tokens: wantedTokens(entry.marks) };
  }
}

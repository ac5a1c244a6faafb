import type { SubscriptionMode, SubscriptionStatus } from '../contracts/common.js';

/** A subscription as the platform stores it (the REST shape of TC-REG-001 in domain names). */
export interface StoredSubscription {
  readonly instrumentToken: number;
  readonly tradingsymbol: string;
  readonly segment: string;
  readonly status: SubscriptionStatus;
  readonly requestedMode: SubscriptionMode;
  readonly accountId: string | null;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Fields an upsert can leave to the record when it has one: see {@link SubscriptionUpsert.keep}. */
export type KeptField = 'requestedMode' | 'accountId';

/** A subscription as `upsert` receives it. */
export interface SubscriptionUpsert extends Omit<StoredSubscription, 'createdAt' | 'updatedAt'> {
  /**
   * Fields whose stored value wins over the given one: the given value is written only where the
   * record has none (a new record; for `accountId`, also a record without an account). This makes
   * "subscribe again, keeping the mode and account chosen before" one atomic write: a read and a
   * write would cost a second round trip and could undo a change made between the two.
   */
  readonly keep?: readonly KeptField[];
}

/** One page of a listing; `cursor` is opaque and absent on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}

/**
 * The durable set of instruments to stream.
 *
 * Guarantees:
 * - `upsert` is idempotent per token: a repeat updates `updatedAt` (and what changed), keeps
 *   `createdAt`, and never creates a second record.
 * - `deactivate` is a soft delete: the record stays, with status `inactive`.
 * - `list` pages through a stable order (by token) with an opaque cursor; a cursor from one filter
 *   is rejected by another.
 * - Account assignment is stable: once a token has an account it keeps it until changed explicitly;
 *   an upsert with `accountId: null` means "no preference" and keeps the existing account, while
 *   `update({ accountId: null })` clears it. `keep` (see {@link SubscriptionUpsert}) makes the
 *   given mode or account a default that a record's own value overrides.
 * - Every method rejects with `DependencyUnavailableError` when the store cannot be reached.
 */
export interface SubscriptionStore {
  upsert(subscription: SubscriptionUpsert, nowMs: number): Promise<StoredSubscription>;
  get(instrumentToken: number): Promise<StoredSubscription | undefined>;
  update(
    instrumentToken: number,
    changes: Partial<Pick<StoredSubscription, 'status' | 'requestedMode' | 'accountId'>>,
    nowMs: number,
  ): Promise<StoredSubscription | undefined>;
  deactivate(instrumentToken: number, nowMs: number): Promise<StoredSubscription | undefined>;
  list(query: { status?: SubscriptionStatus; limit: number; cursor?: string }): Promise<Page<StoredSubscription>>;
  /** Every active subscription, for reconciliation (pages internally). */
  listActive(): Promise<readonly StoredSubscription[]>;
}

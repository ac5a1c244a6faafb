import type { SubscriptionStatus } from '../../contracts/common.js';
import type { Page, StoredSubscription, SubscriptionStore } from '../../ports/subscription-store.js';
import {
  encodeCursor,
  parseChanges,
  parseListQuery,
  parseNow,
  parseSubscriptionInput,
  parseToken,
  type SubscriptionChanges,
  type SubscriptionInput,
} from '../subscription-store-input.js';

/**
 * The {@link SubscriptionStore} inside one process: for unit tests, and for the local platform
 * where a database is not wanted. It keeps the guarantees the DynamoDB store keeps, checked by the same contract suite, and
 * accepts and rejects the same inputs (the rules and the cursor format are shared):
 *
 * - `upsert` keeps `createdAt` and sets `updatedAt` to `nowMs`; an `accountId` of `null` means "no
 *   preference" and keeps the account a token already has, a string assigns that account; a field
 *   named in `keep` keeps the record's value when it has one.
 * - `update` sets only the fields given (`accountId: null` clears the account) and stamps
 *   `updatedAt`; it returns `undefined`, creating nothing, when the token has no record.
 * - `deactivate` is `update` with status `inactive`.
 * - `list` is in token order; its cursor is base64url of the filter and the page's last token.
 *
 * Unlike DynamoDB's status index, every listing sees every write at once. Records are copied in
 * and out, so a caller cannot change the store by mutating what it got.
 */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly #records = new Map<number, StoredSubscription>();
  /** Every token, ascending: records are never removed, so tokens are only ever inserted. */
  readonly #order: number[] = [];

  async upsert(subscription: SubscriptionInput, nowMs: number): Promise<StoredSubscription> {
    const input = parseSubscriptionInput(subscription);
    const now = parseNow(nowMs);
    const existing = this.#records.get(input.instrumentToken);
    if (!existing) this.#insertToken(input.instrumentToken);
    const keep = new Set(input.keep);
    const record: StoredSubscription = {
      instrumentToken: input.instrumentToken,
      tradingsymbol: input.tradingsymbol,
      segment: input.segment,
      status: input.status,
      requestedMode: (keep.has('requestedMode') && existing?.requestedMode) || input.requestedMode,
      accountId:
        input.accountId === null || keep.has('accountId') ? (existing?.accountId ?? input.accountId) : input.accountId,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    this.#records.set(record.instrumentToken, record);
    return { ...record };
  }

  async get(instrumentToken: number): Promise<StoredSubscription | undefined> {
    const record = this.#records.get(parseToken(instrumentToken));
    return record && { ...record };
  }

  async update(
    instrumentToken: number,
    changes: SubscriptionChanges,
    nowMs: number,
  ): Promise<StoredSubscription | undefined> {
    const token = parseToken(instrumentToken);
    const given = parseChanges(changes);
    const now = parseNow(nowMs);
    const existing = this.#records.get(token);
    if (!existing) return undefined;
    const record: StoredSubscription = { ...existing, ...given, updatedAt: now };
    this.#records.set(token, record);
    return { ...record };
  }

  async deactivate(instrumentToken: number, nowMs: number): Promise<StoredSubscription | undefined> {
    return this.update(instrumentToken, { status: 'inactive' }, nowMs);
  }

  async list(query: {
    status?: SubscriptionStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<StoredSubscription>> {
    const { filter, status, limit, afterToken } = parseListQuery(query);
    const items: StoredSubscription[] = [];
    let more = false;
    for (let i = afterToken === undefined ? 0 : this.#firstIndexAbove(afterToken); i < this.#order.length; i++) {
      const record = this.#records.get(this.#order[i] ?? 0);
      if (!record || (status !== undefined && record.status !== status)) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({ ...record });
    }
    const last = items.at(-1);
    return more && last ? { items, cursor: encodeCursor(filter, last.instrumentToken) } : { items };
  }

  async listActive(): Promise<readonly StoredSubscription[]> {
    const active: StoredSubscription[] = [];
    for (const token of this.#order) {
      const record = this.#records.get(token);
      if (record?.status === 'active') active.push({ ...record });
    }
    return active;
  }

  /** The index of the first token greater than `token` in the sorted order. */
  #firstIndexAbove(token: number): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#order[mid] ?? 0) <= token) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #insertToken(token: number): void {
    this.#order.splice(this.#firstIndexAbove(token), 0, token);
  }
}

import type { SubscriptionStatus } from '../contracts/common.js';
import type { Clock } from '../ports/clock.js';
import type { Page, StoredSubscription, SubscriptionStore, SubscriptionUpsert } from '../ports/subscription-store.js';
import type { SubscriptionChanges } from './subscription-store-input.js';

/** What a {@link CachingSubscriptionStore} needs. */
export interface CachingSubscriptionStoreOptions {
  /** How long a page is served without reading the store again; above zero. */
  readonly ttlMs: number;
  readonly clock: Clock;
  /** Pages kept at most (the one read longest ago goes first); cursors come from callers, so this bounds memory. Default 256. */
  readonly maxPages?: number;
}

type ListQuery = { status?: SubscriptionStatus; limit: number; cursor?: string };

interface CachedPage {
  readonly page: Promise<Page<StoredSubscription>>;
  /** When the read began: a page is never older than the TTL counted from there. */
  readonly readAt: number;
}

/** Past this share of the TTL a page served also starts its replacement's read. */
const REFRESH_AT = 0.5;

/** A page and its records frozen: one cached page is handed to many callers, none of which can change it for the others. */
function frozen(page: Page<StoredSubscription>): Page<StoredSubscription> {
  for (const item of page.items) Object.freeze(item);
  Object.freeze(page.items);
  return Object.freeze(page);
}

/**
 * A {@link SubscriptionStore} that serves `list` pages from memory for `ttlMs`, in front of
 * another store. Subscriptions are listed far more often than they change (dashboards and
 * trading systems poll the list; operators change it by hand), and on DynamoDB a page of 100 is a
 * query of two status partitions that costs more than the rest of the request together.
 *
 * Guarantees, on top of the store's own:
 * - A write made through this instance (`upsert`, `update`, `deactivate`) drops every cached
 *   page, including a read still in flight, whose result might predate it: a `list` that starts
 *   after the write returns reads the store. It then sees the write as the store lists it: at
 *   once in memory, after the status index's lag on DynamoDB (a page read within that lag keeps
 *   the old view for up to `ttlMs`).
 * - A write made elsewhere (another Lambda container: in the cloud every route is a function of
 *   its own, so every change is made elsewhere) is seen within `ttlMs` plus the store's own lag
 *   (DynamoDB's status index: about a second).
 * - A page is never served once `ttlMs` has passed since its read began, nor when the clock has
 *   stepped back past that moment.
 * - Calls that miss together share one read of the store; a read that fails is not kept, so the
 *   next call reads again.
 * - A page served past half its TTL also starts the read of its replacement, which takes its
 *   place when it lands: under steady calls a page is replaced before it expires, and no caller
 *   waits for the store. A replacement that fails leaves the page to expire. One replacement is
 *   read at a time: pages first read together would otherwise all be read again together, a
 *   burst of queries that stalls the calls arriving during it.
 * - `get` and `listActive` are not cached: `get` stays strongly consistent and the reconciler
 *   sees the store itself.
 * - Bad input is the store's to reject; its read fails and is dropped like any failed read.
 *
 * Pages are frozen, records included.
 */
export class CachingSubscriptionStore implements SubscriptionStore {
  readonly #store: SubscriptionStore;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #maxPages: number;
  #pages = new Map<string, CachedPage>();
  /**
   * When the replacement read in flight began: one at a time, so pages read together do not all
   * go back to the store together; one that has taken a whole TTL no longer holds the next back.
   */
  #replacingSince: number | undefined;

  constructor(store: SubscriptionStore, options: CachingSubscriptionStoreOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be above zero, got ${options.ttlMs}`);
    this.#store = store;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#maxPages = options.maxPages ?? 256;
  }

  list(query: ListQuery): Promise<Page<StoredSubscription>> {
    const key = `${query.status ?? ''}\n${query.limit}\n${query.cursor ?? ''}`;
    const now = this.#clock.now();
    const pages = this.#pages;
    const cached = pages.get(key);
    if (cached === undefined || !this.#within(cached.readAt, now)) return this.#read(pages, key, query, now).page;
    // Past half its TTL, a page also starts the read of its replacement (unless one is in flight,
    // this page's included): callers do not wait for the store whenever a page expires, and no
    // page is served past the TTL.
    if (now - cached.readAt >= this.#ttlMs * REFRESH_AT && !this.#within(this.#replacingSince, now)) {
      this.#replacingSince = now;
      const next = this.#load(query, now);
      const settled = () => {
        if (this.#replacingSince === now) this.#replacingSince = undefined;
      };
      next.page.then(() => {
        settled();
        if (pages.get(key) !== cached) return;
        pages.delete(key);
        pages.set(key, next);
      }, settled);
    }
    return cached.page;
  }

  /** Whether `now` is less than a TTL after `since`, and not before it (the clock may step back). */
  #within(since: number | undefined, now: number): boolean {
    return since !== undefined && now - since >= 0 && now - since < this.#ttlMs;
  }

  /** A page read from the store, starting now. */
  #load(query: ListQuery, now: number): CachedPage {
    return { page: this.#store.list(query).then(frozen), readAt: now };
  }

  /** Reads a page from the store and keeps it in `pages` (dropped again if the read fails). */
  #read(pages: Map<string, CachedPage>, key: string, query: ListQuery, now: number): CachedPage {
    const entry = this.#load(query, now);
    pages.delete(key);
    pages.set(key, entry);
    if (pages.size > this.#maxPages) pages.delete(pages.keys().next().value as string);
    entry.page.catch(() => {
      if (pages.get(key) === entry) pages.delete(key);
    });
    return entry;
  }

  listActive(): Promise<readonly StoredSubscription[]> {
    return this.#store.listActive();
  }

  get(instrumentToken: number): Promise<StoredSubscription | undefined> {
    return this.#store.get(instrumentToken);
  }

  upsert(subscription: SubscriptionUpsert, nowMs: number): Promise<StoredSubscription> {
    return this.#write(() => this.#store.upsert(subscription, nowMs));
  }

  update(instrumentToken: number, changes: SubscriptionChanges, nowMs: number) {
    return this.#write(() => this.#store.update(instrumentToken, changes, nowMs));
  }

  deactivate(instrumentToken: number, nowMs: number): Promise<StoredSubscription | undefined> {
    return this.#write(() => this.#store.deactivate(instrumentToken, nowMs));
  }

  /** Runs a write, then drops every page; also when it fails, since a write that timed out may still have landed. */
  async #write<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.#pages = new Map();
    }
  }
}

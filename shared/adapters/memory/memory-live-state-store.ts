import { DependencyUnavailableError } from '../../errors.js';
import type { LiveStateStore } from '../../ports/live-state-store.js';
import { type EncodedMessage, messageText } from '../../ports/tick-bus.js';

interface Expiring {
  readonly value: string;
  /** Epoch ms from which the entry is gone. */
  readonly expiresAt: number;
}

/** Construction options of {@link MemoryLiveStateStore}. */
export interface MemoryLiveStateStoreOptions {
  /**
   * The time that TTLs and lease expiry are measured on (epoch ms). Tests pass a manual clock's
   * `now` so they can let a heartbeat or a lease run out without waiting.
   */
  readonly now?: () => number;
}

/**
 * Throws unless `ttlMs` is a positive whole number of milliseconds: Redis refuses anything else
 * (`PX`), so both stores refuse it alike rather than one rounding where the other fails.
 */
function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive whole number of milliseconds, got ${ttlMs}`);
  }
}

/** Throws unless every reference price is a finite number, as the Redis store must parse it back. */
function assertPrices(prices: ReadonlyMap<number, number>): void {
  for (const [token, price] of prices) {
    if (!Number.isFinite(price))
      throw new RangeError(`reference price of ${token} must be a finite number, got ${price}`);
  }
}

/**
 * The {@link LiveStateStore} inside one process: for `npm start` without Redis and for unit tests.
 * It keeps the port's guarantees the Redis store keeps (checked by the same contract suite): an
 * entry is readable until `ttlMs` after it was written and gone from then on; a lease has at most
 * one owner and only that owner renews or releases it. Expired entries are dropped when next
 * touched, so no timers keep the process alive.
 */
export class MemoryLiveStateStore implements LiveStateStore {
  readonly #now: () => number;
  readonly #latest = new Map<number, string>();
  #reference: { readonly prices: ReadonlyMap<number, number>; readonly expiresAt: number } | undefined;
  readonly #heartbeats = new Map<string, Expiring>();
  readonly #leases = new Map<string, Expiring>();
  /** Group → member → expiry (epoch ms). */
  readonly #groups = new Map<string, Map<string, number>>();
  #closed = false;

  constructor(options: MemoryLiveStateStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async joinGroup(group: string, member: string, ttlMs: number): Promise<string[]> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const now = this.#now();
    const members = this.#groups.get(group) ?? new Map<string, number>();
    this.#groups.set(group, members);
    members.set(member, now + ttlMs);
    for (const [name, expiresAt] of members) if (expiresAt <= now) members.delete(name);
    return [...members.keys()].sort();
  }

  async leaveGroup(group: string, member: string): Promise<void> {
    this.#assertOpen();
    this.#groups.get(group)?.delete(member);
  }

  async putLatest(entries: ReadonlyMap<number, EncodedMessage>): Promise<void> {
    this.#assertOpen();
    for (const [token, encoded] of entries) this.#latest.set(token, messageText(encoded));
  }

  async getLatest(tokens: readonly number[]): Promise<Map<number, string>> {
    this.#assertOpen();
    const found = new Map<number, string>();
    for (const token of tokens) {
      const encoded = this.#latest.get(token);
      if (encoded !== undefined) found.set(token, encoded);
    }
    return found;
  }

  async putReferencePrices(prices: ReadonlyMap<number, number>, ttlMs: number): Promise<void> {
    this.#assertOpen();
    assertTtl(ttlMs);
    assertPrices(prices);
    // A copy: the caller may reuse its map, and the set must stay as it was written.
    this.#reference = { prices: new Map(prices), expiresAt: this.#now() + ttlMs };
  }

  async getReferencePrices(tokens: readonly number[]): Promise<Map<number, number>> {
    this.#assertOpen();
    const found = new Map<number, number>();
    const reference = this.#reference;
    if (reference === undefined || this.#now() >= reference.expiresAt) return found;
    for (const token of tokens) {
      const price = reference.prices.get(token);
      if (price !== undefined) found.set(token, price);
    }
    return found;
  }

  async putHeartbeat(name: string, value: string, ttlMs: number): Promise<void> {
    this.#assertOpen();
    assertTtl(ttlMs);
    this.#heartbeats.set(name, { value, expiresAt: this.#now() + ttlMs });
  }

  async getHeartbeat(name: string): Promise<string | undefined> {
    this.#assertOpen();
    return this.#live(this.#heartbeats, name)?.value;
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const held = this.#live(this.#leases, name);
    if (held && held.value !== owner) return false;
    this.#leases.set(name, { value: owner, expiresAt: this.#now() + ttlMs });
    return true;
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertTtl(ttlMs);
    if (this.#live(this.#leases, name)?.value !== owner) return false;
    this.#leases.set(name, { value: owner, expiresAt: this.#now() + ttlMs });
    return true;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#assertOpen();
    if (this.#live(this.#leases, name)?.value === owner) this.#leases.delete(name);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#latest.clear();
    this.#reference = undefined;
    this.#heartbeats.clear();
    this.#leases.clear();
  }

  /** The entry under `key` if it has not expired; an expired one is removed on the way. */
  #live(entries: Map<string, Expiring>, key: string): Expiring | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() < entry.expiresAt) return entry;
    entries.delete(key);
    return undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new DependencyUnavailableError('live-state', 'The in-memory live-state store is closed');
  }
}

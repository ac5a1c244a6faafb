import type { EncodedMessage } from './tick-bus.js';

/**
 * Small, fast, shared state that the ingest task, the fan-out and the REST API read and write:
 * the latest tick per instrument (so a new subscriber gets a value at once), heartbeats (so
 * `/health` knows the ingest task is alive), and leases (so one ingest instance is active).
 * Redis in the cloud, memory in one process.
 *
 * Guarantees, the same for every adapter (one contract suite checks them):
 * - `putLatest` stores the given encoded ticks, replacing older values of the same tokens, in one
 *   round trip however many there are; `getLatest` returns those it has, by token.
 * - A heartbeat is readable until `ttlMs` after it was written, then gone.
 * - A lease is held by at most one owner at a time: `acquireLease` succeeds only when the lease is
 *   free or expired (or already the caller's, which renews it); `renewLease` succeeds only for the
 *   current owner before expiry; `releaseLease` frees it only for the current owner.
 * - Group membership: `joinGroup` records (or renews) a member until `ttlMs` from now, on the
 *   store's own clock (so members on different hosts agree), and returns every live member of the
 *   group, sorted; a member not renewed within its TTL is gone; `leaveGroup` removes one at once.
 * - Reference prices (the 30-s average trade price the exchange bands limit prices around):
 *   `putReferencePrices` replaces the whole set, so afterwards exactly the given tokens have one,
 *   each readable until `ttlMs` after the write (a writer that stops leaves none behind, and
 *   readers fall back to the latest tick); a reader sees the set before a write or after it,
 *   never a mix; values come back exactly as written. `getReferencePrices` returns those it has.
 *   A price that is not a finite number is refused with a RangeError, as is a bad TTL.
 * - Every method rejects with `DependencyUnavailableError` when the store cannot be reached.
 */
export interface LiveStateStore {
  putLatest(entries: ReadonlyMap<number, EncodedMessage>): Promise<void>;
  getLatest(tokens: readonly number[]): Promise<Map<number, string>>;
  putReferencePrices(prices: ReadonlyMap<number, number>, ttlMs: number): Promise<void>;
  getReferencePrices(tokens: readonly number[]): Promise<Map<number, number>>;
  putHeartbeat(name: string, value: string, ttlMs: number): Promise<void>;
  getHeartbeat(name: string): Promise<string | undefined>;
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  joinGroup(group: string, member: string, ttlMs: number): Promise<string[]>;
  leaveGroup(group: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/** Heartbeat names: the ingest task writes its status under `ingest`; `/health` reads it. */
export const Heartbeats = {
  ingest: 'ingest',
  /** What streams now (a JSON array of tokens), written by the reconciler after each reconcile. */
  streams: 'streams',
} as const;

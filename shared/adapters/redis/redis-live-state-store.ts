import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { DependencyUnavailableError, describeError } from '../../errors.js';
import type { LiveStateStore } from '../../ports/live-state-store.js';
import type { EncodedMessage } from '../../ports/tick-bus.js';
import { type CommandConnectionEvent, connectCommandClient, redisArgument } from './redis-connection.js';

/** Connection events worth logging; the store itself never logs. */
export type RedisLiveStateStoreEvent = CommandConnectionEvent;

/** Tuning for {@link RedisLiveStateStore.connect}; every field has a default that suits production. */
export interface RedisLiveStateStoreOptions {
  /** How long the first connection may take before start-up fails. */
  readonly connectTimeoutMs?: number;
  /**
   * How long one command may wait for its reply before it rejects. A connection that went silent
   * without closing would otherwise hold callers (and a lease renewal) until the OS notices.
   */
  readonly commandTimeoutMs?: number;
  /**
   * Prepended to every key, so environments or test runs sharing one Redis stay apart. Empty by
   * default: the keys are then the ones other readers expect (`ticker:latest`, …).
   */
  readonly keyPrefix?: string;
  readonly onEvent?: (event: RedisLiveStateStoreEvent) => void;
}

/** The keys this store writes (before any `keyPrefix`). */
export const LiveStateKeys = {
  /** One hash: field = instrument token, value = the encoded tick. */
  latest: 'ticker:latest',
  /** One hash: field = instrument token, value = the reference price as a decimal string. */
  reference: 'ticker:reference',
  /** Where a new set of reference prices is written before it replaces the old one. */
  referenceStaging: (id: string) => `ticker:reference:next:${id}`,
  heartbeat: (name: string) => `ticker:heartbeat:${name}`,
  lease: (name: string) => `lease:${name}`,
  /** A sorted set: member → expiry (ms, Redis's clock). */
  group: (name: string) => `group:${name}`,
} as const;

/**
 * Renews a member until now + ttl on Redis's clock, drops the expired ones and returns the rest:
 * one script, so every member sees the same clock and the same cleanup.
 */
const JOIN_GROUP = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

/**
 * Takes the lease when it is free (`SET NX PX`, so Redis expires it) or extends it when the caller
 * already holds it; one script so no other owner can slip in between the two checks.
 */
const ACQUIRE_LEASE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Extends the lease only if the caller still holds it: a lapsed owner must not extend a successor's lease. */
const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Deletes the lease only if the caller holds it: a late release must not free a successor's lease. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Throws unless `ttlMs` is a positive whole number of milliseconds: Redis refuses anything else
 * (`PX`), and a caller's mistake must not look like an outage (a retryable
 * `DependencyUnavailableError`).
 */
function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive whole number of milliseconds, got ${ttlMs}`);
  }
}

/**
 * The {@link LiveStateStore} on Redis (ElastiCache in the cloud) through ioredis, on one connection.
 *
 * - Latest ticks live in one hash, `ticker:latest` (field = token): `putLatest` is a run of
 *   `HSET`s of 25 fields each, four in flight, so no write of thousands of ticks blocks Redis or this process for
 *   long, and `getLatest` one `HMGET`.
 * - Heartbeats are `SET ticker:heartbeat:<name> value PX ttl`: Redis expires them, so a crashed
 *   writer's heartbeat disappears without anyone cleaning up.
 * - Leases are `lease:<name>` holding the owner, taken with `SET NX PX`; taking, renewing and
 *   releasing are Lua scripts that compare the owner and act in one atomic step. They are sent
 *   with `EVAL` (a lease changes every few seconds, so caching by SHA saves nothing worth the
 *   `NOSCRIPT` handling a Redis restart would need).
 *
 * Fail fast: no offline queue and no per-request retries, so while Redis is away every call
 * rejects at once with `DependencyUnavailableError` (the caller owns retry policy) and a write is
 * never sent twice. ioredis reconnects on its own when the server is back.
 */
/**
 * Fields per HSET when the latest ticks are written, and HSETs in flight: small commands (some
 * 17 KB) keep large strings out of V8's old generation and off the tick's way (figures in
 * docs/decisions.md, "The latest-tick state never holds up a tick"); four in flight keep a
 * write of 9,000 ticks short when Redis is a network hop away.
 */
const LATEST_FIELDS_PER_COMMAND = 25;
const LATEST_COMMANDS_IN_FLIGHT = 4;
/**
 * Reference prices are short (a token and a number, some 20 bytes a field), so 200 fields make a
 * command of about 4 KB: 45 commands for 9,000 tokens, none of them large.
 */
const REFERENCE_FIELDS_PER_COMMAND = 200;
/**
 * A staging hash outlives the set's TTL by this much, so a write that dies half-way (the process
 * stops between two commands) leaves nothing behind for longer.
 */
const REFERENCE_STAGING_GRACE_MS = 60_000;

export class RedisLiveStateStore implements LiveStateStore {
  readonly #redis: Redis;
  #closed = false;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Connects and resolves once Redis answers. Rejects with `DependencyUnavailableError` ("Failed
   * to connect to Redis at host:port") and leaves nothing open when it cannot.
   */
  static async connect(url: string, options: RedisLiveStateStoreOptions = {}): Promise<RedisLiveStateStore> {
    const redis = await connectCommandClient(url, options);
    return new RedisLiveStateStore(redis);
  }

  async putLatest(entries: ReadonlyMap<number, EncodedMessage>): Promise<void> {
    this.#assertOpen();
    if (entries.size === 0) return;
    // Many small HSETs, a few in flight at a time, rather than one of thousands of fields: Redis
    // runs one command at a time, and building a command of hundreds of kilobytes (a string V8
    // allocates straight into the old generation) holds up this process's event loop, its
    // garbage collector and every PUBLISH behind it for milliseconds.
    const commands: (string | Buffer)[][] = [];
    let fieldValues: (string | Buffer)[] = [];
    for (const [token, encoded] of entries) {
      fieldValues.push(String(token), redisArgument(encoded));
      if (fieldValues.length === LATEST_FIELDS_PER_COMMAND * 2) {
        commands.push(fieldValues);
        fieldValues = [];
      }
    }
    if (fieldValues.length > 0) commands.push(fieldValues);
    let next = 0;
    const writer = async () => {
      for (let args = commands[next++]; args !== undefined; args = commands[next++]) {
        const fields = args;
        await this.#run('Writing the latest ticks', () => this.#redis.hset(LiveStateKeys.latest, ...fields));
      }
    };
    await Promise.all(Array.from({ length: Math.min(LATEST_COMMANDS_IN_FLIGHT, commands.length) }, writer));
  }

  async getLatest(tokens: readonly number[]): Promise<Map<number, string>> {
    this.#assertOpen();
    const found = new Map<number, string>();
    if (tokens.length === 0) return found;
    const values = await this.#run('Reading the latest ticks', () =>
      this.#redis.hmget(LiveStateKeys.latest, ...tokens.map(String)),
    );
    tokens.forEach((token, index) => {
      const encoded = values[index];
      if (encoded !== null && encoded !== undefined) found.set(token, encoded);
    });
    return found;
  }

  /**
   * Writes the set into a staging hash of its own (each chunk an `HSET` with its `PEXPIRE` in one
   * `MULTI`, so even an abandoned staging hash expires), then `RENAME`s it over the live hash and
   * sets the TTL in one `MULTI`: readers see the old set or the new one, and tokens missing from
   * the new one are gone with the old hash. An empty set deletes the live hash.
   */
  async putReferencePrices(prices: ReadonlyMap<number, number>, ttlMs: number): Promise<void> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const fields: string[] = [];
    for (const [token, price] of prices) {
      if (!Number.isFinite(price))
        throw new RangeError(`reference price of ${token} must be a finite number, got ${price}`);
      // String(number) is the shortest text that parses back to the same double.
      fields.push(String(token), String(price));
    }
    if (fields.length === 0) {
      await this.#run('Clearing the reference prices', () => this.#redis.del(LiveStateKeys.reference));
      return;
    }
    const staging = LiveStateKeys.referenceStaging(randomUUID());
    const stagingTtl = ttlMs + REFERENCE_STAGING_GRACE_MS;
    for (let at = 0; at < fields.length; at += REFERENCE_FIELDS_PER_COMMAND * 2) {
      const chunk = fields.slice(at, at + REFERENCE_FIELDS_PER_COMMAND * 2);
      await this.#exec(
        'Writing the reference prices',
        this.#redis
          .multi()
          .hset(staging, ...chunk)
          .pexpire(staging, stagingTtl),
      );
    }
    await this.#exec(
      'Replacing the reference prices',
      this.#redis.multi().rename(staging, LiveStateKeys.reference).pexpire(LiveStateKeys.reference, ttlMs),
    );
  }

  async getReferencePrices(tokens: readonly number[]): Promise<Map<number, number>> {
    this.#assertOpen();
    const found = new Map<number, number>();
    if (tokens.length === 0) return found;
    const values = await this.#run('Reading the reference prices', () =>
      this.#redis.hmget(LiveStateKeys.reference, ...tokens.map(String)),
    );
    tokens.forEach((token, index) => {
      const value = values[index];
      if (value !== null && value !== undefined) found.set(token, Number(value));
    });
    return found;
  }

  async putHeartbeat(name: string, value: string, ttlMs: number): Promise<void> {
    this.#assertOpen();
    assertTtl(ttlMs);
    await this.#run(`Writing heartbeat ${name}`, () =>
      this.#redis.set(LiveStateKeys.heartbeat(name), value, 'PX', ttlMs),
    );
  }

  async getHeartbeat(name: string): Promise<string | undefined> {
    this.#assertOpen();
    const value = await this.#run(`Reading heartbeat ${name}`, () => this.#redis.get(LiveStateKeys.heartbeat(name)));
    return value ?? undefined;
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const result = await this.#run(`Acquiring lease ${name}`, () =>
      this.#redis.eval(ACQUIRE_LEASE, 1, LiveStateKeys.lease(name), owner, ttlMs),
    );
    return result === 1;
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const result = await this.#run(`Renewing lease ${name}`, () =>
      this.#redis.eval(RENEW_LEASE, 1, LiveStateKeys.lease(name), owner, ttlMs),
    );
    return result === 1;
  }

  async joinGroup(group: string, member: string, ttlMs: number): Promise<string[]> {
    this.#assertOpen();
    assertTtl(ttlMs);
    const members = await this.#run(`Joining group ${group}`, () =>
      this.#redis.eval(JOIN_GROUP, 1, LiveStateKeys.group(group), member, ttlMs),
    );
    return (members as string[]).slice().sort();
  }

  async leaveGroup(group: string, member: string): Promise<void> {
    this.#assertOpen();
    await this.#run(`Leaving group ${group}`, () => this.#redis.zrem(LiveStateKeys.group(group), member));
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#assertOpen();
    await this.#run(`Releasing lease ${name}`, () =>
      this.#redis.eval(RELEASE_LEASE, 1, LiveStateKeys.lease(name), owner),
    );
  }

  /** Waits for replies already on their way (a last heartbeat, a release), then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#redis.status === 'ready') {
      try {
        await this.#redis.quit();
        return;
      } catch {
        // The connection broke while closing; dropping it below is all that is left to do.
      }
    }
    this.#redis.disconnect();
  }

  /** Sends a `MULTI` and fails, as `#run` does, when it or any command in it failed. */
  async #exec(action: string, transaction: ChainableCommander): Promise<void> {
    const replies = await this.#run(action, () => transaction.exec());
    const failed = replies === null ? new Error('transaction aborted') : replies.find(([error]) => error)?.[0];
    if (failed) {
      throw new DependencyUnavailableError('redis', `${action} failed: ${describeError(failed)}`, { cause: failed });
    }
  }

  async #run<T>(action: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new DependencyUnavailableError('redis', `${action} failed: ${describeError(error)}`, { cause: error });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new DependencyUnavailableError('redis', 'The Redis live-state store is closed');
  }
}

import type { Redis } from 'ioredis';
import { DependencyUnavailableError, describeError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ConnectionIndex, IndexedConnection } from '../../ports/connection-index.js';
import { normaliseTokens } from '../connection-store-input.js';
import { SystemClock } from '../system-clock.js';
import { type CommandConnectionEvent, connectCommandClient } from './redis-connection.js';

/** Tuning for {@link RedisConnectionIndex.connect}; every field has a default that suits production. */
export interface RedisConnectionIndexOptions {
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Prepended to every key, so environments or test runs sharing one Redis stay apart. */
  readonly keyPrefix?: string;
  /** Decides expiry (`expiresAt` against `now()`). Default: the system clock. */
  readonly clock?: Clock;
  readonly onEvent?: (event: CommandConnectionEvent) => void;
}

/** Ids read per pipeline when loading the whole index. */
const SNAPSHOT_CHUNK = 500;

/*
 * The scripts get the key base (`<prefix>{ws}:`) as their first argument and build the per-token
 * keys themselves: the tokens of a call are not known as KEYS up front. Every key carries the
 * `{ws}` hash tag, so on a Redis cluster they all live in one slot and the scripts stay valid.
 */

/** Whether the connection's meta hash says it is live at ARGV[3] (now, epoch seconds); leaves its expiry in `exp`. */
const LIVE = `
local base, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local meta = base .. 'conn:' .. id
local tset = meta .. ':tokens'
local exp = redis.call('HGET', meta, 'expires_at')
if not exp or tonumber(exp) <= now then return 0 end`;

/** ARGV: base, id, now, expiresAt, delivery, interval ('' for none), ttlSeconds, user, version ('' for none), tokens… */
const PUT = `
local base, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local meta = base .. 'conn:' .. id
local tset = meta .. ':tokens'
for _, t in ipairs(redis.call('SMEMBERS', tset)) do redis.call('ZREM', base .. 'token:' .. t, id) end
redis.call('DEL', tset)
redis.call('HSET', meta, 'expires_at', ARGV[4], 'delivery', ARGV[5], 'interval', ARGV[6], 'user', ARGV[8])
if ARGV[9] ~= '' then redis.call('HSET', meta, 'version', ARGV[9]) else redis.call('HDEL', meta, 'version') end
redis.call('EXPIRE', meta, ARGV[7])
for i = 10, #ARGV do
  local key = base .. 'token:' .. ARGV[i]
  redis.call('SADD', tset, ARGV[i])
  redis.call('ZADD', key, ARGV[4], id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
if #ARGV >= 10 then redis.call('EXPIRE', tset, ARGV[7]) end
local conns = base .. 'conns'
redis.call('ZADD', conns, ARGV[4], id)
redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
return 1`;

/** ARGV: base, id, now, tokens… */
const ADD_TOKENS = `${LIVE}
for i = 4, #ARGV do
  local key = base .. 'token:' .. ARGV[i]
  redis.call('SADD', tset, ARGV[i])
  redis.call('ZADD', key, exp, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
local ttl = redis.call('TTL', meta)
if ttl > 0 then redis.call('EXPIRE', tset, ttl) end
return 1`;

/** ARGV: base, id, now, tokens… */
const REMOVE_TOKENS = `${LIVE}
for i = 4, #ARGV do
  redis.call('SREM', tset, ARGV[i])
  redis.call('ZREM', base .. 'token:' .. ARGV[i], id)
end
return 1`;

/** ARGV: base, id, now, version, tokens…: the whole token list, unless the index holds a later version. */
const REPLACE_TOKENS = `${LIVE}
local held = tonumber(redis.call('HGET', meta, 'version') or '-1')
if held >= tonumber(ARGV[4]) then return 1 end
for _, t in ipairs(redis.call('SMEMBERS', tset)) do redis.call('ZREM', base .. 'token:' .. t, id) end
redis.call('DEL', tset)
redis.call('HSET', meta, 'version', ARGV[4])
for i = 5, #ARGV do
  local key = base .. 'token:' .. ARGV[i]
  redis.call('SADD', tset, ARGV[i])
  redis.call('ZADD', key, exp, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
local ttl = redis.call('TTL', meta)
if ttl > 0 and #ARGV >= 5 then redis.call('EXPIRE', tset, ttl) end
return 1`;

/** ARGV: base, id, now, delivery, interval ('' for none) */
const SET_DELIVERY = `${LIVE}
redis.call('HSET', meta, 'delivery', ARGV[4], 'interval', ARGV[5])
return 1`;

/** ARGV: base, id */
const REMOVE = `
local base, id = ARGV[1], ARGV[2]
local meta = base .. 'conn:' .. id
local tset = meta .. ':tokens'
for _, t in ipairs(redis.call('SMEMBERS', tset)) do redis.call('ZREM', base .. 'token:' .. t, id) end
redis.call('DEL', meta, tset)
redis.call('ZREM', base .. 'conns', id)
return 1`;

/**
 * The {@link ConnectionIndex} on Redis (ElastiCache in the cloud) through ioredis, on one connection.
 *
 * Layout, under `<keyPrefix>{ws}:`:
 * - `token:<token>`: a sorted set of the connections holding the token, scored by their
 *   `expiresAt`, so `connectionsFor` is one `ZRANGEBYSCORE (now +inf` that skips expired holders
 *   without anyone having cleaned them up (writes prune the entries they pass);
 * - `conn:<id>` (hash: `expires_at`, `delivery`, `interval`, `user`) and `conn:<id>:tokens` (set): one
 *   connection, for `snapshot` and to find the token sets on removal; Redis expires both at the
 *   connection's end, so a connection whose `$disconnect` never came leaves nothing for long;
 * - `conns`: a sorted set of every connection by `expiresAt`, which `snapshot` walks.
 * Every write drops the expired members of the sorted sets it touches (`conns` on every put), so
 * what a lost `$disconnect` leaves behind is cleared by later traffic; expiry is judged on the
 * index's clock, never Redis's.
 *
 * Every write is one Lua script, so a connection's keys and the token sets change together and
 * concurrent writers cannot interleave within a change. Token changes are applied to a connection
 * only while its hash says it is live: an `addTokens` that arrives after the `remove` cannot put
 * the connection back in a token's set.
 *
 * Fail fast, as the other Redis adapters: no offline queue, no per-request retries; while Redis is
 * away every call rejects at once with `DependencyUnavailableError`, and ioredis reconnects on its
 * own. Redis in the cloud is a cache without persistence: after a restart the index is empty, and
 * `addTokens`/`removeTokens`/`setDelivery` answer false for the connections it lost, which the
 * indexed connection store answers by putting them again from DynamoDB.
 */
export class RedisConnectionIndex implements ConnectionIndex {
  readonly #redis: Redis;
  readonly #base: string;
  readonly #clock: Clock;
  #closed = false;

  private constructor(redis: Redis, base: string, clock: Clock) {
    this.#redis = redis;
    this.#base = base;
    this.#clock = clock;
  }

  /**
   * Connects and resolves once Redis answers. Rejects with `DependencyUnavailableError` ("Failed
   * to connect to Redis at host:port") and leaves nothing open when it cannot.
   */
  static async connect(url: string, options: RedisConnectionIndexOptions = {}): Promise<RedisConnectionIndex> {
    // Keys carry their own prefix (`{ws}` keeps them in one cluster slot for the scripts).
    const { keyPrefix: _, ...connection } = options;
    const redis = await connectCommandClient(url, connection);
    return new RedisConnectionIndex(redis, `${options.keyPrefix ?? ''}{ws}:`, options.clock ?? new SystemClock());
  }

  async put(connection: IndexedConnection): Promise<void> {
    const now = this.#now();
    const ttl = Math.max(1, Math.ceil(connection.expiresAt - now));
    await this.#script('Indexing a connection', PUT, [
      connection.connectionId,
      String(now),
      String(connection.expiresAt),
      connection.delivery,
      connection.batchIntervalMs === null ? '' : String(connection.batchIntervalMs),
      String(ttl),
      connection.userId,
      connection.version === undefined ? '' : String(connection.version),
      ...normaliseTokens(connection.tokens).map(String),
    ]);
  }

  async replaceTokens(connectionId: string, tokens: readonly number[], version: number): Promise<boolean> {
    const result = await this.#script('Indexing tokens', REPLACE_TOKENS, [
      connectionId,
      String(this.#now()),
      String(version),
      ...normaliseTokens(tokens).map(String),
    ]);
    return result === 1;
  }

  async addTokens(connectionId: string, tokens: readonly number[]): Promise<boolean> {
    const result = await this.#script('Indexing tokens', ADD_TOKENS, [
      connectionId,
      String(this.#now()),
      ...tokens.map(String),
    ]);
    return result === 1;
  }

  async removeTokens(connectionId: string, tokens: readonly number[]): Promise<boolean> {
    const result = await this.#script('Unindexing tokens', REMOVE_TOKENS, [
      connectionId,
      String(this.#now()),
      ...tokens.map(String),
    ]);
    return result === 1;
  }

  async setDelivery(
    connectionId: string,
    delivery: 'tick' | 'batch',
    batchIntervalMs: number | null,
  ): Promise<boolean> {
    const result = await this.#script('Indexing a delivery mode', SET_DELIVERY, [
      connectionId,
      String(this.#now()),
      delivery,
      batchIntervalMs === null ? '' : String(batchIntervalMs),
    ]);
    return result === 1;
  }

  async remove(connectionId: string): Promise<void> {
    await this.#script('Unindexing a connection', REMOVE, [connectionId]);
  }

  async connectionsFor(instrumentToken: number): Promise<readonly string[]> {
    this.#assertOpen();
    const ids = await this.#run('Reading the token index', () =>
      this.#redis.zrangebyscore(`${this.#base}token:${instrumentToken}`, `(${this.#now()}`, '+inf'),
    );
    return ids.sort();
  }

  async snapshot(): Promise<readonly IndexedConnection[]> {
    this.#assertOpen();
    const now = this.#now();
    const ids = await this.#run('Reading the connection index', () =>
      this.#redis.zrangebyscore(`${this.#base}conns`, `(${now}`, '+inf'),
    );
    const found: IndexedConnection[] = [];
    for (let from = 0; from < ids.length; from += SNAPSHOT_CHUNK) {
      const chunk = ids.slice(from, from + SNAPSHOT_CHUNK);
      const pipeline = this.#redis.pipeline();
      for (const id of chunk) {
        pipeline.hgetall(`${this.#base}conn:${id}`);
        pipeline.smembers(`${this.#base}conn:${id}:tokens`);
      }
      const replies = await this.#run('Reading the connection index', () => pipeline.exec());
      chunk.forEach((connectionId, i) => {
        const [metaError, meta] = replies?.[2 * i] ?? [];
        const [tokensError, tokens] = replies?.[2 * i + 1] ?? [];
        if (metaError || tokensError) {
          throw new DependencyUnavailableError('redis', `Reading connection ${connectionId} failed`, {
            cause: metaError ?? tokensError,
          });
        }
        const fields = meta as Record<string, string> | null;
        const expiresAt = Number(fields?.expires_at);
        // Removed (or expired by Redis) between the two reads, or not live any more.
        if (!fields || !(expiresAt > now)) return;
        found.push({
          connectionId,
          userId: fields.user ?? '',
          tokens: normaliseTokens((tokens as string[]).map(Number)),
          delivery: fields.delivery === 'batch' ? 'batch' : 'tick',
          batchIntervalMs: fields.interval ? Number(fields.interval) : null,
          expiresAt,
          ...(fields.version !== undefined && { version: Number(fields.version) }),
        });
      });
    }
    return found;
  }

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

  /** Now in epoch seconds, fractional: a connection is live while its `expiresAt` is after it. */
  #now(): number {
    return this.#clock.now() / 1000;
  }

  #script(action: string, script: string, args: readonly string[]): Promise<unknown> {
    this.#assertOpen();
    return this.#run(action, () => this.#redis.eval(script, 0, this.#base, ...args));
  }

  async #run<T>(action: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new DependencyUnavailableError('redis', `${action} failed: ${describeError(error)}`, { cause: error });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new DependencyUnavailableError('redis', 'The Redis connection index is closed');
  }
}

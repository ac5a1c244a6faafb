import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { DependencyUnavailableError } from '../../errors.js';
import type { RateBudget } from '../../ports/rate-budget.js';
import { FlexibleRateBudget, type FlexibleRateBudgetOptions } from '../flexible-rate-budget.js';
import { type CommandConnectionEvent, connectCommandClient } from './redis-connection.js';

/**
 * The library's increment script with the expiry in milliseconds (`PX`) rather than whole seconds:
 * its own script sets `EX` with the duration floored to seconds, and a ring permit is held
 * 1.25 s. ARGV: points to add, duration in whole seconds, the limiter's points, its duration in
 * (fractional) seconds. One script, so the first consume of a key sets its expiry atomically.
 */
const INCR_WITH_PX = `
local ms = math.floor(tonumber(ARGV[4]) * 1000)
redis.call('set', KEYS[1], 0, 'PX', ms, 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('pexpire', KEYS[1], ms)
  ttl = ms
end
return {consumed, ttl}`;

/** Tuning for {@link RedisRateBudget.connect}. */
export interface RedisRateBudgetOptions extends FlexibleRateBudgetOptions {
  readonly connectTimeoutMs?: number;
  /**
   * How long one Redis command may take before the take rejects. Short: a caller waiting on a
   * silent Redis holds an order, and failing lets the worker put the order back.
   */
  readonly commandTimeoutMs?: number;
  readonly onEvent?: (event: CommandConnectionEvent) => void;
}

/**
 * The {@link RateBudget} every process on one Redis shares (docs/architecture.md: Kite's limits are per
 * account and api key, and five order-worker Lambdas must not send 50 orders a second on one
 * account): `rate-limiter-flexible`'s atomic Redis counters on a fail-fast connection, so while
 * Redis is away every take rejects at once and nothing is sent unbudgeted.
 */
export class RedisRateBudget extends FlexibleRateBudget {
  private constructor(redis: Redis, options: FlexibleRateBudgetOptions) {
    super(
      options,
      ({ keyPrefix, points, durationSec }) =>
        new RateLimiterRedis({
          storeClient: redis,
          keyPrefix,
          points,
          duration: durationSec,
          customIncrTtlLuaScript: INCR_WITH_PX,
        }),
      async () => {
        redis.disconnect();
      },
    );
  }

  /** Connects to `url`; rejects with `DependencyUnavailableError` when Redis does not answer. */
  static async connect(url: string, options: RedisRateBudgetOptions): Promise<RedisRateBudget> {
    const redis = await connectCommandClient(url, {
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      commandTimeoutMs: options.commandTimeoutMs ?? 1000,
      ...(options.onEvent && { onEvent: options.onEvent }),
    });
    return new RedisRateBudget(redis, options);
  }
}

/**
 * A {@link RedisRateBudget} that connects on its first take (a Lambda that never calls Kite opens
 * no connection) and tries again on the next take after a failed connect.
 */
export function lazyRedisRateBudget(url: string, options: RedisRateBudgetOptions): RateBudget {
  let budget: Promise<RedisRateBudget> | undefined;
  let closed = false;
  return {
    async take(name, key) {
      if (closed) throw new DependencyUnavailableError('rate-budget', 'The rate budget is closed');
      // A failed connect is forgotten, so the next take tries again.
      budget ??= RedisRateBudget.connect(url, options).catch((error: unknown) => {
        budget = undefined;
        throw error;
      });
      return (await budget).take(name, key);
    },
    async close() {
      closed = true;
      const open = budget;
      budget = undefined;
      await (await open?.catch(() => undefined))?.close();
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DependencyUnavailableError, describeError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { RateBudget, RateWindow } from '../../ports/rate-budget.js';
import { type CompiledWindow, compileBudgets, retentionMs } from '../sliding-window.js';
import { type CommandConnectionEvent, connectCommandClient } from './redis-connection.js';

/**
 * One take, atomically: the rule of `decideTake` (shared/adapters/sliding-window.ts) on a sorted
 * set of permit times. KEYS[1] the budget and key's set. ARGV: now in ms ('' = the server's TIME,
 * one clock for every holder), a unique member suffix, the set's retention in ms, the number of
 * windows, then per window its kind ('s' sliding, 'c' calendar), limit and two numbers (sliding:
 * hold ms, 0; calendar: period ms, offset ms). Returns 0 and records the permit, or the wait in ms.
 */
const TAKE = `
local now
if ARGV[1] == '' then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local n = tonumber(ARGV[4])
local froms = {}
local retain = now
for i = 1, n do
  local b = 5 + (i - 1) * 4
  local from
  if ARGV[b] == 's' then
    from = now - tonumber(ARGV[b + 2]) + 1
  else
    local shifted = now + tonumber(ARGV[b + 3])
    from = shifted - (shifted % tonumber(ARGV[b + 2])) - tonumber(ARGV[b + 3])
  end
  froms[i] = from
  if from < retain then retain = from end
end
redis.call('zremrangebyscore', KEYS[1], '-inf', '(' .. retain)
local wait = 0
for i = 1, n do
  local b = 5 + (i - 1) * 4
  local limit = tonumber(ARGV[b + 1])
  local count = redis.call('zcount', KEYS[1], froms[i], '+inf')
  if count >= limit then
    local frees
    if ARGV[b] == 's' then
      local oldest = redis.call('zrangebyscore', KEYS[1], froms[i], '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
      frees = tonumber(oldest[2]) + tonumber(ARGV[b + 2])
    else
      frees = froms[i] + tonumber(ARGV[b + 2])
    end
    local w = math.max(frees - now, 1)
    if w > wait then wait = w end
  end
end
if wait == 0 then
  redis.call('zadd', KEYS[1], now, now .. ':' .. ARGV[2])
  local retention = tonumber(ARGV[3])
  if redis.call('pttl', KEYS[1]) < retention then redis.call('pexpire', KEYS[1], retention) end
end
return wait`;

/** A command client with {@link TAKE} defined (sent by EVALSHA, the body only once). */
type BudgetClient = Redis & {
  budgetTake(key: string, ...args: (string | number)[]): Promise<number>;
};

/** Tuning for {@link RedisRateBudget.connect}. */
export interface RedisRateBudgetOptions {
  /** The budgets by name (Kite's: orders, historical, quote, other). */
  readonly budgets: Readonly<Record<string, readonly RateWindow[]>>;
  /** Prepended to every key, so environments (or tests) sharing one Redis stay apart. */
  readonly keyPrefix?: string;
  /**
   * The time permits are counted on. Default Redis's own clock (`TIME` in the script), so holders
   * whose clocks disagree still count on one: tests pass a controllable clock.
   */
  readonly clock?: Pick<Clock, 'now'>;
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
 * account): each budget and key is a sorted set of permit times, decided and recorded by one Lua
 * script, exact in every sliding window, on a fail-fast connection, so while Redis is away every
 * take rejects at once and nothing is sent unbudgeted.
 */
export class RedisRateBudget implements RateBudget {
  readonly #redis: BudgetClient;
  readonly #budgets: ReadonlyMap<string, { readonly args: readonly (string | number)[] }>;
  readonly #clock: Pick<Clock, 'now'> | undefined;
  readonly #prefix: string;
  #closed = false;

  private constructor(redis: Redis, options: RedisRateBudgetOptions) {
    redis.defineCommand('budgetTake', { numberOfKeys: 1, lua: TAKE });
    this.#redis = redis as BudgetClient;
    this.#clock = options.clock;
    this.#prefix = options.keyPrefix ?? 'budget';
    this.#budgets = new Map(
      [...compileBudgets(options.budgets)].map(([name, windows]) => [name, { args: scriptArgs(windows) }] as const),
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

  async take(budget: string, key: string): Promise<number> {
    if (this.#closed) throw new DependencyUnavailableError('rate-budget', 'The rate budget is closed');
    const compiled = this.#budgets.get(budget);
    if (!compiled) throw new RangeError(`Unknown rate budget ${budget}`);
    const now = this.#clock === undefined ? '' : String(this.#clock.now());
    try {
      const wait = await this.#redis.budgetTake(
        `${this.#prefix}:${budget}:${key}`,
        now,
        randomBytes(6).toString('base64url'),
        ...compiled.args,
      );
      return Number(wait);
    } catch (error) {
      throw new DependencyUnavailableError('rate-budget', `Rate budget store failed: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
  }
}

/** The script's arguments after the member suffix: retention, window count, then each window. */
function scriptArgs(windows: readonly CompiledWindow[]): (string | number)[] {
  return [
    retentionMs(windows),
    windows.length,
    ...windows.flatMap((w) =>
      w.kind === 'sliding' ? ['s', w.limit, w.holdMs, 0] : ['c', w.limit, w.perMs, w.offsetMs],
    ),
  ];
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

import { Redis } from 'ioredis';
import { DependencyUnavailableError, describeError } from '../../errors.js';

/**
 * A message as ioredis sends it: a string as it is, bytes as a `Buffer` over the same memory (ioredis
 * sends a Buffer's bytes unchanged, copied into its command; any other view it would turn into the
 * text `"1,2,…"`).
 */
export function redisArgument(message: string | Uint8Array): string | Buffer {
  if (typeof message === 'string' || Buffer.isBuffer(message)) return message;
  return Buffer.from(message.buffer, message.byteOffset, message.byteLength);
}

/**
 * What the Redis adapters share about their connections: how fast they reconnect and how they
 * name the server in messages.
 */

/** The longest wait between two reconnect attempts: a restarted Redis is in use again within this. */
export const MAX_RECONNECT_DELAY_MS = 1100;

/** Reconnect quickly (100 ms, 200 ms, … capped at 1 s, with jitter): a restarted Redis is back within a second. */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS - 100) + Math.floor(Math.random() * 100);
}

/** `host:port` of a Redis URL, for messages: the password in the URL must not leak. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}

/** Connection events a command connection reports; the adapters never log. */
export interface CommandConnectionEvent {
  readonly kind: 'ready' | 'error' | 'reconnecting' | 'end';
  readonly error?: unknown;
}

/** How {@link connectCommandClient} connects. */
export interface CommandConnectionOptions {
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Prepended to every key, so environments or test runs sharing one Redis stay apart. */
  readonly keyPrefix?: string;
  readonly onEvent?: (event: CommandConnectionEvent) => void;
}

/**
 * A fail-fast command connection, as the live-state store and the connection index use: no
 * offline queue and no per-request retries (while Redis is away every call rejects at once, and
 * the caller owns retry policy), auto-pipelining, quick reconnects. Resolves once Redis answers;
 * rejects with `DependencyUnavailableError` ("Failed to connect to Redis at host:port") and leaves
 * nothing open when it cannot.
 */
export async function connectCommandClient(url: string, options: CommandConnectionOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    retryStrategy: reconnectDelay,
    enableReadyCheck: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Calls made in one event-loop turn share one write.
    enableAutoPipelining: true,
    ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
  });
  const emit = options.onEvent;
  // An 'error' listener is required: without one ioredis' EventEmitter would crash the process.
  redis.on('error', (error: unknown) => emit?.({ kind: 'error', error }));
  redis.on('ready', () => emit?.({ kind: 'ready' }));
  redis.on('reconnecting', () => emit?.({ kind: 'reconnecting' }));
  redis.on('end', () => emit?.({ kind: 'end' }));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new DependencyUnavailableError(
      'redis',
      `Failed to connect to Redis at ${describeTarget(url)}: ${describeError(error)}`,
      { cause: error },
    );
  }
  return redis;
}

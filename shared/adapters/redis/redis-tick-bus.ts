import { Redis, type RedisOptions } from 'ioredis';
import { DependencyUnavailableError, describeConnectionFailure, describeError } from '../../errors.js';
import type { BusMessageHandler, BusSubscription, EncodedMessage, TickBus } from '../../ports/tick-bus.js';
import { describeTarget, reconnectDelay, redisArgument } from './redis-connection.js';

/** Connection events worth logging; the bus itself never logs. */
export interface RedisBusEvent {
  readonly kind: 'ready' | 'error' | 'reconnecting' | 'end';
  readonly connection: 'publisher' | 'subscriber';
  readonly error?: unknown;
}

export interface RedisTickBusOptions {
  /** How long the first connection may take before start-up fails. */
  readonly connectTimeoutMs?: number;
  readonly onHandlerError?: (error: unknown, channel: string) => void;
  readonly onEvent?: (event: RedisBusEvent) => void;
  /**
   * Whether publishes issued in one event-loop turn go out in one write (ioredis auto-pipelining;
   * default on). It copies every byte of them once more into one Buffer; a publisher that batches
   * by itself and publishes bytes, as the ingest task does, turns it off: each copy is an
   * ArrayBuffer that V8 counts as external memory, and at high rates the copies force full
   * collections (figures in docs/decisions.md, "Ticks are written as bytes").
   */
  readonly autoPipelining?: boolean;
}

interface Topic {
  readonly handlers: Set<BusMessageHandler>;
  /** Settles when the server has confirmed the (P)SUBSCRIBE. */
  readonly ready: Promise<unknown>;
}

/**
 * The {@link TickBus} on Redis pub/sub (ElastiCache in the cloud) through ioredis. One connection
 * publishes, a second one (opened on the first subscription) receives, since a Redis connection in
 * subscribe mode cannot publish. Each channel or pattern is subscribed on the server once however
 * many handlers listen, and the handlers are kept here.
 *
 * Fail-fast publishing: the publisher has no offline queue and no per-request retries, so while
 * Redis is away `publish` rejects at once (the caller owns retry and drop policy) and a publish is
 * never sent twice. ioredis reconnects both connections and re-issues every subscription
 * (`autoResubscribe`) when the server is back.
 */
export class RedisTickBus implements TickBus {
  readonly #url: string;
  readonly #publisher: Redis;
  readonly #options: RedisTickBusOptions;
  #subscriber: Redis | undefined;
  readonly #channels = new Map<string, Topic>();
  readonly #patterns = new Map<string, Topic>();
  #closed = false;

  private constructor(url: string, publisher: Redis, options: RedisTickBusOptions) {
    this.#url = url;
    this.#publisher = publisher;
    this.#options = options;
  }

  /**
   * Connects the publisher and resolves once Redis answers. Rejects with
   * `DependencyUnavailableError` ("Failed to connect to Redis at host:port") and leaves nothing
   * open when it cannot.
   */
  static async connect(url: string, options: RedisTickBusOptions = {}): Promise<RedisTickBus> {
    const publisher = new Redis(url, {
      ...RedisTickBus.#baseOptions(options),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: options.autoPipelining ?? true,
    });
    const bus = new RedisTickBus(url, publisher, options);
    bus.#watch(publisher, 'publisher');
    // ioredis rejects `connect` with "Connection is closed"; the socket's own error (a refused
    // connection, a name that does not resolve) arrives as an event, and is what an operator needs.
    let socketError: unknown;
    const remember = (error: unknown) => {
      socketError ??= error;
    };
    publisher.on('error', remember);
    try {
      await publisher.connect();
      await publisher.ping();
    } catch (error) {
      publisher.disconnect();
      throw new DependencyUnavailableError(
        'redis',
        `Failed to connect to Redis at ${describeTarget(url)}: ${describeConnectionFailure(socketError ?? error)}`,
        { cause: socketError ?? error },
      );
    } finally {
      publisher.off('error', remember);
    }
    return bus;
  }

  static #baseOptions(options: RedisTickBusOptions): RedisOptions {
    return {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      retryStrategy: reconnectDelay,
      enableReadyCheck: true,
    };
  }

  async publish(channel: string, message: EncodedMessage): Promise<number> {
    try {
      return await this.#publisher.publish(channel, redisArgument(message));
    } catch (error) {
      throw new DependencyUnavailableError('redis', `Publish to ${channel} failed: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  subscribe(channel: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.#add(this.#channels, channel, handler, false);
  }

  psubscribe(pattern: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.#add(this.#patterns, pattern, handler, true);
  }

  async check(): Promise<void> {
    try {
      await this.#publisher.ping();
    } catch (error) {
      throw new DependencyUnavailableError('redis', `Redis is unreachable: ${describeError(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    this.#patterns.clear();
    this.#publisher.disconnect();
    this.#subscriber?.disconnect();
  }

  async #add(
    topics: Map<string, Topic>,
    name: string,
    handler: BusMessageHandler,
    pattern: boolean,
  ): Promise<BusSubscription> {
    if (this.#closed) throw new DependencyUnavailableError('redis', 'The Redis bus is closed');
    let topic = topics.get(name);
    if (!topic) {
      const subscriber = this.#subscriberConnection();
      topic = {
        handlers: new Set(),
        ready: pattern ? subscriber.psubscribe(name) : subscriber.subscribe(name),
      };
      topics.set(name, topic);
    }
    topic.handlers.add(handler);
    try {
      await topic.ready;
    } catch (error) {
      topic.handlers.delete(handler);
      if (topic.handlers.size === 0 && topics.get(name) === topic) topics.delete(name);
      throw new DependencyUnavailableError('redis', `Subscribe to ${name} failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    const current = topic;
    return {
      unsubscribe: async () => {
        current.handlers.delete(handler);
        if (current.handlers.size > 0 || topics.get(name) !== current) return;
        topics.delete(name);
        const subscriber = this.#subscriber;
        if (!subscriber || this.#closed) return;
        await (pattern ? subscriber.punsubscribe(name) : subscriber.unsubscribe(name)).catch(() => {
          // Not subscribed any more once the connection is gone; nothing to undo.
        });
      },
    };
  }

  #subscriberConnection(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = new Redis(this.#url, {
      ...RedisTickBus.#baseOptions(this.#options),
      lazyConnect: false,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
    });
    this.#watch(subscriber, 'subscriber');
    subscriber.on('message', (channel: string, message: string) => {
      this.#dispatch(this.#channels.get(channel), channel, message);
    });
    subscriber.on('pmessage', (pattern: string, channel: string, message: string) => {
      this.#dispatch(this.#patterns.get(pattern), channel, message);
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  #dispatch(topic: Topic | undefined, channel: string, message: string): void {
    if (!topic) return;
    for (const handler of topic.handlers) {
      try {
        handler(channel, message);
      } catch (error) {
        this.#options.onHandlerError?.(error, channel);
      }
    }
  }

  #watch(connection: Redis, name: RedisBusEvent['connection']): void {
    const emit = this.#options.onEvent;
    // An 'error' listener is required: without one ioredis' EventEmitter would crash the process.
    connection.on('error', (error: unknown) => emit?.({ kind: 'error', connection: name, error }));
    connection.on('ready', () => emit?.({ kind: 'ready', connection: name }));
    connection.on('reconnecting', () => emit?.({ kind: 'reconnecting', connection: name }));
    connection.on('end', () => emit?.({ kind: 'end', connection: name }));
  }
}

/**
 * An encoded message: JSON text, as a string or as its UTF-8 bytes. The ingest path writes ticks
 * as bytes, since they leave the process as bytes (a string would be measured and converted on
 * the way out); other producers publish strings. Subscribers always receive text.
 */
export type EncodedMessage = string | Uint8Array;

const utf8Decoder = new TextDecoder();

/** The text of an encoded message. */
export function messageText(message: EncodedMessage): string {
  return typeof message === 'string' ? message : utf8Decoder.decode(message);
}

/**
 * Called for every message on a subscribed channel. `channel` is the concrete channel the message
 * was published on (also for pattern subscriptions); `message` is the text of the encoded payload
 * as published (bytes arrive as their UTF-8 text), so a consumer can forward it without parsing
 * and encoding it again.
 */
export type BusMessageHandler = (channel: string, message: string) => void;

/** A live subscription; `unsubscribe` stops delivery to this handler only. */
export interface BusSubscription {
  unsubscribe(): Promise<void>;
}

/**
 * Publish/subscribe for ticks and control messages between the ingest task, the fan-out and the
 * API (Centrifugo's broker, reduced to what we need).
 *
 * Guarantees, the same for every adapter (one contract suite checks them):
 * - **At most once.** A message reaches the subscriptions that exist when it is published, once
 *   each; nothing is stored. Messages published while a subscriber is cut off are lost to it.
 * - **Per-channel order.** Messages one publisher sends on one channel arrive in that order.
 * - **Delivery is asynchronous.** `publish` never calls a handler before it returns, so a handler
 *   may publish without re-entering the publisher.
 * - **Patterns are Redis globs** (`*`, `?`, `[abc]`, `[^a]`, `\\` escapes), matched against the
 *   whole channel name; `ticker:*` matches `ticker:nifty:options`.
 * - **Handlers are isolated.** A handler that throws is reported through `onHandlerError` and
 *   delivery to it and to every other handler goes on.
 * - **Subscriptions survive reconnects.** After the server comes back, every subscription is
 *   restored without the caller doing anything.
 * - **Publishing fails fast.** While the bus cannot reach its server, `publish` rejects with a
 *   `DependencyUnavailableError` instead of queueing without bound; the caller decides whether to
 *   retry or drop (the ingest publisher keeps the latest value per token).
 */
export interface TickBus {
  /**
   * Resolves with how many subscriptions received the message (for Redis, the clients subscribed
   * to the channel or to a matching pattern): 0 means nobody was listening, and the message is gone.
   */
  publish(channel: string, message: EncodedMessage): Promise<number>;
  subscribe(channel: string, handler: BusMessageHandler): Promise<BusSubscription>;
  /** Subscribes to every channel whose name matches the glob `pattern`. */
  psubscribe(pattern: string, handler: BusMessageHandler): Promise<BusSubscription>;
  /** Resolves when the bus can publish and receive; rejects with `DependencyUnavailableError` otherwise. */
  check(): Promise<void>;
  /** Ends every subscription and releases connections; the bus cannot be used afterwards. */
  close(): Promise<void>;
}

const ORDER_CHANNEL_PREFIX = 'orders:';

/**
 * What the ingest task publishes on {@link Channels.reconciled} after each reconcile that
 * completed: when it read the store (`started_at_ms`, so any change written before then is in
 * it), when the streams matched (`ended_at_ms`), and what changed.
 */
export interface ReconcileNotice {
  readonly started_at_ms: number;
  readonly ended_at_ms: number;
  readonly added: number;
  readonly removed: number;
  /** Tokens moved to the account their subscription names. */
  readonly moved?: number;
  readonly failed: number;
  /** Tokens wanted after the reconcile, the underlying indices included. */
  readonly active: number;
}

/**
 * What the REST API publishes on {@link Channels.control} after a subscription change: a bare
 * "reconcile now". The reconciler reads every active subscription from the store whatever it
 * hears, so the message carries nothing else.
 */
export const RECONCILE_NOW = 'reconcile';

/** Channel names the platform uses (docs/test-plan-index.md, "Bus channels": consumers `psubscribe ticker:*`). */
export const Channels = {
  options: (underlying: string) => `ticker:${underlying.toLowerCase()}:options`,
  underlying: (underlying: string) => `ticker:${underlying.toLowerCase()}:underlying`,
  /** Every tick channel, for the fan-out. */
  allTicks: 'ticker:*',
  /** Subscription changes: the REST API publishes {@link RECONCILE_NOW} here, the ingest task reconciles. */
  control: 'control:subscriptions',
  /**
   * The ingest task announces every completed reconcile here (a {@link ReconcileNotice}): the
   * moment a subscription change has taken effect on the streams, for callers, the dashboard and
   * operators who would otherwise have to guess how long the reconciler's gap was.
   */
  reconciled: 'control:reconciled',
  /** Connection changes: the ws functions publish here, the fan-out updates its index. */
  connections: 'control:connections',
  /**
   * Updates of one owner's orders (`owner` as the order task records it), for the fan-out. A
   * prefix of its own: `ticker:*` and `control:*` never match it, whatever the owner is.
   */
  orders: (owner: string) => `${ORDER_CHANNEL_PREFIX}${owner}`,
  /** Every order channel, for the fan-out (each shard delivers to the connections it serves). */
  allOrders: `${ORDER_CHANNEL_PREFIX}*`,
} as const;

/** The owner an order channel is for; `undefined` for any other channel. */
export function ownerOfOrderChannel(channel: string): string | undefined {
  return channel.startsWith(ORDER_CHANNEL_PREFIX) ? channel.slice(ORDER_CHANNEL_PREFIX.length) : undefined;
}

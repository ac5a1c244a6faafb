import { OrderMessage } from '../../shared/contracts/websocket.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConnectionGateway } from '../../shared/ports/connection-gateway.js';
import { Channels, ownerOfOrderChannel, type TickBus } from '../../shared/ports/tick-bus.js';
import type { Service } from '../supervisor.js';
import { jsonArrayElements } from './json-elements.js';

/**
 * The fan-out: ticks from the bus to every WebSocket client subscribed to their token, and to no
 * one else. Written by hand because no library does this shape of work: API Gateway has no
 * broadcast, so each delivery is one PostToConnection; the work is keeping that cheap and fair.
 *
 * - **Encode once, write many.** Each tick is serialised once into its `{"type":"tick",…}` frame
 *   and that same string goes to every subscriber.
 * - **Per-connection queues, bounded.** Each connection has its own queue and at most one post in
 *   flight (so its ticks stay in order). A slow or throttled client only fills its own queue;
 *   past `maxQueue` its oldest ticks are dropped and counted, and nobody else waits for it.
 * - **Batch mode.** A connection may ask for `batch` delivery: the latest tick per token is kept
 *   and flushed as one `{"type":"ticks","data":[…]}` message per interval, which is what makes
 *   thousands of clients fit the account's PostToConnection quota.
 * - **Gone means gone.** A 410 removes the connection at once (and tells `onGone`, which cleans
 *   the registry); a throttled post pauses that connection for a moment.
 * - **Order updates go to their owner only.** Each connection may carry the principal id of its
 *   user (the owner id orders are recorded under); an update on `orders:<owner>` is encoded once,
 *   every field the publisher sent kept, and queued for that owner's connections here and nobody
 *   else's, in either delivery mode (never batched). Shards each hold only their own connections,
 *   so every shard hears every update and delivers to its own. When a slow client's queue
 *   overflows, its ticks are dropped before its order updates.
 */

/** How a connection wants its ticks. */
export type Delivery = { readonly mode: 'tick' } | { readonly mode: 'batch'; readonly intervalMs: number };

export interface FanoutOptions {
  readonly bus: TickBus;
  readonly gateway: ConnectionGateway;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Ticks one connection may have waiting before its oldest are dropped. Default 1000. */
  readonly maxQueue?: number;
  /** Posts in flight across all connections. Default 256. */
  readonly maxInFlight?: number;
  /** How long a throttled connection is left alone. Default 250 ms. */
  readonly throttlePauseMs?: number;
  /** Called when a post finds the connection gone (HTTP 410). */
  readonly onGone?: (connectionId: string) => void;
}

/** Counters; they only grow. */
export interface FanoutCounters {
  messagesIn: number;
  ticksIn: number;
  /** Order updates heard on the order channels (delivered or not: their owner may be served elsewhere). */
  orderUpdatesIn: number;
  malformed: number;
  /** Ticks handed to a connection's queue (one per subscriber). */
  deliveries: number;
  posts: number;
  /** Ticks dropped from the queue of a client that could not keep up. */
  dropped: number;
  gone: number;
  throttled: number;
  postErrors: number;
}

/** The latest tick of one token, shared by all its subscribers in batch mode. */
interface LatestTick {
  data: string;
  /** Its size in UTF-8, for splitting batch messages. */
  bytes: number;
  /** When it arrived, on the fan-out's tick counter (0: nothing yet). */
  version: number;
}

/** Who gets one token's ticks, by delivery mode, and its latest tick. */
interface TokenIndex {
  readonly tick: Set<Connection>;
  readonly batch: Set<Connection>;
  readonly latest: LatestTick;
}

/** One token of one connection: its index, and the tick counter when it was subscribed. */
interface Subscription {
  readonly index: TokenIndex;
  readonly since: number;
}

interface Connection {
  readonly id: string;
  /** The principal id of the connection's user (what orders are owned by); unknown until set. */
  owner?: string;
  readonly tokens: Map<number, Subscription>;
  delivery: Delivery;
  /** Frames waiting (tick mode, and everything after a batch is flushed). */
  queue: string[];
  /** The tick counter at the last batch flush: ticks newer than this are in the next batch. */
  flushed: number;
  posting: boolean;
  pausedUntil: number;
  cancelFlush?: () => void;
  closed: boolean;
}

/** How every order frame the fan-out writes starts. */
const ORDER_FRAME_START = '{"type":"order"';
/** How tick frames (`tick` and `ticks`) start: a full queue drops these, never orders or confirmations. */
const TICK_FRAME_START = '{"type":"tick';

/** Largest message API Gateway accepts (128 KB); batch messages are split below it. */
const MAX_MESSAGE_BYTES = 128 * 1024 - 64;

/** Every counter at zero: a new fan-out's. */
export function zeroFanoutCounters(): FanoutCounters {
  return {
    messagesIn: 0,
    ticksIn: 0,
    orderUpdatesIn: 0,
    malformed: 0,
    deliveries: 0,
    posts: 0,
    dropped: 0,
    gone: 0,
    throttled: 0,
    postErrors: 0,
  };
}

export class Fanout implements Service {
  readonly name = 'fanout';
  readonly counters: FanoutCounters = zeroFanoutCounters();
  readonly #options: FanoutOptions;
  readonly #maxQueue: number;
  readonly #maxInFlight: number;
  readonly #connections = new Map<string, Connection>();
  readonly #tokens = new Map<number, TokenIndex>();
  /** Connections by the owner id of their user, for order updates. */
  readonly #owners = new Map<string, Set<Connection>>();
  /** Counts option ticks with a batch subscriber; orders them against subscriptions and flushes. */
  #version = 0;
  /** Connections with something to send, waiting for a post slot. */
  readonly #ready = new Set<Connection>();
  #inFlight = 0;

  constructor(options: FanoutOptions) {
    this.#options = options;
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#maxInFlight = options.maxInFlight ?? 256;
  }

  /** Connections known to this instance. */
  get connections(): number {
    return this.#connections.size;
  }

  /** The ids of the connections known to this instance. */
  connectionIds(): string[] {
    return [...this.#connections.keys()];
  }

  /**
   * Registers a connection (idempotent); it receives no ticks until it subscribes. With `owner`
   * (the principal id of its user, `ownerIdOfSubject(sub)`) it receives that owner's order
   * updates; a connection registered without one gets its owner from a later call.
   */
  addConnection(connectionId: string, delivery: Delivery = { mode: 'tick' }, owner?: string): void {
    const known = this.#connections.get(connectionId);
    if (known) {
      if (owner !== undefined && known.owner === undefined) this.#own(known, owner);
      return;
    }
    const connection: Connection = {
      id: connectionId,
      tokens: new Map(),
      delivery: { mode: 'tick' },
      queue: [],
      flushed: 0,
      posting: false,
      pausedUntil: 0,
      closed: false,
    };
    this.#connections.set(connectionId, connection);
    if (owner !== undefined) this.#own(connection, owner);
    if (delivery.mode === 'batch') this.setDelivery(connectionId, delivery);
  }

  #own(connection: Connection, owner: string): void {
    connection.owner = owner;
    let connections = this.#owners.get(owner);
    if (!connections) {
      connections = new Set();
      this.#owners.set(owner, connections);
    }
    connections.add(connection);
  }

  /** Forgets a connection and everything queued for it. */
  removeConnection(connectionId: string): void {
    const connection = this.#connections.get(connectionId);
    if (!connection) return;
    connection.closed = true;
    connection.cancelFlush?.();
    for (const token of connection.tokens.keys()) this.#unindex(token, connection);
    if (connection.owner !== undefined) {
      const owned = this.#owners.get(connection.owner);
      if (owned?.delete(connection) && owned.size === 0) this.#owners.delete(connection.owner);
    }
    this.#connections.delete(connectionId);
    this.#ready.delete(connection);
  }

  /** Adds tokens to a connection's subscriptions; returns its full token list. */
  subscribe(connectionId: string, tokens: readonly number[]): number[] {
    const connection = this.#connections.get(connectionId);
    if (!connection) return [];
    for (const token of tokens) {
      if (connection.tokens.has(token)) continue;
      let index = this.#tokens.get(token);
      if (!index) {
        index = { tick: new Set(), batch: new Set(), latest: { data: '', bytes: 0, version: 0 } };
        this.#tokens.set(token, index);
      }
      connection.tokens.set(token, { index, since: this.#version });
      (connection.delivery.mode === 'batch' ? index.batch : index.tick).add(connection);
    }
    return [...connection.tokens.keys()];
  }

  /** Removes tokens from a connection's subscriptions; nothing more of them is delivered. */
  unsubscribe(connectionId: string, tokens: readonly number[]): number[] {
    const connection = this.#connections.get(connectionId);
    if (!connection) return [];
    for (const token of tokens) {
      if (!connection.tokens.has(token)) continue;
      this.#unindex(token, connection);
    }
    return [...connection.tokens.keys()];
  }

  /**
   * Queues ticks (encoded `TickPayload`s) for one connection only: the latest known values a client
   * gets the moment it subscribes, ahead of the live ticks that follow.
   */
  deliverTo(connectionId: string, ticks: readonly string[]): void {
    const connection = this.#connections.get(connectionId);
    if (!connection || ticks.length === 0) return;
    this.counters.deliveries += ticks.length;
    if (connection.delivery.mode === 'batch') {
      // A batch connection gets them as it gets everything else: `ticks` messages.
      const batch = this.#ticksMessages(connection);
      for (const data of ticks) batch.add(data, Buffer.byteLength(data));
      batch.end();
    } else {
      for (const data of ticks) connection.queue.push(`{"type":"tick","data":${data}}`);
    }
    this.#markReady(connection);
  }

  /**
   * Queues one frame that is not a tick (a `subscribed` confirmation) for a connection, behind
   * what is already queued for it; a full queue drops ticks before it.
   */
  send(connectionId: string, frame: string): void {
    const connection = this.#connections.get(connectionId);
    if (connection) this.#enqueue(connection, frame);
  }

  /** The tokens some connection of this instance subscribes to: the demand it serves. */
  tokens(): number[] {
    return [...this.#tokens.keys()];
  }

  /**
   * Switches a connection between per-tick and batched delivery. Leaving batch mode flushes what
   * the batch held, so nothing is lost in the switch; entering it starts from the next tick.
   */
  setDelivery(connectionId: string, delivery: Delivery): void {
    const connection = this.#connections.get(connectionId);
    if (!connection) return;
    connection.cancelFlush?.();
    delete connection.cancelFlush;
    const wasBatch = connection.delivery.mode === 'batch';
    if (wasBatch && delivery.mode !== 'batch') this.#flushBatch(connection);
    connection.delivery = delivery;
    if (delivery.mode === 'batch') {
      if (!wasBatch) connection.flushed = this.#version;
      this.#scheduleFlush(connection, delivery.intervalMs);
    }
    if (wasBatch !== (delivery.mode === 'batch')) {
      for (const { index } of connection.tokens.values()) {
        (wasBatch ? index.batch : index.tick).delete(connection);
        (wasBatch ? index.tick : index.batch).add(connection);
        if (index.batch.size === 0) index.latest.data = '';
      }
    }
  }

  /** Delivers one bus message (a tick object or an array of them). Malformed ones are counted, logged and skipped. */
  readonly deliver = (channel: string, message: string): void => {
    this.counters.messagesIn++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      this.counters.malformed++;
      this.#options.logger.warn('Malformed bus message skipped', { sample: message.slice(0, 200) });
      return;
    }
    const ticks = Array.isArray(parsed) ? parsed : [parsed];
    // Each tick goes on as the text the ingest task wrote, not decoded and encoded again.
    const texts = Array.isArray(parsed) ? jsonArrayElements(message) : [message.trim()];
    const same = texts !== undefined && texts.length === ticks.length;
    // Underlying bars go out as `bar` messages; everything else on `ticker:*` is an option tick.
    const type = channel.endsWith(':underlying') ? 'bar' : 'tick';
    for (let index = 0; index < ticks.length; index++) {
      const tick: unknown = ticks[index];
      const token = (tick as { instrument_token?: unknown } | null)?.instrument_token;
      if (typeof token !== 'number') {
        this.counters.malformed++;
        continue;
      }
      this.counters.ticksIn++;
      const subscribers = this.#tokens.get(token);
      if (!subscribers) continue;
      const data = same ? (texts[index] as string) : JSON.stringify(tick);
      // Batch subscribers of an option tick share one latest value: one write per tick, however
      // many subscribe; each flush picks what changed since the connection's previous one.
      if (type === 'tick' && subscribers.batch.size > 0) {
        const latest = subscribers.latest;
        // A copy, not the slice of the bus message it came from: it may be kept until the token
        // ticks again, and a slice would keep the whole message (up to 500 ticks) alive with it.
        const bytes = Buffer.from(data);
        latest.data = bytes.toString();
        latest.bytes = bytes.length;
        latest.version = ++this.#version;
        this.counters.deliveries += subscribers.batch.size;
      }
      if (subscribers.tick.size === 0 && (type === 'tick' || subscribers.batch.size === 0)) continue;
      const frame = `{"type":"${type}","data":${data}}`;
      for (const connection of subscribers.tick) this.#enqueue(connection, frame);
      if (type !== 'tick') for (const connection of subscribers.batch) this.#enqueue(connection, frame);
    }
  };

  /**
   * Delivers one message of an order channel (`orders:<owner>`, an `{"type":"order"}` frame) to
   * the owner's connections this instance serves. Anything that is not an order frame is counted
   * as malformed and skipped: it would reach clients unchecked otherwise.
   */
  readonly deliverOrder = (channel: string, message: string): void => {
    this.counters.messagesIn++;
    const owner = ownerOfOrderChannel(channel);
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      raw = undefined;
    }
    if (owner === undefined || !OrderMessage.safeParse(raw).success) {
      this.counters.malformed++;
      this.#options.logger.warn('Malformed order update skipped', { channel, sample: message.slice(0, 200) });
      return;
    }
    this.counters.orderUpdatesIn++;
    const connections = this.#owners.get(owner);
    if (!connections) return;
    // Written once, from the message as published (fields this version does not know included),
    // in a form that starts as every order frame does, which is what keeps it from being dropped.
    const frame = `${ORDER_FRAME_START},"data":${JSON.stringify((raw as { data: unknown }).data)}}`;
    for (const connection of connections) this.#enqueue(connection, frame);
  };

  #enqueue(connection: Connection, frame: string): void {
    this.counters.deliveries++;
    connection.queue.push(frame);
    this.#trim(connection);
    this.#markReady(connection);
  }

  /** Past `maxQueue`, drops the oldest tick frame (the oldest of all when none is a tick). */
  #trim(connection: Connection): void {
    const queue = connection.queue;
    if (queue.length <= this.#maxQueue) return;
    let index = 0;
    while (index < queue.length && !(queue[index] as string).startsWith(TICK_FRAME_START)) index++;
    queue.splice(index < queue.length ? index : 0, 1);
    this.counters.dropped++;
  }

  /** Subscribes to every tick channel and every order channel, and delivers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const subscription = await this.#options.bus.psubscribe(Channels.allTicks, this.deliver);
    const orders = await this.#options.bus.psubscribe(Channels.allOrders, this.deliverOrder).catch(async (error) => {
      await subscription.unsubscribe().catch(() => {});
      throw error;
    });
    try {
      if (!signal.aborted) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      }
    } finally {
      await subscription.unsubscribe().catch(() => {});
      await orders.unsubscribe().catch(() => {});
      for (const id of [...this.#connections.keys()]) this.removeConnection(id);
    }
  }

  #unindex(token: number, connection: Connection): void {
    const subscription = connection.tokens.get(token);
    if (!subscription) return;
    connection.tokens.delete(token);
    const { index } = subscription;
    index.tick.delete(connection);
    if (index.batch.delete(connection) && index.batch.size === 0) index.latest.data = '';
    if (index.tick.size === 0 && index.batch.size === 0) this.#tokens.delete(token);
  }

  #markReady(connection: Connection): void {
    if (connection.posting) return;
    this.#ready.add(connection);
    this.#pump();
  }

  #pump(): void {
    const now = this.#options.clock.now();
    for (const connection of this.#ready) {
      if (this.#inFlight >= this.#maxInFlight) return;
      this.#ready.delete(connection);
      if (connection.closed || connection.posting) continue;
      if (connection.pausedUntil > now) {
        this.#options.clock.setTimeout(() => this.#markReady(connection), connection.pausedUntil - now);
        continue;
      }
      const payload = connection.queue.shift();
      if (payload === undefined) continue;
      void this.#post(connection, payload);
    }
  }

  async #post(connection: Connection, payload: string): Promise<void> {
    connection.posting = true;
    this.#inFlight++;
    this.counters.posts++;
    try {
      const outcome = await this.#options.gateway.post(connection.id, payload);
      if (outcome === 'gone') {
        this.counters.gone++;
        this.removeConnection(connection.id);
        this.#options.onGone?.(connection.id);
      } else if (outcome === 'throttled') {
        this.counters.throttled++;
        connection.queue.unshift(payload);
        connection.pausedUntil = this.#options.clock.now() + (this.#options.throttlePauseMs ?? 250);
      }
    } catch (error) {
      this.counters.postErrors++;
      this.#options.logger.warn('Post to connection failed', {
        connectionId: connection.id,
        error: describeError(error),
      });
    } finally {
      connection.posting = false;
      this.#inFlight--;
      if (!connection.closed && connection.queue.length > 0) this.#ready.add(connection);
      this.#pump();
    }
  }

  #scheduleFlush(connection: Connection, intervalMs: number): void {
    connection.cancelFlush = this.#options.clock.setTimeout(() => {
      if (connection.closed) return;
      this.#flushBatch(connection);
      if (connection.delivery.mode === 'batch') this.#scheduleFlush(connection, intervalMs);
    }, intervalMs);
  }

  #flushBatch(connection: Connection): void {
    const after = connection.flushed;
    if (after === this.#version) return;
    connection.flushed = this.#version;
    const batch = this.#ticksMessages(connection);
    for (const { index, since } of connection.tokens.values()) {
      const latest = index.latest;
      if (latest.version <= after || latest.version <= since) continue;
      batch.add(latest.data, latest.bytes);
    }
    batch.end();
    if (connection.queue.length > 0) this.#markReady(connection);
  }

  /** Queues tick texts (with their UTF-8 sizes) as `ticks` messages, each within API Gateway's limit. */
  #ticksMessages(connection: Connection): { add(data: string, bytes: number): void; end(): void } {
    let chunk: string[] = [];
    let size = 0;
    const emit = () => {
      if (chunk.length === 0) return;
      connection.queue.push(`{"type":"ticks","data":[${chunk.join(',')}]}`);
      this.#trim(connection);
      chunk = [];
      size = 0;
    };
    return {
      add: (data, bytes) => {
        if (size + bytes + 1 > MAX_MESSAGE_BYTES) emit();
        chunk.push(data);
        size += bytes + 1;
      },
      end: emit,
    };
  }
}

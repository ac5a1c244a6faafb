import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  encodeFrame,
  encodeTextMessage,
  type KiteOrderUpdate,
  type PacketInput,
  PacketLength,
  parseClientMessage,
  Segment,
  segmentOf,
} from '../../../ingest-task/kite/protocol/index.js';
import type { KiteMode } from '../../../shared/contracts/tick.js';
import { seededRandom } from '../random.js';
import { rawFrame } from './raw-frame.js';

/*
 * A protocol-faithful Kite streaming server on `ws`, for tests, benchmarks and the local platform:
 * the same upgrade rules (403 for bad credentials, 429 for a fourth connection per api key), the
 * same client messages, binary frames and heartbeats, text frames for errors and order postbacks,
 * and the faults Kite is known for (silent sockets, abrupt drops, slow delivery, bad frames) on
 * demand. Everything it sends goes through the protocol module's encoder, so the simulator and the
 * parser share one definition of the bytes.
 */

/** An api key and the access token Kite currently accepts for it. */
export interface KiteCredentials {
  readonly apiKey: string;
  readonly accessToken: string;
}

/** Where instrument prices come from: the last price of `token` at `nowMs`, in rupees. */
export type PriceSource = (token: number, nowMs: number) => number;

/** How a simulator behaves; every limit defaults to Kite's. */
export interface KiteSimulatorOptions {
  /** The accounts that may connect; change a token later with `setAccessToken`. */
  readonly accounts: readonly KiteCredentials[];
  /** Port on 127.0.0.1; by default one the OS picks. `restart` keeps it. */
  readonly port?: number;
  /** How often every subscribed instrument ticks: one binary frame per connection per interval. Default 1000. */
  readonly tickIntervalMs?: number;
  /**
   * Spreads each interval's ticks over this many frames at even phases (instrument `i` of a
   * connection ticks in phase `i mod n`), as ticks reach Kite continuously rather than all at one
   * instant; every instrument still ticks once per interval. Default 1: one frame per interval.
   */
  readonly framesPerInterval?: number;
  /** How often a connection that was sent nothing else gets a one-byte heartbeat. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Concurrent connections per api key; the next upgrade gets HTTP 429. Default 3. */
  readonly maxConnectionsPerKey?: number;
  /** Instruments per connection; a subscribe beyond it gets an error frame. Default 3000. */
  readonly maxTokensPerConnection?: number;
  /** Default: `deterministicWalk()`. */
  readonly price?: PriceSource;
  /** The clock for exchange timestamps and the price source. Default `Date.now`. */
  readonly now?: () => number;
}

/** A snapshot of one client connection, for assertions. */
export interface SimulatedConnection {
  readonly id: string;
  readonly apiKey: string;
  /** Subscribed tokens in the order they were subscribed. */
  readonly tokens: readonly number[];
  /** The streaming mode of each subscribed token. */
  readonly modes: ReadonlyMap<number, KiteMode>;
  readonly stalled: boolean;
  /** Frames of every kind actually written to this connection. */
  readonly framesSent: number;
}

/** Totals since start (kept across `restart`), for assertions. */
export interface KiteSimulatorCounters {
  /** Frames of every kind written to sockets. */
  readonly framesSent: number;
  readonly tickFrames: number;
  readonly packetsSent: number;
  readonly heartbeats: number;
  readonly textFrames: number;
  readonly malformedFrames: number;
  readonly connectionsAccepted: number;
  readonly rejected: { readonly forbidden: number; readonly tooManyConnections: number; readonly badRequest: number };
  readonly clientMessages: number;
  readonly invalidClientMessages: number;
  /** Frames not sent because the connection was stalled. */
  readonly suppressedFrames: number;
  /** Tick rounds that failed (e.g. a price source returning a price no packet can hold). */
  readonly tickErrors: number;
}

/** One subscribe or unsubscribe as the simulator applied it. */
export interface SubscriptionEvent {
  readonly apiKey: string;
  readonly connectionId: string;
  readonly action: 'subscribe' | 'unsubscribe';
  readonly tokens: readonly number[];
}

/** A running simulator: the server, inspection for assertions, and fault injection. */
export interface KiteSimulator {
  /** `ws://127.0.0.1:<port>/`; clients append `?api_key=…&access_token=…`. */
  readonly url: string;
  readonly port: number;
  /** The URL a client with these credentials connects to. */
  connectUrl(apiKey: string, accessToken: string): string;
  connections(): SimulatedConnection[];
  /** Every subscribe and unsubscribe received, in the order the simulator applied them. */
  subscriptionLog(): readonly SubscriptionEvent[];
  counters(): KiteSimulatorCounters;
  /** Sets (or adds) the access token Kite accepts for `apiKey`. Open connections stay open, as on Kite: an expired token shows at the next upgrade. */
  setAccessToken(apiKey: string, accessToken: string): void;
  /**
   * Sends `{"type":"order","data":…}` to every connection of `apiKey`, as Kite streams an account's
   * order updates; returns how many got it. `forwardOrderUpdates` feeds it the fake REST server's updates.
   */
  sendOrderUpdate(apiKey: string, data: KiteOrderUpdate): number;
  /** Sends `{"type":"message","data":…}` to every connection of `apiKey`; returns how many got it. */
  sendMessage(apiKey: string, text: string): number;
  /** Keeps the socket(s) open but sends nothing at all, heartbeats included, until `resume`. Without an id: every connection, new ones too. */
  stall(connectionId?: string): void;
  /** Ends a stall (without an id: every stall). */
  resume(connectionId?: string): void;
  /** Destroys the TCP socket(s) without a close frame, as a network failure would. */
  drop(connectionId?: string): void;
  /** Delays every frame by `ms` from now on (0 restores prompt delivery). */
  slow(ms: number): void;
  /**
   * Sends a frame with one good LTP packet, one packet of unknown length (13 bytes) and a full
   * packet cut short: a parser should keep the first tick and report two problems.
   */
  sendMalformed(connectionId?: string): number;
  /** Terminates every connection and stops listening. */
  stop(): Promise<void>;
  /**
   * `stop`, then listen again on the same port; subscriptions are gone, as after a Kite failover.
   * Accounts, counters, instrument prices and the `stall()`/`slow` settings carry over.
   */
  restart(): Promise<void>;
}

/** A Kite-style 403 / 429 body, as the REST and streaming endpoints return them. */
const REJECTIONS = {
  403: { status: 'error', message: 'Invalid `api_key` or `access_token`.', error_type: 'TokenException' },
  429: { status: 'error', message: 'Too many connections for this api_key.', error_type: 'NetworkException' },
  400: { status: 'error', message: 'A WebSocket upgrade is required.', error_type: 'InputException' },
} as const;

const HEARTBEAT = new Uint8Array([0]);

/**
 * A price walk that needs no clock: each call moves the token's price by up to ±0.1 % in steps of
 * ₹0.05, from a start and a random sequence that depend only on the token, so two runs see the
 * same prices. Indices start near 10,000–30,000, other instruments near ₹50–550.
 */
export function deterministicWalk(): PriceSource {
  const walks = new Map<number, { price: number; random: () => number }>();
  return (token) => {
    let walk = walks.get(token);
    if (!walk) {
      const random = seededRandom(token);
      const index = segmentOf(token) === Segment.indices;
      const start = index ? 10_000 + Math.floor(random() * 20_000) : 50 + Math.floor(random() * 500);
      walk = { price: start, random };
      walks.set(token, walk);
    }
    const step = walk.price * (walk.random() - 0.5) * 0.002;
    walk.price = Math.max(0.05, Math.round((walk.price + step) * 20) / 20);
    return walk.price;
  };
}

interface Connection {
  readonly id: string;
  readonly apiKey: string;
  readonly socket: WebSocket;
  readonly modes: Map<number, KiteMode>;
  stalled: boolean;
  sentSinceHeartbeat: boolean;
  framesSent: number;
}

/** What the simulator remembers of an instrument between ticks. */
interface Market {
  open: number;
  high: number;
  low: number;
  readonly close: number;
  volume: number;
  oi: number;
}

type MutableCounters = {
  -readonly [K in keyof KiteSimulatorCounters]: K extends 'rejected'
    ? { -readonly [R in keyof KiteSimulatorCounters['rejected']]: number }
    : KiteSimulatorCounters[K];
};

class Simulator implements KiteSimulator {
  readonly #accounts = new Map<string, string>();
  readonly #connections = new Map<string, Connection>();
  readonly #subscriptionLog: SubscriptionEvent[] = [];
  readonly #markets = new Map<number, Market>();
  readonly #tickIntervalMs: number;
  readonly #framesPerInterval: number;
  #phase = 0;
  readonly #heartbeatIntervalMs: number;
  readonly #maxConnectionsPerKey: number;
  readonly #maxTokensPerConnection: number;
  readonly #price: PriceSource;
  readonly #now: () => number;
  readonly #counters: MutableCounters = {
    framesSent: 0,
    tickFrames: 0,
    packetsSent: 0,
    heartbeats: 0,
    textFrames: 0,
    malformedFrames: 0,
    connectionsAccepted: 0,
    rejected: { forbidden: 0, tooManyConnections: 0, badRequest: 0 },
    clientMessages: 0,
    invalidClientMessages: 0,
    suppressedFrames: 0,
    tickErrors: 0,
  };
  #port: number;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stallAll = false;
  #slowMs = 0;
  #nextId = 1;

  constructor(options: KiteSimulatorOptions) {
    for (const { apiKey, accessToken } of options.accounts) this.#accounts.set(apiKey, accessToken);
    this.#port = options.port ?? 0;
    this.#tickIntervalMs = options.tickIntervalMs ?? 1000;
    this.#framesPerInterval = Math.max(1, Math.floor(options.framesPerInterval ?? 1));
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    this.#maxConnectionsPerKey = options.maxConnectionsPerKey ?? 3;
    this.#maxTokensPerConnection = options.maxTokensPerConnection ?? 3000;
    this.#price = options.price ?? deterministicWalk();
    this.#now = options.now ?? Date.now;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/`;
  }

  connectUrl(apiKey: string, accessToken: string): string {
    const query = new URLSearchParams({ api_key: apiKey, access_token: accessToken });
    return `${this.url}?${query.toString()}`;
  }

  async start(): Promise<void> {
    const server = createServer((_, response) => {
      this.#counters.rejected.badRequest++;
      response.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify(REJECTIONS[400]));
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#onUpgrade(wss, request, socket, head),
    );
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#wss = wss;
    this.#timers = [
      setInterval(() => this.#tick(), this.#tickIntervalMs / this.#framesPerInterval),
      setInterval(() => this.#heartbeat(), this.#heartbeatIntervalMs),
    ];
    for (const timer of this.#timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    for (const connection of this.#connections.values()) connection.socket.terminate();
    this.#connections.clear();
    const server = this.#server;
    this.#server = undefined;
    this.#wss?.close();
    this.#wss = undefined;
    if (!server) return;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  subscriptionLog(): readonly SubscriptionEvent[] {
    return [...this.#subscriptionLog];
  }

  connections(): SimulatedConnection[] {
    return [...this.#connections.values()].map((c) => ({
      id: c.id,
      apiKey: c.apiKey,
      tokens: [...c.modes.keys()],
      modes: new Map(c.modes),
      stalled: c.stalled || this.#stallAll,
      framesSent: c.framesSent,
    }));
  }

  counters(): KiteSimulatorCounters {
    return { ...this.#counters, rejected: { ...this.#counters.rejected } };
  }

  setAccessToken(apiKey: string, accessToken: string): void {
    this.#accounts.set(apiKey, accessToken);
  }

  sendOrderUpdate(apiKey: string, data: KiteOrderUpdate): number {
    return this.#sendText(apiKey, encodeTextMessage({ type: 'order', data }));
  }

  sendMessage(apiKey: string, text: string): number {
    return this.#sendText(apiKey, encodeTextMessage({ type: 'message', data: text }));
  }

  stall(connectionId?: string): void {
    if (connectionId === undefined) this.#stallAll = true;
    else this.#connection(connectionId).stalled = true;
  }

  resume(connectionId?: string): void {
    if (connectionId !== undefined) {
      this.#connection(connectionId).stalled = false;
      return;
    }
    this.#stallAll = false;
    for (const connection of this.#connections.values()) connection.stalled = false;
  }

  drop(connectionId?: string): void {
    for (const connection of this.#targets(connectionId)) connection.socket.terminate();
  }

  slow(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`slow(ms) needs a non-negative delay, got ${ms}`);
    this.#slowMs = ms;
  }

  sendMalformed(connectionId?: string): number {
    const good = encodeFrame([{ instrumentToken: 256_265, mode: 'ltp', lastPrice: 19_000 }]).subarray(4);
    const full = encodeFrame([{ instrumentToken: 12_345_602, mode: 'full', lastPrice: 250 }]).subarray(4);
    const frame = rawFrame([good, new Uint8Array(13).fill(0xee), full], { truncateBy: PacketLength.full - 40 });
    let sent = 0;
    for (const connection of this.#targets(connectionId)) {
      if (this.#send(connection, frame)) {
        this.#counters.malformedFrames++;
        sent++;
      }
    }
    return sent;
  }

  #connection(id: string): Connection {
    const connection = this.#connections.get(id);
    if (!connection) throw new RangeError(`No simulated Kite connection ${id}`);
    return connection;
  }

  #targets(connectionId: string | undefined): Connection[] {
    return connectionId === undefined ? [...this.#connections.values()] : [this.#connection(connectionId)];
  }

  #onUpgrade(wss: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {
      // A client that vanishes mid-handshake is not the simulator's failure.
    });
    const query = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams;
    const apiKey = query.get('api_key') ?? '';
    const accessToken = query.get('access_token') ?? '';
    const expected = this.#accounts.get(apiKey);
    if (expected === undefined || accessToken === '' || accessToken !== expected) {
      this.#counters.rejected.forbidden++;
      reject(socket, 403);
      return;
    }
    let open = 0;
    for (const connection of this.#connections.values()) if (connection.apiKey === apiKey) open++;
    if (open >= this.#maxConnectionsPerKey) {
      this.#counters.rejected.tooManyConnections++;
      reject(socket, 429);
      return;
    }
    // `ws` completes the handshake synchronously, so the count above cannot race another upgrade.
    wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, apiKey));
  }

  #accept(socket: WebSocket, apiKey: string): void {
    const connection: Connection = {
      id: `c${this.#nextId++}`,
      apiKey,
      socket,
      modes: new Map(),
      stalled: false,
      sentSinceHeartbeat: false,
      framesSent: 0,
    };
    this.#connections.set(connection.id, connection);
    this.#counters.connectionsAccepted++;
    socket.on('message', (data: RawData, isBinary: boolean) => this.#onClientMessage(connection, data, isBinary));
    socket.on('error', () => {
      // The close that follows removes the connection.
    });
    socket.on('close', () => {
      if (this.#connections.get(connection.id) === connection) this.#connections.delete(connection.id);
    });
  }

  #onClientMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    this.#counters.clientMessages++;
    const message = isBinary ? undefined : parseClientMessage(rawToString(data));
    if (!message || message.action === 'invalid') {
      this.#counters.invalidClientMessages++;
      this.#sendError(connection, 'Invalid message');
      return;
    }
    const { modes } = connection;
    if (message.action === 'subscribe' || message.action === 'unsubscribe') {
      this.#subscriptionLog.push({
        apiKey: connection.apiKey,
        connectionId: connection.id,
        action: message.action,
        tokens: [...message.tokens],
      });
    }
    switch (message.action) {
      case 'subscribe': {
        let ignored = 0;
        for (const token of message.tokens) {
          if (modes.has(token)) continue;
          if (modes.size >= this.#maxTokensPerConnection) ignored++;
          else modes.set(token, 'quote');
        }
        if (ignored > 0) {
          this.#sendError(
            connection,
            `Maximum of ${this.#maxTokensPerConnection} instruments per connection exceeded: ${ignored} not subscribed`,
          );
        }
        return;
      }
      case 'unsubscribe':
        for (const token of message.tokens) modes.delete(token);
        return;
      case 'mode':
        for (const token of message.tokens) if (modes.has(token)) modes.set(token, message.mode);
        return;
    }
  }

  #tick(): void {
    const now = this.#now();
    const phases = this.#framesPerInterval;
    const phase = this.#phase;
    this.#phase = (phase + 1) % phases;
    const round = new Map<number, Omit<PacketInput, 'mode'>>();
    for (const connection of this.#connections.values()) {
      if (connection.modes.size === 0) continue;
      if (this.#isStalled(connection)) {
        this.#counters.suppressedFrames++;
        continue;
      }
      try {
        const packets: PacketInput[] = [];
        let index = -1;
        for (const [token, mode] of connection.modes) {
          index++;
          if (phases > 1 && index % phases !== phase) continue;
          let base = round.get(token);
          if (!base) {
            base = this.#marketPacket(token, now);
            round.set(token, base);
          }
          packets.push({ ...base, mode });
        }
        if (packets.length === 0) continue;
        if (this.#send(connection, encodeFrame(packets))) {
          this.#counters.tickFrames++;
          this.#counters.packetsSent += packets.length;
        }
      } catch {
        this.#counters.tickErrors++;
      }
    }
  }

  /** One instrument's packet fields for this round, every mode's fields filled in. */
  #marketPacket(token: number, now: number): Omit<PacketInput, 'mode'> {
    const price = this.#price(token, now);
    let market = this.#markets.get(token);
    if (!market) {
      market = { open: price, high: price, low: price, close: price, volume: 0, oi: 100_000 + (token % 1000) * 100 };
      this.#markets.set(token, market);
    }
    const quantity = 25 * (1 + (Math.floor(now / 1000) % 8));
    market.high = Math.max(market.high, price);
    market.low = Math.min(market.low, price);
    market.volume += quantity;
    market.oi += (token + Math.floor(now / 1000)) % 3 === 0 ? quantity : 0;
    const wholeSecondMs = Math.floor(now / 1000) * 1000;
    const level = (i: number, side: 1 | -1) => ({
      quantity: quantity * (i + 1) * 4,
      price: Math.max(0, Math.round((price + side * 0.05 * (i + 1)) * 100) / 100),
      orders: i + 1,
    });
    return {
      instrumentToken: token,
      lastPrice: price,
      lastTradedQuantity: quantity,
      averageTradedPrice: Math.round(((market.open + price) / 2) * 100) / 100,
      volumeTraded: market.volume,
      totalBuyQuantity: quantity * 60,
      totalSellQuantity: quantity * 55,
      ohlc: { open: market.open, high: market.high, low: market.low, close: market.close },
      lastTradeTimeMs: wholeSecondMs,
      oi: market.oi,
      oiDayHigh: market.oi,
      oiDayLow: 100_000,
      exchangeTimestampMs: wholeSecondMs,
      depth: {
        buy: [0, 1, 2, 3, 4].map((i) => level(i, -1)),
        sell: [0, 1, 2, 3, 4].map((i) => level(i, 1)),
      },
    };
  }

  #heartbeat(): void {
    for (const connection of this.#connections.values()) {
      if (!connection.sentSinceHeartbeat && this.#send(connection, HEARTBEAT)) this.#counters.heartbeats++;
      connection.sentSinceHeartbeat = false;
    }
  }

  #sendText(apiKey: string, text: string): number {
    let sent = 0;
    for (const connection of this.#connections.values()) {
      if (connection.apiKey === apiKey && this.#send(connection, text)) sent++;
    }
    return sent;
  }

  #sendError(connection: Connection, text: string): void {
    this.#send(connection, encodeTextMessage({ type: 'error', data: text }));
  }

  #isStalled(connection: Connection): boolean {
    return connection.stalled || this.#stallAll;
  }

  /** Writes one frame (after the `slow` delay); false when a stall or a closed socket swallowed it. */
  #send(connection: Connection, frame: Uint8Array | string): boolean {
    if (this.#isStalled(connection)) {
      this.#counters.suppressedFrames++;
      return false;
    }
    if (connection.socket.readyState !== WebSocket.OPEN) return false;
    connection.sentSinceHeartbeat = true;
    if (this.#slowMs > 0) {
      setTimeout(() => this.#write(connection, frame), this.#slowMs).unref();
    } else {
      this.#write(connection, frame);
    }
    return true;
  }

  #write(connection: Connection, frame: Uint8Array | string): void {
    if (this.#isStalled(connection)) {
      this.#counters.suppressedFrames++;
      return;
    }
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    connection.socket.send(frame, { binary: typeof frame !== 'string' });
    connection.framesSent++;
    this.#counters.framesSent++;
    if (typeof frame === 'string') this.#counters.textFrames++;
  }
}

function reject(socket: Duplex, status: keyof typeof REJECTIONS): void {
  const body = JSON.stringify(REJECTIONS[status]);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Starts a simulator and resolves once it accepts connections. */
export async function startKiteSimulator(options: KiteSimulatorOptions): Promise<KiteSimulator> {
  const simulator = new Simulator(options);
  await simulator.start();
  return simulator;
}

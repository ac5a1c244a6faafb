import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { encodeFrame, type PacketInput, parseClientMessage } from '../../ingest-task/kite/protocol/index.js';
import type { KiteMode } from '../../shared/contracts/tick.js';
import type { KiteCredentials, PriceSource } from '../../test/support/kite/simulator.js';
import { probePrice } from './ingest-fixture.js';

/*
 * A Kite streaming server for the throughput benchmark, speaking the same protocol as the Kite
 * simulator (upgrade with api_key/access_token, 403 and 429, subscribe/unsubscribe/mode messages,
 * one binary frame per connection per interval, one-byte heartbeats) but replaying frames it
 * encoded in advance. The simulator builds and encodes every packet of every round, about as
 * much CPU per tick as the ingest path spends decoding and pricing it: on a two-core machine it
 * cannot offer the rates the ingest path is to be measured at. Here a connection's frames are
 * encoded once per change of its subscriptions, in a few price variants sent in turn; a round
 * costs one copy of each frame and the probe's price, written into it as the time of sending.
 */

/** Frames per connection, each with other prices, sent in turn so consecutive ticks differ. */
const VARIANTS = 8;
const HEARTBEAT = new Uint8Array([0]);
/** Byte offset of the first packet's price: frame count (2), packet length (2), token (4). */
const FIRST_PRICE_OFFSET = 8;

/** What the replay feed needs. */
export interface ReplayFeedOptions {
  readonly accounts: readonly KiteCredentials[];
  readonly tickIntervalMs: number;
  readonly price: PriceSource;
  /** Tokens whose price is the time their frame is sent (they must come first on their connection). */
  readonly probes: ReadonlySet<number>;
  readonly now: () => number;
}

/** The replay feed's counters, named as the simulator's. */
export interface ReplayFeedCounters {
  readonly framesSent: number;
  readonly tickFrames: number;
  readonly packetsSent: number;
  readonly heartbeats: number;
  /** Largest send buffer of any connection at a round: bytes the ingest side had not read yet. */
  readonly maxBufferedBytes: number;
}

/** A running replay feed. */
export interface ReplayFeed {
  readonly url: string;
  counters(): ReplayFeedCounters;
  connections(): number;
  stall(): void;
  resume(): void;
  stop(): Promise<void>;
}

interface Connection {
  readonly apiKey: string;
  readonly socket: WebSocket;
  readonly modes: Map<number, KiteMode>;
  frames: Uint8Array[] | undefined;
  next: number;
  probeFirst: boolean;
  sentSinceHeartbeat: boolean;
}

function reject(socket: Duplex, status: 403 | 429): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Starts a replay feed on a port the OS picks and resolves once it listens. */
export async function startReplayFeed(options: ReplayFeedOptions): Promise<ReplayFeed> {
  const keys = new Map(options.accounts.map((a) => [a.apiKey, a.accessToken]));
  const connections = new Set<Connection>();
  const counters = { framesSent: 0, tickFrames: 0, packetsSent: 0, heartbeats: 0, maxBufferedBytes: 0 };
  let stalled = false;

  const packet = (token: number, mode: KiteMode, now: number): PacketInput => {
    const lastPrice = options.price(token, now);
    const quantity = 25 * (1 + (token % 8));
    const level = (i: number, side: 1 | -1) => ({
      quantity: quantity * (i + 1),
      price: Math.max(0, Math.round((lastPrice + side * 0.05 * (i + 1)) * 100) / 100),
      orders: i + 1,
    });
    return {
      instrumentToken: token,
      mode,
      lastPrice,
      lastTradedQuantity: quantity,
      averageTradedPrice: lastPrice,
      volumeTraded: 100_000 + quantity * 40,
      totalBuyQuantity: quantity * 60,
      totalSellQuantity: quantity * 55,
      ohlc: { open: lastPrice, high: lastPrice, low: lastPrice, close: lastPrice },
      lastTradeTimeMs: now,
      oi: 100_000 + (token % 1000) * 100,
      oiDayHigh: 200_000,
      oiDayLow: 100_000,
      exchangeTimestampMs: now,
      depth: { buy: [0, 1, 2, 3, 4].map((i) => level(i, -1)), sell: [0, 1, 2, 3, 4].map((i) => level(i, 1)) },
    };
  };

  const build = (connection: Connection): Uint8Array[] => {
    const now = options.now();
    const tokens = [...connection.modes];
    connection.probeFirst = options.probes.has(tokens[0]?.[0] ?? -1);
    return Array.from({ length: VARIANTS }, () => encodeFrame(tokens.map(([token, mode]) => packet(token, mode, now))));
  };

  const send = (connection: Connection, frame: Uint8Array): void => {
    if (stalled || connection.socket.readyState !== WebSocket.OPEN) return;
    connection.socket.send(frame, { binary: true });
    connection.sentSinceHeartbeat = true;
    counters.framesSent++;
  };

  const tick = () => {
    for (const connection of connections) {
      if (connection.modes.size === 0 || stalled) continue;
      connection.frames ??= build(connection);
      const frame = Buffer.from(connection.frames[connection.next++ % VARIANTS] ?? new Uint8Array(2));
      if (connection.probeFirst) {
        const paise = Math.round(probePrice(options.now()) * 100);
        frame.writeInt32BE(paise, FIRST_PRICE_OFFSET);
      }
      counters.maxBufferedBytes = Math.max(counters.maxBufferedBytes, connection.socket.bufferedAmount);
      send(connection, frame);
      counters.tickFrames++;
      counters.packetsSent += connection.modes.size;
    }
  };

  const heartbeat = () => {
    for (const connection of connections) {
      if (!connection.sentSinceHeartbeat && !stalled) {
        send(connection, HEARTBEAT);
        counters.heartbeats++;
      }
      connection.sentSinceHeartbeat = false;
    }
  };

  const onMessage = (connection: Connection, data: RawData): void => {
    const message = parseClientMessage(rawToString(data));
    switch (message.action) {
      case 'subscribe':
        for (const token of message.tokens) if (!connection.modes.has(token)) connection.modes.set(token, 'quote');
        break;
      case 'unsubscribe':
        for (const token of message.tokens) connection.modes.delete(token);
        break;
      case 'mode':
        for (const token of message.tokens) if (connection.modes.has(token)) connection.modes.set(token, message.mode);
        break;
      case 'invalid':
        return;
    }
    connection.frames = undefined;
  };

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server: Server = createServer((_, response) => response.writeHead(400).end());
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const query = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams;
    const apiKey = query.get('api_key') ?? '';
    const token = query.get('access_token') ?? '';
    if (token === '' || keys.get(apiKey) !== token) {
      reject(socket, 403);
      return;
    }
    if ([...connections].filter((c) => c.apiKey === apiKey).length >= 3) {
      reject(socket, 429);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection: Connection = {
        apiKey,
        socket: ws,
        modes: new Map(),
        frames: undefined,
        next: 0,
        probeFirst: false,
        sentSinceHeartbeat: false,
      };
      connections.add(connection);
      ws.on('message', (data: RawData) => onMessage(connection, data));
      ws.on('error', () => {});
      ws.on('close', () => connections.delete(connection));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const timers = [setInterval(tick, options.tickIntervalMs), setInterval(heartbeat, 1000)];

  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    counters: () => ({ ...counters }),
    connections: () => connections.size,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
    },
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const connection of connections) connection.socket.terminate();
      connections.clear();
      wss.close();
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

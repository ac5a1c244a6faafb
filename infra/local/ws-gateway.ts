import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'aws-lambda';
import { type WebSocket, WebSocketServer } from 'ws';
import type { WsLambdaHandler } from '../../functions/ws/ws-handler.js';
import type { WsEvent, WsResult } from '../../functions/ws/ws-routes.js';
import { localLambdaContext } from '../../shared/adapters/local-lambda-context.js';
import { describeError, ValidationError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { ConnectionGateway, PostOutcome } from '../../shared/ports/connection-gateway.js';

/** API Gateway's limits that clients can feel. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** Ping interval: a client that answers neither the ping nor anything else by the next one is dropped. */
export const KEEPALIVE_INTERVAL_MS = 10_000;
/** A client whose socket has this much unsent is treated as throttled, as API Gateway does with a full buffer. */
const SLOW_CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;

/** What the management API's GetConnection reports of a connection. */
export interface ConnectionInfo {
  /** Epoch milliseconds. */
  readonly connectedAt: number;
  /** Epoch milliseconds of the last message in either direction. */
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
}

interface Live {
  readonly ws: WebSocket;
  /** The upgraded socket under `ws`, corked while a turn's posts collect (see {@link LocalWsGateway.post}). */
  readonly socket: Duplex;
  corked: boolean;
  /** Bytes written while corked this turn: held by the cork, not by a slow client. */
  corkedBytes: number;
  readonly connectedAt: number;
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  /** Messages received before the first post (the greeting) went out, with their sequence; undefined once released. */
  held: { body: string; sequence: number }[] | undefined;
  /** Messages received so far: each message's `messageSequence`, its place in the connection's order. */
  received: number;
  releaseTimer: NodeJS.Timeout | undefined;
}

/** How long a new connection's messages wait for the greeting at most. */
const GREETING_WAIT_MS = 2000;

/** Stand-in for the Lambda context API Gateway's invocation would carry. */
function lambdaContext(routeKey: string, requestId: string): Context {
  return localLambdaContext(`ws-${routeKey.replace('$', '')}`, { requestId });
}

/**
 * A WebSocket server that behaves like API Gateway's WebSocket APIs for the same handler modules:
 * `$connect` decides the upgrade (its status becomes the HTTP rejection), messages are routed by
 * `$request.body.action` with `$default` for everything else (invalid JSON included), a route's
 * response body is sent back, `$disconnect` runs on every close, messages over 128 KB close the
 * connection with 1009, and an idle connection is closed after 10 minutes. It is also the
 * `ConnectionGateway` the fan-out posts through on this machine.
 *
 * Beyond API Gateway, it pings every connection each `keepaliveIntervalMs` and terminates one that
 * sent nothing (pong or message) since the previous ping: a half-open client (gone without a FIN,
 * or no longer reading) is otherwise never noticed while ticks keep filling its socket buffers.
 * It is detected within two intervals and gets its `$disconnect`. API Gateway sends no pings; in
 * the cloud such a client lasts until a post fails with Gone or the 10-minute idle timeout.
 */
export class LocalWsGateway implements ConnectionGateway {
  readonly #routes: Readonly<Record<string, WsLambdaHandler>>;
  readonly #logger: Logger;
  readonly #idleTimeoutMs: number;
  readonly #keepaliveIntervalMs: number;
  readonly #server = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  readonly #sockets = new Map<string, Live>();
  /** Sockets corked by this turn's posts, uncorked together once the turn's I/O is done. */
  readonly #corked: Live[] = [];

  /**
   * `routes`: the handler of each route key, the very handlers the Lambdas export (see
   * `functions/ws/route-table.ts`); a message whose action names none of them goes to `$default`.
   */
  constructor(
    routes: Readonly<Record<string, WsLambdaHandler>>,
    logger: Logger,
    options: { idleTimeoutMs?: number; keepaliveIntervalMs?: number } = {},
  ) {
    this.#routes = routes;
    this.#logger = logger;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.#keepaliveIntervalMs = options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS;
  }

  /** Live connections. */
  get size(): number {
    return this.#sockets.size;
  }

  /** The route keys this gateway serves. */
  get routeKeys(): readonly string[] {
    return Object.keys(this.#routes);
  }

  /** What GetConnection reports of a live connection; undefined once it is gone (or before its upgrade completed). */
  info(connectionId: string): ConnectionInfo | undefined {
    const live = this.#sockets.get(connectionId);
    if (!live || live.ws.readyState !== live.ws.OPEN) return undefined;
    const { connectedAt, lastActiveAt, sourceIp, userAgent } = live;
    return { connectedAt, lastActiveAt, sourceIp, userAgent };
  }

  /** Handles an HTTP upgrade request for the WebSocket path. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const connectionId = randomBytes(12).toString('base64url');
    const query = Object.fromEntries(url.searchParams);
    let result: WsResult;
    try {
      result = await this.#invoke('$connect', { connectionId, query });
    } catch (error) {
      this.#logger.error('$connect failed', { connectionId, error: describeError(error) });
      result = { statusCode: 500, body: JSON.stringify({ message: 'Internal server error' }) };
    }
    if (result.statusCode < 200 || result.statusCode >= 300) {
      const body = result.body ?? '';
      socket.end(
        `HTTP/1.1 ${result.statusCode} ${result.statusCode === 401 ? 'Unauthorized' : result.statusCode === 403 ? 'Forbidden' : 'Error'}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const identity = {
      sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
      userAgent: request.headers['user-agent'] ?? '',
    };
    this.#server.handleUpgrade(request, socket, head, (ws) => this.#attach(connectionId, ws, socket, identity));
  }

  async post(connectionId: string, payload: string): Promise<PostOutcome> {
    const bytes = Buffer.byteLength(payload);
    if (bytes > MAX_MESSAGE_BYTES) {
      throw new ValidationError(`Message exceeds ${MAX_MESSAGE_BYTES / 1024} KB`, [
        { path: 'payload', message: `larger than ${MAX_MESSAGE_BYTES} bytes in UTF-8` },
      ]);
    }
    const live = this.#sockets.get(connectionId);
    if (!live || live.ws.readyState !== live.ws.OPEN) return 'gone';
    if (live.ws.bufferedAmount - live.corkedBytes > SLOW_CLIENT_BUFFER_BYTES) return 'throttled';
    live.lastActiveAt = Date.now();
    this.#cork(live);
    live.corkedBytes += bytes;
    live.ws.send(payload);
    this.#release(connectionId, live);
    return 'sent';
  }

  /**
   * Holds a socket's writes until the end of this event-loop turn. Each `ws.send` is otherwise one
   * `writev` (tens of microseconds on loopback, the receiver's TCP path included); the fan-out
   * posts a client's ticks one after another within a turn, so corking turns a client's twenty
   * frames into one write. The frames and their order are unchanged. Posts made from I/O or timer
   * callbacks (Redis deliveries, batch flushes) leave in the same loop iteration, right after its
   * I/O; posts made from an immediate (the in-memory bus of a Redis-less `npm start`) leave one
   * iteration later. Corked bytes do not count towards the slow-client limit: the cork holds
   * them, not the client.
   */
  #cork(live: Live): void {
    if (live.corked) return;
    live.corked = true;
    live.socket.cork();
    if (this.#corked.push(live) === 1) setImmediate(this.#uncorkAll);
  }

  readonly #uncorkAll = (): void => {
    for (const live of this.#corked.splice(0)) {
      live.corked = false;
      live.corkedBytes = 0;
      live.socket.uncork();
    }
  };

  async close(connectionId: string): Promise<void> {
    this.#sockets.get(connectionId)?.ws.close(1000, 'Closed by the server');
  }

  /** Closes every connection (each gets its `$disconnect`). */
  async closeAll(): Promise<void> {
    const closing = [...this.#sockets.values()].map(
      ({ ws }) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1001, 'Server shutting down');
          setTimeout(() => ws.terminate(), 1000).unref();
        }),
    );
    await Promise.all(closing);
    this.#server.close();
  }

  #attach(
    connectionId: string,
    ws: WebSocket,
    socket: Duplex,
    identity: { sourceIp: string; userAgent: string },
  ): void {
    const now = Date.now();
    const live: Live = {
      ws,
      socket,
      corked: false,
      corkedBytes: 0,
      connectedAt: now,
      lastActiveAt: now,
      ...identity,
      held: [],
      received: 0,
      releaseTimer: undefined,
    };
    live.releaseTimer = setTimeout(() => this.#release(connectionId, live), GREETING_WAIT_MS);
    live.releaseTimer.unref();
    this.#sockets.set(connectionId, live);
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1001, 'Going away: idle timeout'), this.#idleTimeoutMs);
      idle.unref();
    };
    touch();
    let answered = true;
    const keepalive = setInterval(() => {
      if (!answered) {
        this.#logger.info('WebSocket client stopped answering; dropping it', { connectionId });
        ws.terminate();
        return;
      }
      answered = false;
      ws.ping();
    }, this.#keepaliveIntervalMs);
    keepalive.unref();
    ws.on('pong', () => {
      answered = true;
    });
    ws.on('message', (data, isBinary) => {
      answered = true;
      touch();
      live.lastActiveAt = Date.now();
      const body = isBinary ? Buffer.from(data as Buffer).toString('base64') : data.toString();
      // Numbered as they arrive: the routes run concurrently, as API Gateway's Lambdas do, and the
      // number is what tells them which of a connection's actions came last.
      const sequence = ++live.received;
      if (live.held) live.held.push({ body, sequence });
      else void this.#onMessage(connectionId, ws, body, sequence);
    });
    ws.on('error', () => {
      // A broken socket also closes; $disconnect runs from the close handler.
    });
    ws.on('close', () => {
      clearTimeout(idle);
      clearInterval(keepalive);
      clearTimeout(live.releaseTimer);
      live.held = undefined;
      this.#sockets.delete(connectionId);
      void this.#invoke('$disconnect', { connectionId }).catch((error: unknown) =>
        this.#logger.warn('$disconnect failed', { connectionId, error: describeError(error) }),
      );
    });
  }

  /**
   * Lets a connection's messages through once the first post (the fan-out's `connected` greeting)
   * has gone out, or after {@link GREETING_WAIT_MS}, so a client that sends the moment the socket
   * opens still receives `connected` first. API Gateway has no such hold (`functions/ws-connect.ts`
   * says what that means in the cloud); here it costs a client at most the greeting's retry delay.
   */
  #release(connectionId: string, live: Live): void {
    const held = live.held;
    if (!held) return;
    live.held = undefined;
    clearTimeout(live.releaseTimer);
    for (const { body, sequence } of held) void this.#onMessage(connectionId, live.ws, body, sequence);
  }

  async #onMessage(connectionId: string, ws: WebSocket, body: string, sequence: number): Promise<void> {
    let action: unknown;
    try {
      action = (JSON.parse(body) as { action?: unknown } | null)?.action;
    } catch {
      action = undefined;
    }
    const routeKey =
      typeof action === 'string' && Object.hasOwn(this.#routes, action) && !action.startsWith('$')
        ? action
        : '$default';
    try {
      const result = await this.#invoke(routeKey, { connectionId, body, sequence });
      if (result.body !== undefined && ws.readyState === ws.OPEN) ws.send(result.body);
    } catch (error) {
      this.#logger.error('WebSocket route failed', { connectionId, routeKey, error: describeError(error) });
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', message: 'Internal server error' }));
    }
  }

  #invoke(
    routeKey: string,
    input: { connectionId: string; query?: Record<string, string>; body?: string; sequence?: number },
  ): Promise<WsResult> {
    // Own keys only: an action such as "constructor" or "__proto__" must not reach Object.prototype.
    const route = Object.hasOwn(this.#routes, routeKey) ? this.#routes[routeKey] : this.#routes.$default;
    if (!route) return Promise.resolve({ statusCode: 200 });
    const requestId = randomUUID();
    const event: WsEvent = {
      requestContext: {
        routeKey,
        connectionId: input.connectionId,
        eventType: routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
        requestId,
        requestTimeEpoch: Date.now(),
        ...(input.sequence !== undefined && { messageSequence: input.sequence }),
      },
      ...(input.query && { queryStringParameters: input.query }),
      ...(input.body !== undefined && { body: input.body }),
    };
    return route(event, lambdaContext(routeKey, requestId));
  }
}

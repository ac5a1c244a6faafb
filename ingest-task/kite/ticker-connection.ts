import WebSocket from 'ws';
import type { KiteMode, MarketTick } from '../../shared/contracts/tick.js';
import { DependencyUnavailableError, describeError, TimeoutError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { KiteAuthError, KiteRateLimitError } from './errors.js';
import {
  type KiteTextMessage,
  modeMessage,
  type ParseOptions,
  parseFrame,
  parseTextMessage,
  subscribeMessage,
  unsubscribeMessage,
} from './protocol/index.js';

/**
 * One Kite streaming connection, written on `ws` rather than the package's `KiteTicker`: that one
 * keeps its socket and callbacks in module scope (one ticker per process), does not resubscribe
 * after a reconnect, and calls `process.exit(1)` when its retries run out. This one is an ordinary
 * object: many per process, every subscription and mode restored after each reconnect, a watchdog
 * for sockets that go silent without closing, and it never ends the process.
 */

/** Where the connection is in its life. */
export const ConnectionState = {
  idle: 'idle',
  connecting: 'connecting',
  open: 'open',
  reconnecting: 'reconnecting',
  closed: 'closed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** Supplies the access token; asked with `refresh: true` after Kite rejected the current one (403). */
export type AccessTokenProvider = (request: { refresh: boolean }) => Promise<string> | string;

export interface TickerConnectionOptions {
  /** Kite streaming root, e.g. `wss://ws.kite.trade`. */
  readonly url: string;
  readonly accountId: string;
  readonly apiKey: string;
  readonly accessToken: AccessTokenProvider;
  readonly logger: Logger;
  /** Called with every decoded binary frame's ticks, in arrival order. */
  readonly onTicks: (ticks: MarketTick[]) => void;
  /** Called for text frames (order postbacks, errors, broker messages). */
  readonly onText?: (message: KiteTextMessage) => void;
  readonly onStateChange?: (state: ConnectionState) => void;
  /** No frame at all (heartbeats included) for this long means the socket is dead. Default 5 s. */
  readonly watchdogMs?: number;
  /** Reconnect backoff: exponential from `initial` to `max`, with full jitter. */
  readonly reconnectDelayMs?: { readonly initial: number; readonly max: number };
  /** How long `start` keeps trying before it gives up. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Upgrade handshake timeout. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Decode the five-level market depth of full-mode packets. Default true; off where nothing reads it. */
  readonly decodeDepth?: boolean;
}

/** Counters of one connection; they only grow. */
export interface ConnectionCounters {
  frames: number;
  ticks: number;
  heartbeats: number;
  malformedPackets: number;
  reconnects: number;
  authFailures: number;
}

type AttemptOutcome =
  | { readonly kind: 'open' }
  | { readonly kind: 'rejected'; readonly status: number }
  | { readonly kind: 'failed'; readonly error: unknown };

/** Largest token list one client message carries (Kite accepts large lists; smaller frames are gentler). */
const MESSAGE_CHUNK = 1000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class KiteTickerConnection {
  readonly accountId: string;
  readonly counters: ConnectionCounters = {
    frames: 0,
    ticks: 0,
    heartbeats: 0,
    malformedPackets: 0,
    reconnects: 0,
    authFailures: 0,
  };
  readonly #options: TickerConnectionOptions;
  readonly #parseOptions: ParseOptions;
  readonly #watchdogMs: number;
  readonly #modes = new Map<number, KiteMode>();
  #socket: WebSocket | undefined;
  #state: ConnectionState = ConnectionState.idle;
  #lastFrameAt = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #refreshToken = false;
  #openWaiters = new Set<() => void>();

  constructor(options: TickerConnectionOptions) {
    this.#options = options;
    this.#parseOptions = { depth: options.decodeDepth ?? true };
    this.accountId = options.accountId;
    this.#watchdogMs = options.watchdogMs ?? 5000;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Tokens this connection streams (or will, once open), with their modes. */
  get subscriptions(): ReadonlyMap<number, KiteMode> {
    return this.#modes;
  }

  /** Epoch ms of the last frame of any kind; 0 before the first. */
  get lastFrameAt(): number {
    return this.#lastFrameAt;
  }

  /**
   * Opens the connection. Resolves once it is open; rejects with `KiteAuthError` when Kite refuses
   * the token even after a refresh, `KiteRateLimitError` when the key already has its 3
   * connections, and `DependencyUnavailableError` when Kite cannot be reached within the start
   * timeout. After a successful start, losses are repaired in the background, for ever.
   */
  async start(): Promise<void> {
    if (this.#state !== ConnectionState.idle) throw new Error(`Connection already ${this.#state}`);
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attemptOpen();
      if (outcome.kind === 'open') return;
      if (this.#isClosed()) throw new Error('Connection closed while starting');
      if (outcome.kind === 'rejected' && outcome.status === 403) {
        if (refreshed) {
          this.#setState(ConnectionState.closed);
          throw new KiteAuthError(this.accountId);
        }
        refreshed = true;
        this.#refreshToken = true;
        continue;
      }
      if (outcome.kind === 'rejected' && outcome.status === 429) {
        this.#setState(ConnectionState.closed);
        throw new KiteRateLimitError(
          this.accountId,
          `Kite refused another connection for account ${this.accountId} (429)`,
        );
      }
      const wait = this.#backoff(attempt);
      if (Date.now() + wait > deadline) {
        this.#setState(ConnectionState.closed);
        const reason = outcome.kind === 'failed' ? describeError(outcome.error) : `HTTP ${outcome.status}`;
        throw new DependencyUnavailableError('kite', `Cannot reach Kite for account ${this.accountId}: ${reason}`, {
          ...(outcome.kind === 'failed' && { cause: outcome.error }),
        });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Streams `tokens` in `mode` (new tokens are added; known ones change mode). Resolves when the
   * request is on the wire; if the connection is not open within `timeoutMs` it rejects with
   * `TimeoutError` and forgets the tokens this call added, so the caller's view stays true.
   */
  async subscribe(tokens: readonly number[], mode: KiteMode, timeoutMs = 10_000): Promise<void> {
    const added = tokens.filter((t) => !this.#modes.has(t));
    for (const token of tokens) this.#modes.set(token, mode);
    const deadline = Date.now() + timeoutMs;
    try {
      // A socket can die between "open" and the write; the tokens stay wanted, so wait for the
      // reconnect (which resubscribes everything wanted) and send again, until the deadline.
      for (;;) {
        await this.#whenOpen(Math.max(0, deadline - Date.now()));
        try {
          await this.#sendAll([
            ...chunks(added, MESSAGE_CHUNK).map(subscribeMessage),
            ...chunks([...tokens], MESSAGE_CHUNK).map((c) => modeMessage(mode, c)),
          ]);
          return;
        } catch (error) {
          if (Date.now() >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    } catch (error) {
      for (const token of added) this.#modes.delete(token);
      if (error instanceof TimeoutError) throw error;
      throw new DependencyUnavailableError(
        'kite',
        `Subscribe failed on account ${this.accountId}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Stops streaming `tokens`. Tracking is updated at once; the request is sent if the socket is open. */
  async unsubscribe(tokens: readonly number[]): Promise<void> {
    const removed = tokens.filter((t) => this.#modes.delete(t));
    if (removed.length === 0 || this.#state !== ConnectionState.open) return;
    await this.#sendAll(chunks(removed, MESSAGE_CHUNK).map(unsubscribeMessage)).catch((error: unknown) => {
      // The socket died mid-send: the reconnect subscribes only what is still wanted.
      this.#options.logger.debug('Unsubscribe not sent', { accountId: this.accountId, error: describeError(error) });
    });
  }

  /** Closes the socket and stops reconnecting; resolves when the socket is gone. Idempotent. */
  async close(): Promise<void> {
    this.#setState(ConnectionState.closed);
    clearTimeout(this.#reconnectTimer);
    this.#stopWatchdog();
    const socket = this.#socket;
    this.#socket = undefined;
    for (const wake of this.#openWaiters) wake();
    this.#openWaiters.clear();
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => socket.terminate(), 1000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1000);
    });
  }

  async #attemptOpen(): Promise<AttemptOutcome> {
    this.#setState(
      this.#attempt === 0 && this.counters.reconnects === 0 ? ConnectionState.connecting : ConnectionState.reconnecting,
    );
    let token: string;
    try {
      token = await this.#options.accessToken({ refresh: this.#refreshToken });
      this.#refreshToken = false;
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (this.#state === ConnectionState.closed) return { kind: 'failed', error: new Error('closed') };
    const url = new URL(this.#options.url);
    url.searchParams.set('api_key', this.#options.apiKey);
    url.searchParams.set('access_token', token);
    const socket = new WebSocket(url, {
      handshakeTimeout: this.#options.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.#socket = socket;

    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      socket.on('unexpected-response', (_request, response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        if (status === 403) this.counters.authFailures++;
        settle({ kind: 'rejected', status });
        socket.terminate();
      });
      socket.on('error', (error) => settle({ kind: 'failed', error }));
      socket.on('open', () => {
        this.#attempt = 0;
        this.#lastFrameAt = Date.now();
        this.#setState(ConnectionState.open);
        this.#startWatchdog(socket);
        this.#resubscribe();
        for (const wake of this.#openWaiters) wake();
        this.#openWaiters.clear();
        settle({ kind: 'open' });
      });
      socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
      socket.on('close', (code) => {
        settle({ kind: 'failed', error: new Error(`closed with code ${code} before opening`) });
        if (this.#socket !== socket) return;
        this.#socket = undefined;
        this.#stopWatchdog();
        if (this.#state === ConnectionState.open) {
          this.#options.logger.warn('Kite connection lost; reconnecting', { accountId: this.accountId, code });
          this.#scheduleReconnect();
        }
      });
    });
  }

  #scheduleReconnect(): void {
    if (this.#state === ConnectionState.closed) return;
    this.#setState(ConnectionState.reconnecting);
    this.#attempt++;
    const delay = this.#backoff(this.#attempt);
    this.#reconnectTimer = setTimeout(() => {
      void this.#attemptOpen().then((outcome) => {
        if (outcome.kind === 'open') {
          this.counters.reconnects++;
          this.#options.logger.info('Kite connection restored', {
            accountId: this.accountId,
            tokens: this.#modes.size,
          });
          return;
        }
        if (this.#state === ConnectionState.closed) return;
        if (outcome.kind === 'rejected' && outcome.status === 403) {
          // Tokens expire daily and are often found expired only here: ask for a fresh one first.
          this.#refreshToken = true;
          this.#options.logger.error('Kite rejected the access token on reconnect; asking for a fresh one', {
            accountId: this.accountId,
          });
        } else {
          this.#options.logger.warn('Kite reconnect failed', {
            accountId: this.accountId,
            attempt: this.#attempt,
            reason: outcome.kind === 'rejected' ? `HTTP ${outcome.status}` : describeError(outcome.error),
          });
        }
        this.#scheduleReconnect();
      });
    }, delay);
  }

  #backoff(attempt: number): number {
    const { initial, max } = this.#options.reconnectDelayMs ?? { initial: 250, max: 30_000 };
    const ceiling = Math.min(max, initial * 2 ** Math.min(attempt - 1, 20));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const now = Date.now();
    this.#lastFrameAt = now;
    this.counters.frames++;
    if (!isBinary) {
      const message = parseTextMessage(data.toString());
      this.#options.onText?.(message);
      return;
    }
    const bytes = data as Buffer;
    if (bytes.length < 2) {
      this.counters.heartbeats++;
      return;
    }
    const result = parseFrame(bytes, now, undefined, this.#parseOptions);
    this.counters.malformedPackets += result.malformed;
    if (result.ticks.length === 0) return;
    this.counters.ticks += result.ticks.length;
    try {
      this.#options.onTicks(result.ticks);
    } catch (error) {
      this.#options.logger.error('Tick handler failed', { accountId: this.accountId, error: describeError(error) });
    }
  }

  #resubscribe(): void {
    if (this.#modes.size === 0) return;
    const byMode = new Map<KiteMode, number[]>();
    for (const [token, mode] of this.#modes) {
      const list = byMode.get(mode);
      if (list) list.push(token);
      else byMode.set(mode, [token]);
    }
    const messages = chunks([...this.#modes.keys()], MESSAGE_CHUNK).map(subscribeMessage);
    for (const [mode, tokens] of byMode)
      for (const c of chunks(tokens, MESSAGE_CHUNK)) messages.push(modeMessage(mode, c));
    void this.#sendAll(messages).catch(() => {
      // The socket closed again; the next reconnect resubscribes.
    });
  }

  #sendAll(messages: readonly string[]): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('socket not open'));
    }
    return Promise.all(
      messages.map(
        (message) =>
          new Promise<void>((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve()))),
      ),
    ).then(() => undefined);
  }

  #whenOpen(timeoutMs: number): Promise<void> {
    if (this.#state === ConnectionState.open && this.#socket?.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.#state === ConnectionState.closed) return Promise.reject(new Error('connection closed'));
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.#state === ConnectionState.open) resolve();
        else reject(new Error('connection closed'));
      };
      const timer = setTimeout(() => {
        this.#openWaiters.delete(wake);
        reject(new TimeoutError(`Kite connection for account ${this.accountId} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#openWaiters.add(wake);
    });
  }

  #startWatchdog(socket: WebSocket): void {
    this.#stopWatchdog();
    const period = Math.max(50, Math.floor(this.#watchdogMs / 5));
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastFrameAt <= this.#watchdogMs) return;
      this.#options.logger.warn('Kite connection silent; treating it as dead', {
        accountId: this.accountId,
        silentMs: Date.now() - this.#lastFrameAt,
      });
      this.#stopWatchdog();
      socket.terminate();
    }, period);
  }

  #stopWatchdog(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  #isClosed(): boolean {
    return this.#state === ConnectionState.closed;
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state || this.#state === ConnectionState.closed) return;
    this.#state = state;
    this.#options.onStateChange?.(state);
  }
}

import WebSocket from 'ws';
import type { ApiErrorResponse } from '../../shared/contracts/common.js';
import type { InstrumentListResponse } from '../../shared/contracts/instrument.js';
import type { SubscriptionListResponse } from '../../shared/contracts/subscription.js';
import type { TickPayload, UnderlyingBar } from '../../shared/contracts/tick.js';
import { MAX_TOKENS_PER_MESSAGE, ServerMessage } from '../../shared/contracts/websocket.js';

/** What `npm run tail` runs with. */
export interface TailOptions {
  /** The platform's WebSocket URL, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly url: string;
  /** A JWT the platform accepts (query `?token=` on the WebSocket, bearer on REST). */
  readonly jwt: string;
  /**
   * Instrument tokens or tradingsymbols to stream (symbols are looked up in the instrument
   * registry); empty streams every active subscription.
   */
  readonly instruments: readonly string[];
  /** Print each message's `data` as one JSON line instead of a formatted line. */
  readonly json: boolean;
  /** Ends the stream: `tail` then resolves. */
  readonly signal: AbortSignal;
  /** Where tick lines go (stdout). */
  readonly out: (line: string) => void;
  /** Where status lines go (stderr): subscribed, server errors. */
  readonly info: (line: string) => void;
  /** Milliseconds since the epoch; the latency column is now − `received_at_ms`. */
  readonly now?: () => number;
}

/** The platform is not there: nothing listens at the URL, or the host does not resolve. */
export class PlatformUnreachableError extends Error {
  override readonly name = 'PlatformUnreachableError';
  constructor(
    readonly url: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `Cannot reach the platform at ${url} (${reason}). Is \`npm start\` running? Otherwise pass --url with the platform's WebSocket URL.`,
      options,
    );
  }
}

/** The platform answered but refused: a bad or expired token (401/403), or another HTTP error. */
export class TailRefusedError extends Error {
  override readonly name = 'TailRefusedError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The platform closed the stream while it was running. */
export class StreamClosedError extends Error {
  override readonly name = 'StreamClosedError';
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`The platform closed the connection (code ${code}${reason ? `: ${reason}` : ''})`);
  }
}

const priceFormat = new Intl.NumberFormat('en-IN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const timeFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Asia/Kolkata',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
});

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

function time(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : timeFormat.format(ms);
}

/** One option tick as one line: exchange time (IST), symbol, token, price, IV, Greeks, OI, latency. */
export function formatTick(tick: TickPayload, nowMs: number): string {
  const iv = tick.iv === null || tick.iv === undefined ? '—' : `${(tick.iv * 100).toFixed(2)}%`;
  const latency = tick.received_at_ms === undefined ? '' : `  lat ${Math.round(nowMs - tick.received_at_ms)}ms`;
  return [
    time(tick.timestamp),
    tick.tradingsymbol.padEnd(24),
    String(tick.instrument_token).padStart(10),
    `ltp ${priceFormat.format(tick.last_price).padStart(10)}`,
    `iv ${iv.padStart(7)}`,
    `Δ ${fixed(tick.delta, 3).padStart(6)}`,
    `Γ ${fixed(tick.gamma, 5).padStart(8)}`,
    `Θ ${fixed(tick.theta, 2).padStart(7)}`,
    `ν ${fixed(tick.vega, 2).padStart(6)}`,
    `oi ${String(tick.oi).padStart(9)}`,
    `vol ${String(tick.volume).padStart(9)}`,
  ]
    .join('  ')
    .concat(latency);
}

/** One bar of an underlying as one line. */
export function formatBar(bar: UnderlyingBar): string {
  return [
    time(bar.timestamp),
    bar.tradingsymbol.padEnd(24),
    String(bar.instrument_token).padStart(10),
    `bar O ${priceFormat.format(bar.open)} H ${priceFormat.format(bar.high)} L ${priceFormat.format(bar.low)} C ${priceFormat.format(bar.close)}`,
    `vol ${bar.volume}`,
  ].join('  ');
}

/** The REST base URL of the platform whose WebSocket is at `wsUrl`. */
export function restBase(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

async function restGet<T>(options: Pick<TailOptions, 'url' | 'jwt' | 'signal'>, path: string): Promise<T> {
  const url = `${restBase(options.url)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${options.jwt}` }, signal: options.signal });
  } catch (error) {
    if (options.signal.aborted) throw error;
    throw new PlatformUnreachableError(restBase(options.url), { cause: (error as Error).cause ?? error });
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as ApiErrorResponse).error.message;
    } catch {
      // Not the API's error shape: show the body as it is.
    }
    throw new TailRefusedError(response.status, `GET ${path} failed: HTTP ${response.status} ${message}`);
  }
  return JSON.parse(text) as T;
}

/** Turns the command line's tokens and symbols into instrument tokens (every active subscription for none). */
export async function resolveTokens(options: Pick<TailOptions, 'url' | 'jwt' | 'signal' | 'instruments'>) {
  if (options.instruments.length === 0) {
    const tokens: number[] = [];
    let cursor: string | null | undefined = null;
    do {
      const query = new URLSearchParams({ status: 'active', limit: '100', ...(cursor ? { cursor } : {}) });
      const page: SubscriptionListResponse = await restGet(options, `/subscriptions?${query}`);
      tokens.push(...page.subscriptions.map((s) => s.instrument_token));
      cursor = page.next_cursor;
    } while (cursor);
    return tokens;
  }
  const tokens: number[] = [];
  for (const item of options.instruments) {
    if (/^\d+$/.test(item)) {
      tokens.push(Number(item));
      continue;
    }
    const found: InstrumentListResponse = await restGet(
      options,
      `/instruments?${new URLSearchParams({ q: item, limit: '20' })}`,
    );
    const match = found.instruments.find((i) => i.tradingsymbol.toUpperCase() === item.toUpperCase());
    if (match === undefined) {
      const near = found.instruments.slice(0, 3).map((i) => i.tradingsymbol);
      throw new TailRefusedError(
        404,
        `No instrument is named ${item}${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`,
      );
    }
    tokens.push(match.instrument_token);
  }
  return tokens;
}

/**
 * Streams ticks from the platform's WebSocket API until `signal` aborts: connects with the JWT,
 * subscribes the tokens and writes each tick (or bar) as one line as it arrives. Rejects with
 * `PlatformUnreachableError` when nothing answers, `TailRefusedError` when the upgrade is refused
 * (a bad token), and `StreamClosedError` when the platform ends the stream.
 */
export async function tail(options: TailOptions): Promise<void> {
  const tokens = await resolveTokens(options);
  if (tokens.length === 0) throw new TailRefusedError(404, 'Nothing to stream: there are no active subscriptions');
  const now = options.now ?? Date.now;
  const endpoint = new URL(options.url);
  endpoint.searchParams.set('token', options.jwt);

  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(endpoint);
    let opened = false;
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'tail stopped');
      settle();
    };
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener('abort', onAbort, { once: true });

    ws.on('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        let message = body.trim();
        try {
          const parsed = JSON.parse(body) as { message?: unknown; error?: { message?: unknown } };
          message = String(parsed.error?.message ?? parsed.message ?? body);
        } catch {
          // Not JSON: the body as it is.
        }
        const status = response.statusCode ?? 0;
        const hint =
          status === 401 || status === 403 ? ' (is the token valid, unexpired and signed with JWT_SECRET?)' : '';
        settle(new TailRefusedError(status, `The platform refused the connection: HTTP ${status} ${message}${hint}`));
        request.destroy();
      });
    });
    ws.on('error', (error) => {
      if (!opened) settle(new PlatformUnreachableError(options.url, { cause: error }));
    });
    ws.on('open', () => {
      opened = true;
      for (let i = 0; i < tokens.length; i += MAX_TOKENS_PER_MESSAGE) {
        ws.send(JSON.stringify({ action: 'subscribe', tokens: tokens.slice(i, i + MAX_TOKENS_PER_MESSAGE) }));
      }
    });
    ws.on('message', (data) => {
      const parsed = ServerMessage.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) {
        options.info(`Ignored a message outside the protocol: ${data.toString().slice(0, 200)}`);
        return;
      }
      const message = parsed.data;
      switch (message.type) {
        case 'connected':
          options.info(`Connected to ${options.url} as ${message.user.user_id}`);
          break;
        case 'subscribed':
        case 'unsubscribed':
          options.info(`${message.type} ${message.tokens.length} token(s); streaming ${message.total}`);
          break;
        case 'error':
          options.info(`Platform error: ${message.message}`);
          break;
        case 'tick':
          options.out(options.json ? JSON.stringify(message.data) : formatTick(message.data, now()));
          break;
        case 'ticks':
          for (const tick of message.data) options.out(options.json ? JSON.stringify(tick) : formatTick(tick, now()));
          break;
        case 'bar':
          options.out(options.json ? JSON.stringify(message.data) : formatBar(message.data));
          break;
        case 'pong':
        case 'configured':
          break;
      }
    });
    ws.on('close', (code, reason) => {
      settle(new StreamClosedError(code, reason.toString()));
    });
  });
}

import { KiteConnect } from 'kiteconnect';
import Papa from 'papaparse';
import { z } from 'zod';
import { KiteOrder, kiteOrderState } from '../../contracts/kite-order.js';
import { Interner } from '../../domain/interner.js';
import { splitHistoricalRange } from '../../domain/kite/historical-range.js';
import type { KiteEndpointClass } from '../../domain/kite/rate-limiter.js';
import type { BrokerOrderState } from '../../domain/orders/broker-order.js';
import { describeError, ErrorCode, PlatformError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { type BrokerErrorKind, RETRYABLE_BROKER_ERRORS } from '../../ports/broker.js';
import type { Clock } from '../../ports/clock.js';
import type { Candle, CandleInterval, Instrument } from '../../ports/market-data.js';
import type { RateBudget } from '../../ports/rate-budget.js';

/**
 * Kite reads `from` and `to` as Indian wall-clock time. kiteconnect formats `Date`s in the
 * machine's time zone (UTC on Lambda), so times are sent as IST strings instead.
 */
function istWallClock(epochMs: number): string {
  return new Date(epochMs + 5.5 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

type ResponseTransformer = (data: unknown, headers: Record<string, unknown>) => unknown;

/** The part of kiteconnect's client that exposes its axios instance. */
interface AxiosHolder {
  readonly requestInstance: {
    readonly interceptors: {
      readonly request: {
        use(
          onFulfilled: (config: { transformResponse?: ResponseTransformer | ResponseTransformer[] }) => unknown,
        ): unknown;
      };
    };
  };
}

/** Rejects a response that says it is JSON but does not parse, carrying its raw body. */
function rejectMalformedJson(data: unknown, headers: Record<string, unknown>): unknown {
  const type = String(headers?.['content-type'] ?? '');
  if (typeof data === 'string' && type.includes('json')) {
    try {
      JSON.parse(data);
    } catch {
      throw { error_type: 'DataException', message: `Response is not valid JSON: ${data.slice(0, 2000)}` };
    }
  }
  return data;
}

/** The kiteconnect method that turns an instrument list's CSV into rows; replaced per client below. */
interface InstrumentsParserHolder {
  transformInstrumentsResponse: ResponseTransformer;
}

/** The kiteconnect client instance type (the package exports the constructor only). */
type Connect = InstanceType<typeof KiteConnect>;

/**
 * A failed Kite REST call, typed. kiteconnect rejects with plain objects
 * (`{status, message, error_type}`), not `Error`s; this wraps them, keeps the original as `cause`,
 * and says whether retrying can help.
 */
export class KiteApiError extends PlatformError {
  readonly code: ErrorCode;
  override readonly retryable: boolean;
  /**
   * Whether the request may have reached Kite. False when the client never sent it (the rate
   * budget said wait longer than the caller could, or could not be read): such a failure says
   * nothing about Kite's health.
   */
  readonly sent: boolean;
  /** For a call never sent for want of budget: how long until the budget has room, in ms. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly accountId: string,
    readonly kind: BrokerErrorKind,
    readonly errorType: string,
    message: string,
    options?: { cause?: unknown; sent?: boolean; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryable = RETRYABLE_BROKER_ERRORS.has(kind);
    this.sent = options?.sent ?? true;
    this.retryAfterMs = options?.retryAfterMs;
    this.code =
      kind === 'rate-limited'
        ? ErrorCode.rateLimited
        : kind === 'token'
          ? ErrorCode.unauthorized
          : kind === 'permission'
            ? ErrorCode.forbidden
            : kind === 'input' || kind === 'margin'
              ? ErrorCode.validation
              : kind === 'timeout'
                ? ErrorCode.timeout
                : ErrorCode.dependencyUnavailable;
  }
}

const KiteRejection = z.object({ error_type: z.string(), message: z.string().optional() });

/** Maps one kiteconnect rejection (or thrown value) to a {@link KiteApiError}. */
export function toKiteApiError(raw: unknown, accountId: string): KiteApiError {
  if (raw instanceof KiteApiError) return raw;
  const parsed = KiteRejection.safeParse(raw);
  const errorType = parsed.success ? parsed.data.error_type : 'GeneralException';
  const message = parsed.success
    ? (parsed.data.message ?? errorType)
    : raw instanceof Error
      ? raw.message
      : 'Unknown Kite error';
  const kind: BrokerErrorKind = (() => {
    switch (errorType) {
      case 'TokenException':
        return 'token';
      case 'InputException':
      case 'OrderException':
        return 'input';
      case 'MarginException':
      case 'HoldingException':
        return 'margin';
      case 'PermissionException':
      case 'UserException':
        return 'permission';
      case 'NetworkException':
        if (/too many requests|rate limit/i.test(message)) return 'rate-limited';
        if (/ECONNABORTED|ETIMEDOUT|timeout/i.test(message)) return 'timeout';
        return 'network';
      default:
        return 'server';
    }
  })();
  return new KiteApiError(accountId, kind, errorType, `Kite ${errorType} for account ${accountId}: ${message}`, {
    cause: raw,
  });
}

const Num = z.union([z.number(), z.string().transform(Number)]).pipe(z.number().refine(Number.isFinite));
const HistoricalRow = z.object({
  date: z.union([z.date(), z.string().transform((s) => new Date(s))]),
  open: Num,
  high: Num,
  low: Num,
  close: Num,
  volume: Num,
  oi: Num.optional(),
});
const InstrumentRow = z.object({
  instrument_token: Num,
  tradingsymbol: z.string(),
  name: z.string().default(''),
  exchange: z.string(),
  segment: z.string(),
  instrument_type: z.string(),
  strike: Num.catch(0),
  expiry: z.union([z.date(), z.string()]).optional(),
  lot_size: Num.catch(0),
  tick_size: Num.catch(0),
});

/** Kite lists the indices under their display names; the platform names them by the underlying. */
const INDEX_UNDERLYING: Readonly<Record<string, string>> = { 'NIFTY 50': 'NIFTY', 'NIFTY BANK': 'BANKNIFTY' };

/** The index options the platform streams. */
const UNDERLYINGS = new Set(Object.values(INDEX_UNDERLYING));

/** Whether an instrument-master row is the platform's: a NIFTY or BANKNIFTY contract, or one of the two indices. */
function isPlatformRow(fields: Record<string, unknown>): boolean {
  return (
    UNDERLYINGS.has(fields.name as string) ||
    (fields.segment === 'INDICES' && Object.hasOwn(INDEX_UNDERLYING, fields.tradingsymbol as string))
  );
}

/**
 * The platform's rows of an instrument list. kiteconnect's own parser makes an object of every row
 * of the exchange before returning (papaparse in header mode over the whole text): Kite's NFO list
 * has some 90,000 contracts, a quarter of them NIFTY's and BANKNIFTY's, and the rest took about
 * 80 MB of heap at once while the ingest task started. This walks the rows one at a time
 * (papaparse's step mode) and keeps only the platform's, so every other row is garbage as soon as
 * it is read. Values stay text; `InstrumentRow` converts them.
 */
function platformInstrumentRows(data: unknown, headers: Record<string, unknown>): unknown {
  if (typeof data !== 'string' || !String(headers?.['content-type'] ?? '').includes('text/csv')) return data;
  const kept: Record<string, unknown>[] = [];
  Papa.parse<Record<string, unknown>>(data, {
    header: true,
    skipEmptyLines: true,
    step: (row) => {
      if (isPlatformRow(row.data)) kept.push(row.data);
    },
  });
  return kept;
}

const LtpResponse = z.record(z.string(), z.object({ instrument_token: Num, last_price: Num }));
const OrderResponse = z.object({ order_id: z.union([z.string(), z.number()]).transform(String) });
/** One row of the day's order book, as the order broker reads it. */
export interface KiteOrderBookEntry {
  readonly orderId: string;
  readonly status: string | null;
  readonly tags: readonly string[];
  readonly averagePrice: number | null;
  /** The whole order as the platform follows it. */
  readonly state: BrokerOrderState;
}

export interface KiteRestClientOptions {
  readonly accountId: string;
  readonly apiKey: string;
  readonly accessToken: string;
  /** REST root; the default is Kite's. */
  readonly root?: string;
  /** Per-request timeout. Default 10 s. */
  readonly timeoutMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Kite's limits, shared with every other process calling Kite (docs/architecture.md): orders are counted
   * per account id, the other classes per api key.
   */
  readonly budget: RateBudget;
  /**
   * How long a call may wait for budget when its caller names no deadline. Default 5 s: a REST
   * Lambda answers well within API Gateway's 29 s, and a longer wait is better told to the caller.
   */
  readonly maxWaitMs?: number;
}

/** How often a call Kite answered 429 is sent again, and after how long: a second in all, Kite's window. */
const KITE_429_RETRIES = 10;
const KITE_429_BACKOFF_MS = 100;

/** What a caller tells one call. */
export interface KiteCallOptions {
  /**
   * Epoch ms by which the call must have been sent (the caller's own deadline, e.g. what a Lambda
   * has left). A wait for budget that would end later is not waited: the call fails at once with a
   * `rate-limited` {@link KiteApiError} that was never sent and carries the wait.
   */
  readonly deadline?: number;
}

/**
 * Kite REST for one account through `kiteconnect`, within Kite's rate limits: each endpoint class
 * (quote 1/s, historical 3/s, orders 10/s + 400/min + 5000/day, others 10/s) takes a permit of the
 * shared {@link RateBudget} before it is sent (orders per account, the rest per api key), so no
 * process sends a call that Kite would answer with 429. Calls of one class wait in a FIFO; a call
 * that would have to wait past its deadline fails unsent with the wait it was told. Responses are
 * validated; a malformed one is an error logged with its raw body, never a crash.
 */
export class KiteRestClient {
  readonly accountId: string;
  readonly #apiKey: string;
  readonly #kite: Connect;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #budget: RateBudget;
  readonly #maxWaitMs: number;
  readonly #queues: Record<KiteEndpointClass, Promise<void>>;

  constructor(options: KiteRestClientOptions) {
    this.accountId = options.accountId;
    this.#apiKey = options.apiKey;
    this.#budget = options.budget;
    this.#maxWaitMs = options.maxWaitMs ?? 5000;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#kite = new KiteConnect({
      api_key: options.apiKey,
      access_token: options.accessToken,
      timeout: options.timeoutMs ?? 10_000,
      ...(options.root !== undefined && { root: options.root }),
    });
    // A body that claims to be JSON but is not reaches kiteconnect's parsers as a string; they crash
    // on it and the body is lost. Check it first and reject with the raw body, so it can be logged.
    (this.#kite as unknown as AxiosHolder).requestInstance.interceptors.request.use((config) => {
      const later = config.transformResponse;
      config.transformResponse = [rejectMalformedJson, ...(Array.isArray(later) ? later : later ? [later] : [])];
      return config;
    });
    (this.#kite as unknown as InstrumentsParserHolder).transformInstrumentsResponse = platformInstrumentRows;
    this.#queues = {
      quote: Promise.resolve(),
      historical: Promise.resolve(),
      orders: Promise.resolve(),
      other: Promise.resolve(),
    };
  }

  /**
   * Candles for [from, to] (epoch ms), split into as many requests as the interval's day limit
   * needs and concatenated in time order.
   */
  async historical(
    query: {
      instrumentToken: number;
      from: number;
      to: number;
      interval: CandleInterval;
      oi: boolean;
    },
    options: KiteCallOptions = {},
  ): Promise<Candle[]> {
    const candles: Candle[] = [];
    for (const piece of splitHistoricalRange(query.from, query.to, query.interval)) {
      const rows = await this.#call('historical', 'getHistoricalData', z.array(HistoricalRow), options, (kite) =>
        kite.getHistoricalData(
          query.instrumentToken,
          query.interval,
          istWallClock(piece.from),
          istWallClock(piece.to),
          false,
          query.oi,
        ),
      );
      for (const row of rows) {
        candles.push({
          date: row.date.getTime(),
          open: row.open,
          high: row.high,
          low: row.low,
          close: row.close,
          volume: row.volume,
          oi: row.oi ?? null,
        });
      }
    }
    return candles;
  }

  /**
   * The instrument master rows the platform uses: NIFTY and BANKNIFTY options and futures (NFO)
   * and the two indices (NSE), with each index named by its underlying.
   */
  async instruments(options: KiteCallOptions = {}): Promise<Instrument[]> {
    const out: Instrument[] = [];
    const texts = new Interner();
    for (const exchange of ['NSE', 'NFO'] as const) {
      const rows = await this.#call('other', 'getInstruments', z.array(z.unknown()), options, (kite) =>
        kite.getInstruments(exchange),
      );
      for (const raw of rows) {
        const row = InstrumentRow.safeParse(raw);
        if (!row.success) continue;
        const r = row.data;
        const indexName = r.segment === 'INDICES' ? INDEX_UNDERLYING[r.tradingsymbol] : undefined;
        const type = indexName ? 'INDEX' : r.instrument_type;
        const name = indexName ?? r.name;
        if (!UNDERLYINGS.has(name) || !['INDEX', 'CE', 'PE', 'FUT'].includes(type)) continue;
        const expiry = r.expiry instanceof Date ? r.expiry.toISOString().slice(0, 10) : r.expiry || null;
        out.push({
          instrumentToken: r.instrument_token,
          tradingsymbol: r.tradingsymbol,
          name: texts.intern(name),
          exchange: texts.intern(r.exchange),
          segment: texts.intern(r.segment),
          instrumentType: texts.intern(type) as Instrument['instrumentType'],
          strike: r.strike,
          expiry: expiry && /^\d{4}-\d{2}-\d{2}$/.test(expiry) ? texts.intern(expiry) : null,
          lotSize: r.lot_size,
          tickSize: r.tick_size,
        });
      }
    }
    return out;
  }

  /** Last prices of `instruments` (`EXCHANGE:TRADINGSYMBOL`), by that key. */
  async lastPrices(
    instruments: readonly string[],
    options: KiteCallOptions = {},
  ): Promise<Map<string, { instrumentToken: number; lastPrice: number }>> {
    const data = await this.#call('quote', 'getLTP', LtpResponse, options, (kite) => kite.getLTP([...instruments]));
    return new Map(
      Object.entries(data).map(([key, v]) => [key, { instrumentToken: v.instrument_token, lastPrice: v.last_price }]),
    );
  }

  /** Places an order; resolves with Kite's order id. */
  placeOrder(variety: string, params: Record<string, unknown>, options: KiteCallOptions = {}): Promise<string> {
    return this.#call('orders', 'placeOrder', OrderResponse, options, (kite) =>
      kite.placeOrder(variety as Parameters<Connect['placeOrder']>[0], params as Parameters<Connect['placeOrder']>[1]),
    ).then((r) => r.order_id);
  }

  /** Modifies an open order; resolves with its order id. */
  modifyOrder(
    variety: string,
    orderId: string,
    params: Record<string, unknown>,
    options: KiteCallOptions = {},
  ): Promise<string> {
    return this.#call('orders', 'modifyOrder', OrderResponse, options, (kite) =>
      kite.modifyOrder(
        variety as Parameters<Connect['modifyOrder']>[0],
        orderId,
        params as Parameters<Connect['modifyOrder']>[2],
      ),
    ).then((r) => r.order_id);
  }

  /** Cancels an open order; resolves with its order id. */
  cancelOrder(variety: string, orderId: string, options: KiteCallOptions = {}): Promise<string> {
    return this.#call('orders', 'cancelOrder', OrderResponse, options, (kite) =>
      kite.cancelOrder(variety as Parameters<Connect['cancelOrder']>[0], orderId),
    ).then((r) => r.order_id);
  }

  /** The day's orders of this account (Kite's order book), with their tags. */
  async orderBook(options: KiteCallOptions = {}): Promise<KiteOrderBookEntry[]> {
    const rows = await this.#call('other', 'getOrders', z.array(KiteOrder), options, (kite) => kite.getOrders());
    return rows.map((r) => ({
      orderId: r.order_id,
      status: r.status,
      tags: [...(r.tags ?? []), ...(r.tag ? [r.tag] : [])],
      averagePrice: r.average_price ?? null,
      state: kiteOrderState(r),
    }));
  }

  async #call<T>(
    endpoint: KiteEndpointClass,
    name: string,
    schema: z.ZodType<T>,
    options: KiteCallOptions,
    request: (kite: Connect) => Promise<unknown>,
  ): Promise<T> {
    const deadline = options.deadline ?? this.#clock.now() + this.#maxWaitMs;
    let raw: unknown;
    for (let refused = 0; ; refused++) {
      await this.#permit(endpoint, name, deadline);
      try {
        raw = await request(this.#kite);
        break;
      } catch (error) {
        const mapped = toKiteApiError(error, this.accountId);
        // Kite's own 429 refuses an order call before doing it, so sending it again cannot double it;
        // the budget is exact, and arrival jitter can still put an 11th call in Kite's second. Data
        // calls fail at once: market data fails over to another account (TC-ERR-020).
        const again = endpoint === 'orders' && mapped.kind === 'rate-limited' && refused < KITE_429_RETRIES;
        if (!again) throw this.#failed(name, mapped);
        if (this.#clock.now() + KITE_429_BACKOFF_MS > deadline) throw this.#failed(name, mapped);
        this.#logger.warn('Kite answered 429; sending again', { accountId: this.accountId, call: name });
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, KITE_429_BACKOFF_MS));
      }
    }
    return this.#parse(name, schema, raw);
  }

  /** Logs a failed call and returns its error to throw. */
  #failed(name: string, mapped: KiteApiError): KiteApiError {
    if (mapped.errorType === 'DataException') {
      this.#logger.error('Malformed Kite response', {
        accountId: this.accountId,
        call: name,
        body: mapped.message.slice(0, 2000),
      });
      return mapped;
    }
    this.#logger.warn('Kite call failed', {
      accountId: this.accountId,
      call: name,
      kind: mapped.kind,
      error: mapped.message,
    });
    return mapped;
  }

  /** Validates a response; a malformed one is logged with its raw body and thrown as a `server` error. */
  #parse<T>(name: string, schema: z.ZodType<T>, raw: unknown): T {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const body = typeof raw === 'string' ? raw : JSON.stringify(raw);
    this.#logger.error('Malformed Kite response', {
      accountId: this.accountId,
      call: name,
      body: body?.slice(0, 2000),
    });
    throw new KiteApiError(this.accountId, 'server', 'DataException', `Malformed Kite response to ${name}`, {
      cause: parsed.error,
    });
  }

  /**
   * Waits for a permit of `endpoint`'s budget, callers of one class in order. The budget says how
   * long to wait; a wait that would end after `deadline` is not started: the call fails unsent and
   * retryable, carrying the wait, so a queue consumer can put its message back for that long.
   */
  #permit(endpoint: KiteEndpointClass, name: string, deadline: number): Promise<void> {
    const key = endpoint === 'orders' ? this.accountId : this.#apiKey;
    const turn = this.#queues[endpoint].then(async () => {
      for (;;) {
        let wait: number;
        try {
          wait = await this.#budget.take(endpoint, key);
        } catch (error) {
          throw new KiteApiError(
            this.accountId,
            'network',
            'RateBudgetUnavailable',
            `Kite ${name} for account ${this.accountId} not sent: the rate budget could not be read (${describeError(error)})`,
            { cause: error, sent: false },
          );
        }
        if (wait === 0) return;
        const now = this.#clock.now();
        if (now + wait > deadline) {
          this.#logger.warn('Kite call not sent: rate budget wait exceeds the deadline', {
            accountId: this.accountId,
            call: name,
            waitMs: wait,
            deadlineInMs: deadline - now,
          });
          throw new KiteApiError(
            this.accountId,
            'rate-limited',
            'RateBudgetExceeded',
            `Kite ${name} for account ${this.accountId} not sent: the ${endpoint} budget has room in ${wait} ms, after the call's deadline`,
            { sent: false, retryAfterMs: wait },
          );
        }
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, wait));
      }
    });
    this.#queues[endpoint] = turn.catch(() => {});
    return turn;
  }
}

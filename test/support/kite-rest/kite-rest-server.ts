import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NSE_FREEZE_QUANTITIES } from '../../../shared/domain/orders/exchange-rules.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import {
  FAKE_KITE_LAST_PRICE,
  type FakeKiteAppIdentity,
  type FakeKiteOrder,
  FakeKiteOrders,
  type FakeKiteOrderUpdate,
  type ModifiableField,
  OPEN_STATUSES,
  type OrderEntry,
  type PostbackDelivery,
} from './fake-kite-orders.js';
import {
  KITE_MESSAGES,
  KITE_ORDER_LIMITS,
  LOOPBACK_ADDRESSES,
  limitPriceBand,
  normalizeAddress,
  OrderCallLedger,
  type OrderRateLimits,
  outsideBand,
} from './kite-order-rules.js';

export {
  FAKE_KITE_LAST_PRICE,
  type FakeKiteOrder,
  type FakeKiteOrderUpdate,
  type KitePostbackPayload,
  type PostbackDelivery,
} from './fake-kite-orders.js';
export { KITE_MESSAGES, KITE_ORDER_LIMITS, type OrderRateLimits } from './kite-order-rules.js';

/** What the fake does with the next matching requests, in place of a normal answer. */
export type KiteRestFault =
  | { readonly kind: 'status'; readonly status: number; readonly body: unknown }
  /** No answer, and the request has no effect: it never reached Kite. */
  | { readonly kind: 'hang' }
  /** The request takes effect (an order is placed, modified, cancelled), but no answer comes back: a timeout. */
  | { readonly kind: 'apply-then-hang' }
  | { readonly kind: 'malformed'; readonly body: string };

/** The instrument master served when a test gives none: the indices, a stock and a few NFO contracts. */
const BUILT_IN_MASTER: Readonly<Record<'NSE' | 'NFO', readonly string[]>> = {
  NSE: [
    '256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE',
    '260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE',
    '738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,NSE,NSE',
  ],
  // The January 2026 series: monthly contracts expire on the last Tuesday, NIFTY lot 65, BANKNIFTY 30.
  NFO: [
    '12345602,48225,NIFTY26JAN24000CE,NIFTY,0,2026-01-27,24000,0.05,65,CE,NFO-OPT,NFO',
    '12345858,48226,NIFTY26JAN24000PE,NIFTY,0,2026-01-27,24000,0.05,65,PE,NFO-OPT,NFO',
    '13345602,52225,BANKNIFTY26JANFUT,BANKNIFTY,0,2026-01-27,0,0.05,30,FUT,NFO-FUT,NFO',
    '14345602,62225,FINNIFTY26JAN23000CE,FINNIFTY,0,2026-01-27,23000,0.05,60,CE,NFO-OPT,NFO',
  ],
};

const INSTRUMENT_MASTER_HEADER =
  'instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange';

/**
 * `instruments` as rows of Kite's instrument master CSV, by exchange. Kite lists an index under its
 * display name (`NIFTY 50`, segment `INDICES`, type `EQ`); the platform's client maps it back.
 */
function instrumentMasterRows(instruments: readonly Instrument[]): Map<string, string[]> {
  const byExchange = new Map<string, string[]>();
  for (const i of instruments) {
    const index = i.instrumentType === 'INDEX';
    const row = [
      i.instrumentToken,
      i.instrumentToken >>> 8,
      i.tradingsymbol,
      index ? i.tradingsymbol : i.name,
      0,
      i.expiry ?? '',
      i.strike,
      i.tickSize,
      i.lotSize,
      index ? 'EQ' : i.instrumentType,
      i.segment,
      i.exchange,
    ].join(',');
    const rows = byExchange.get(i.exchange) ?? [];
    rows.push(row);
    byExchange.set(i.exchange, rows);
  }
  return byExchange;
}

/** One request the fake received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly at: number;
  readonly apiKey: string | undefined;
  /** The caller's address as the socket saw it (`::ffff:` dropped from IPv4 peers). */
  readonly address: string;
}

/** Kite's order rules since April 2026. Each is on unless a test turns it off, so tests meet the real Kite. */
export interface KiteOrderRuleOptions {
  /** 429 once an account's order calls (place, modify, cancel) fill a window; `false`: no limits. Default {@link KITE_ORDER_LIMITS}. */
  readonly orderRateLimits?: false | Partial<OrderRateLimits>;
  /** MARKET and SL-M orders without `market_protection`, or with 0, are refused (400 InputException). Default on. */
  readonly marketProtection?: boolean;
  /**
   * The source addresses order calls must come from, for every api key (`setRegisteredAddresses`
   * changes one key's); data routes answer any address, as on Kite. `false`: any. Default loopback.
   */
  readonly registeredAddresses?: false | readonly string[];
  /**
   * A LIMIT price (an SL price: around its trigger) outside the exchange's band is refused with
   * Kite's "circuit limits" message: `'response'` answers the call 400 InputException, `'order'`
   * accepts it and the order goes REJECTED with that `status_message`. `false`: no band. Default `'response'`.
   */
  readonly priceBand?: false | 'response' | 'order';
  /**
   * An NFO order above its underlying's freeze quantity (NSE_FREEZE_QUANTITIES, the underlying read
   * off the trading symbol) is refused 400 InputException, as the exchange's freeze does. Default on.
   */
  readonly freezeQuantity?: boolean;
}

/** How a fake Kite REST server is set up; everything but `accounts` has a default. */
export interface KiteRestServerOptions {
  /** Access token by api key: the accounts the fake accepts. */
  readonly accounts: Readonly<Record<string, string>>;
  /** The instrument master to serve instead of the built-in handful of rows (benchmarks need thousands). */
  readonly instruments?: readonly Instrument[];
  /**
   * Answer 429 (`NetworkException`, "Too many requests"), as Kite does, to a call that would be the
   * 11th order, 4th historical or 2nd quote call of an api key in any sliding second. Off by default.
   */
  readonly enforceLimits?: boolean;
  /** `api_secret` by api key, for postback checksums. Default `<api_key>-secret`. */
  readonly apiSecrets?: Readonly<Record<string, string>>;
  /** Postback URL by api key (the app's registered one); none: updates reach only listeners. */
  readonly postbackUrls?: Readonly<Record<string, string>>;
  /** Kite user id (`user_id`, `placed_by`) by api key. Default `FK0001`, `FK0002`, … in `accounts` order. */
  readonly userIds?: Readonly<Record<string, string>>;
  readonly rules?: KiteOrderRuleOptions;
  /** The clock of order timestamps and rate windows. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * A running fake Kite REST server: the routes, the order book and market behind them, and the
 * controls a test uses to move orders along, observe Kite's updates, and break things.
 */
export interface FakeKiteRest {
  /** `http://127.0.0.1:<port>`: kiteconnect's `root`. */
  readonly root: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** When `apiKey`'s calls of `cls` were accepted (epoch ms at arrival), oldest first; 429s are not in it. */
  accepted(apiKey: string, cls: FakeKiteLimitClass): readonly number[];
  /** How many of `apiKey`'s calls of `cls` were answered 429 for exceeding a limit (with `enforceLimits`). */
  throttled(apiKey: string, cls: FakeKiteLimitClass): number;
  /** The order book of `apiKey`, oldest first (live: tests may change an order's fields, as Kite's RMS would). */
  orders(apiKey: string): FakeKiteOrder[];
  /** The order `orderId` (live); a RangeError for an id the fake never gave out. */
  order(orderId: string): FakeKiteOrder;
  /** Snapshots of `orderId` at every status it passed through, oldest first: what `GET /orders/{order_id}` answers. */
  orderHistory(orderId: string): readonly FakeKiteOrder[];
  /** The next `times` requests whose path matches (for `apiKey`, if given) get `fault`. */
  inject(path: RegExp, fault: KiteRestFault, times?: number, apiKey?: string): void;

  /**
   * Fills an OPEN order as the exchange would: `quantity` (default: all that is pending) at `price`
   * (default: the instrument's last price). Part of it: the order stays OPEN and the update says
   * `UPDATE`; the rest: COMPLETE. A RangeError for an order that is not OPEN or a quantity above
   * what is pending.
   */
  fill(orderId: string, fill?: { quantity?: number; price?: number }): FakeKiteOrder;
  /** Rejects an order that has not finished (OPEN, TRIGGER PENDING), with `message` as its `status_message`. */
  reject(orderId: string, message?: string): FakeKiteOrder;
  /**
   * Sets the last traded price of `tradingsymbol` (default {@link FAKE_KITE_LAST_PRICE}): MARKET
   * orders fill at it, and every resting order of the instrument is matched against it at once
   * (a stop whose trigger it reaches goes OPEN; a LIMIT it crosses fills at it).
   */
  setLastPrice(tradingsymbol: string, price: number): void;
  lastPrice(tradingsymbol: string): number;
  /** Sets (or, with undefined, clears) the reference price of the band; without one the band is around the last price. */
  setReferencePrice(tradingsymbol: string, price: number | undefined): void;
  referencePrice(tradingsymbol: string): number;

  /** Calls `listener` with every order update as it is delivered; returns the unsubscribe. Forward them to the ticker with `forwardOrderUpdates`. */
  onOrderUpdate(listener: (update: FakeKiteOrderUpdate) => void): () => void;
  /** Every update emitted so far (of `orderId` only, if given), in emission order. */
  orderUpdates(orderId?: string): readonly FakeKiteOrderUpdate[];
  /** From now on updates wait instead of being delivered (listeners and postbacks alike), until `releaseUpdates`. */
  holdUpdates(): void;
  /** The updates waiting since `holdUpdates`. */
  heldUpdates(): readonly FakeKiteOrderUpdate[];
  /**
   * Delivers the held updates as `arrange` orders them (reversed, shuffled, repeated: any array of
   * them; default as emitted), resumes prompt delivery, and resolves when their postbacks are answered.
   */
  releaseUpdates(arrange?: (held: readonly FakeKiteOrderUpdate[]) => readonly FakeKiteOrderUpdate[]): Promise<void>;
  /** Delivers the updates of `orderId` emitted so far again (through `arrange`, default as emitted), as a repeating Kite would. */
  replayUpdates(
    orderId: string,
    arrange?: (updates: readonly FakeKiteOrderUpdate[]) => readonly FakeKiteOrderUpdate[],
  ): Promise<void>;
  /** Sets (or removes) where `apiKey`'s postbacks go. */
  setPostbackUrl(apiKey: string, url: string | undefined): void;
  /** What became of every postback POST, in completion order. */
  postbackDeliveries(): readonly PostbackDelivery[];
  /** Resolves once every postback POST started so far has been answered or has failed. */
  postbacksSettled(): Promise<void>;
  /** The `api_secret` the checksums of `apiKey`'s postbacks use. */
  apiSecret(apiKey: string): string;

  /** Sets the registered source addresses of `apiKey` (undefined: back to the default of `rules.registeredAddresses`). */
  setRegisteredAddresses(apiKey: string, addresses: readonly string[] | undefined): void;
  /** The account the order limits count by: `<api_key>:<access_token>`. */
  accountKey(apiKey: string): string;
  /** Accept times (epoch ms, the fake's clock) of the account's order calls, oldest first; calls answered 429 are not in it. `account`: an api key or an account key. */
  orderCallTimes(account: string): readonly number[];
  /** The most order calls of `account` accepted within any `windowMs`: `maxOrdersInAnyWindow(key, 1000) <= 10` is Kite's rule. */
  maxOrdersInAnyWindow(account: string, windowMs: number): number;
  stop(): Promise<void>;
}

/** Kite's rate-limited endpoint classes, as the fake counts them. */
export type FakeKiteLimitClass = 'orders' | 'historical' | 'quote';

/** Kite's limits per api key that the fake enforces when asked: at most `limit` in any sliding second. */
const FAKE_KITE_LIMITS: Record<FakeKiteLimitClass, number> = { orders: 10, historical: 3, quote: 1 };

/** The class of a request, or undefined for the endpoints the fake does not limit. */
function limitClass(method: string, path: string): FakeKiteLimitClass | undefined {
  if (path.startsWith('/orders/') && method !== 'GET') return 'orders';
  if (path.startsWith('/instruments/historical/')) return 'historical';
  if (path.startsWith('/quote')) return 'quote';
  return undefined;
}

/**
 * A Kite Connect REST server that speaks the real wire format (the `{status, data}` envelope,
 * `Authorization: token key:token`, error bodies with `error_type`), so tests drive the real
 * `kiteconnect` client against it. Routes: historical candles, the instrument master (a few fixed
 * rows, or `instruments` as Kite would list them), LTP, and the order routes (place, modify,
 * cancel, the order book, an order's history) over an order book per api key, under Kite's 2026
 * order rules. Every change of an order is emitted as Kite reports it: a postback POSTed to the api
 * key's postback URL, and an update to listeners (the ticker's order frames).
 */
export async function startKiteRestServer(options: KiteRestServerOptions): Promise<FakeKiteRest> {
  const now = options.now ?? Date.now;
  const rules = options.rules ?? {};
  const masterRows = options.instruments ? instrumentMasterRows(options.instruments) : undefined;
  const tokens = instrumentTokens(options.instruments);
  const requests: RecordedRequest[] = [];
  const apiKeys = Object.keys(options.accounts);
  const identities = new Map<string, FakeKiteAppIdentity>(
    apiKeys.map((apiKey, i) => [
      apiKey,
      {
        userId: options.userIds?.[apiKey] ?? `FK${String(i + 1).padStart(4, '0')}`,
        appId: 1001 + i,
        apiSecret: options.apiSecrets?.[apiKey] ?? `${apiKey}-secret`,
      },
    ]),
  );
  const identity = (apiKey: string): FakeKiteAppIdentity => {
    const found = identities.get(apiKey);
    if (!found) throw new RangeError(`The fake Kite has no account with api key ${apiKey}`);
    return found;
  };
  const orders = new FakeKiteOrders({
    now,
    identity,
    instrumentToken: (symbol) => tokens.get(symbol) ?? 0,
    ...(options.postbackUrls !== undefined && { postbackUrls: options.postbackUrls }),
  });
  const limits = rules.orderRateLimits === false ? undefined : { ...KITE_ORDER_LIMITS, ...rules.orderRateLimits };
  const ledgers = new Map<string, OrderCallLedger>();
  const accountKey = (apiKey: string) => `${apiKey}:${options.accounts[apiKey] ?? ''}`;
  const ledger = (account: string) => {
    const key = account.includes(':') ? account : accountKey(account);
    let found = ledgers.get(key);
    if (!found) {
      found = new OrderCallLedger(limits ?? { perSecond: Infinity, perMinute: Infinity, perDay: Infinity });
      ledgers.set(key, found);
    }
    return found;
  };
  const defaultAddresses =
    rules.registeredAddresses === false ? undefined : (rules.registeredAddresses ?? LOOPBACK_ADDRESSES);
  const registered = new Map<string, readonly string[]>();
  const marketProtectionRule = rules.marketProtection ?? true;
  const priceBandRule = rules.priceBand ?? 'response';

  const faults: { path: RegExp; fault: KiteRestFault; remaining: number; apiKey?: string }[] = [];
  const hanging = new Set<ServerResponse>();
  /** When each api key's calls of each class were accepted (answered other than 429), in arrival order. */
  const accepted = new Map<string, number[]>();
  const acceptedOf = (apiKey: string, cls: FakeKiteLimitClass) => {
    const key = `${apiKey}:${cls}`;
    const times = accepted.get(key) ?? [];
    accepted.set(key, times);
    return times;
  };
  /** How many calls of each api key and class were answered 429 for exceeding a limit. */
  const throttled = new Map<string, number>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const kiteError = (errorType: string, message: string) => ({
    status: 'error',
    message,
    error_type: errorType,
    data: null,
  });

  /**
   * The checks every order call passes before Kite looks at it: the source address (403
   * PermissionException) and the account's rate windows (429 NetworkException). A call that
   * passes is recorded as accepted. Undefined when it passes, else the answer.
   */
  const gate = (apiKey: string, address: string): { status: number; body: unknown } | undefined => {
    const allowed = registered.get(apiKey) ?? defaultAddresses;
    if (allowed && !allowed.map(normalizeAddress).includes(address)) {
      return { status: 403, body: kiteError('PermissionException', KITE_MESSAGES.unregisteredAddress(address)) };
    }
    if (!ledger(apiKey).tryAccept(now())) {
      return { status: 429, body: kiteError('NetworkException', KITE_MESSAGES.tooManyRequests) };
    }
    return undefined;
  };

  /**
   * What Kite refuses in an order (a new one, or one as a modification would leave it): a MARKET or
   * SL-M without market protection, and a price outside the band. Undefined when it is acceptable.
   */
  const orderRuleBreach = (order: {
    tradingsymbol: string;
    transaction_type: string;
    order_type: string;
    price: number;
    trigger_price: number;
    market_protection: number | undefined;
  }): 'market-protection' | 'price-band' | undefined => {
    const atMarket = order.order_type === 'MARKET' || order.order_type === 'SL-M';
    if (marketProtectionRule && atMarket && (order.market_protection === undefined || order.market_protection === 0)) {
      return 'market-protection';
    }
    if (priceBandRule !== false && (order.order_type === 'LIMIT' || order.order_type === 'SL')) {
      // The exchange checks an SL when it triggers, against the reference of that moment; its trigger is the best guess of that reference.
      const around = order.order_type === 'SL' ? order.trigger_price : orders.referencePrice(order.tradingsymbol);
      if (outsideBand(order.transaction_type, order.price, limitPriceBand(around))) return 'price-band';
    }
    return undefined;
  };

  /**
   * Kite's order routes: `POST /orders/{variety}` places (form-encoded parameters, answered with
   * the order id), `PUT /orders/{variety}/{order_id}` modifies an open order, `DELETE
   * /orders/{variety}/{order_id}` cancels one, `GET /orders` lists the day's orders, `GET
   * /orders/{order_id}` is one order's history. Errors are Kite's: a missing or bad parameter is
   * an `InputException`, an unknown order id an `InputException`, a change to a finished order an
   * `OrderException`. Returns false for other paths.
   */
  const orderRoute = (
    method: string,
    path: string,
    form: URLSearchParams,
    apiKey: string,
    address: string,
    respond: (status: number, body: unknown) => void,
  ): boolean => {
    const error = (status: number, errorType: string, message: string) =>
      respond(status, kiteError(errorType, message));
    const book = orders.book(apiKey);
    if (method === 'GET' && path === '/orders') {
      respond(200, { status: 'success', data: book });
      return true;
    }
    const one = /^\/orders\/([\w-]+)$/.exec(path);
    if (method === 'GET' && one) {
      const entry = orders.entry(one[1] ?? '');
      if (!entry || entry.apiKey !== apiKey) error(400, 'InputException', "Couldn't find that `order_id`.");
      else respond(200, { status: 'success', data: entry.history });
      return true;
    }
    const change = /^\/orders\/(\w+)\/([\w-]+)$/.exec(path);
    const placing = method === 'POST' && one !== null;
    const changing = (method === 'PUT' || method === 'DELETE') && change !== null;
    if (!placing && !changing) return false;
    const refused = gate(apiKey, address);
    if (refused) {
      respond(refused.status, refused.body);
      return true;
    }
    const number = (field: string): number | undefined | 'invalid' => {
      const raw = form.get(field);
      if (raw === null || raw === '') return undefined;
      const value = Number(raw);
      return Number.isFinite(value) ? value : 'invalid';
    };
    const protection = number('market_protection');
    if (
      protection === 'invalid' ||
      (protection !== undefined && protection !== -1 && !(protection >= 0 && protection <= 100))
    ) {
      error(400, 'InputException', 'Invalid `market_protection`.');
      return true;
    }
    if (placing) {
      const missing = ORDER_FIELDS.find((field) => !form.get(field));
      if (missing) {
        error(400, 'InputException', `Missing or empty field \`${missing}\``);
        return true;
      }
      const quantity = Number(form.get('quantity'));
      const orderType = form.get('order_type') ?? 'MARKET';
      const price = Number(form.get('price') ?? 0);
      const triggerPrice = Number(form.get('trigger_price') ?? 0);
      if (!Number.isInteger(quantity) || quantity <= 0) {
        error(400, 'InputException', 'Invalid `quantity`.');
        return true;
      }
      const underlying = /^[A-Z]+?(?=\d)/.exec(form.get('tradingsymbol') ?? '')?.[0];
      const freeze = underlying === undefined ? undefined : NSE_FREEZE_QUANTITIES[underlying];
      if (
        options.rules?.freezeQuantity !== false &&
        form.get('exchange') === 'NFO' &&
        freeze !== undefined &&
        quantity > freeze
      ) {
        error(400, 'InputException', KITE_MESSAGES.freezeQuantity(quantity, freeze));
        return true;
      }
      if (!ORDER_TYPES.has(orderType)) {
        error(400, 'InputException', 'Invalid `order_type`.');
        return true;
      }
      if ((orderType === 'LIMIT' || orderType === 'SL') && !(price > 0)) {
        error(400, 'InputException', 'Invalid `price`.');
        return true;
      }
      if ((orderType === 'SL' || orderType === 'SL-M') && !(triggerPrice > 0)) {
        error(400, 'InputException', 'Invalid `trigger_price`.');
        return true;
      }
      const params = {
        variety: one?.[1] ?? 'regular',
        exchange: form.get('exchange') ?? '',
        tradingsymbol: form.get('tradingsymbol') ?? '',
        transaction_type: form.get('transaction_type') ?? '',
        order_type: orderType,
        product: form.get('product') ?? '',
        validity: form.get('validity') || 'DAY',
        quantity,
        disclosed_quantity: Number(form.get('disclosed_quantity') ?? 0) || 0,
        price,
        trigger_price: triggerPrice,
        market_protection: protection ?? 0,
        tag: form.get('tag') || null,
      };
      const breach = orderRuleBreach({ ...params, market_protection: protection });
      if (breach === 'market-protection') {
        error(400, 'InputException', KITE_MESSAGES.marketProtection);
        return true;
      }
      if (breach === 'price-band' && priceBandRule === 'response') {
        error(400, 'InputException', KITE_MESSAGES.circuitLimits);
        return true;
      }
      const entry = orders.place(apiKey, params, breach === 'price-band' ? KITE_MESSAGES.circuitLimits : undefined);
      respond(200, { status: 'success', data: { order_id: entry.order.order_id } });
      return true;
    }
    const entry = orders.entry(change?.[2] ?? '');
    if (!entry || entry.apiKey !== apiKey) {
      error(400, 'InputException', 'Invalid `order_id`.');
      return true;
    }
    const { order } = entry;
    if (!OPEN_STATUSES.has(order.status)) {
      error(
        400,
        'OrderException',
        `Order cannot be ${method === 'PUT' ? 'modified' : 'cancelled'} as it is ${order.status}.`,
      );
      return true;
    }
    if (method === 'DELETE') {
      orders.cancel(entry);
      respond(200, { status: 'success', data: { order_id: order.order_id } });
      return true;
    }
    const modification = modificationOf(form, protection);
    if (typeof modification === 'string') {
      error(400, 'InputException', modification);
      return true;
    }
    const breach = orderRuleBreach({
      ...order,
      ...modification,
      market_protection: modification.market_protection ?? (order.market_protection || undefined),
    });
    if (breach) {
      error(
        400,
        'InputException',
        breach === 'market-protection' ? KITE_MESSAGES.marketProtection : KITE_MESSAGES.circuitLimits,
      );
      return true;
    }
    orders.modify(entry, modification);
    respond(200, { status: 'success', data: { order_id: order.order_id } });
    return true;
  };

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const form =
      req.method === 'POST' || req.method === 'PUT' ? new URLSearchParams(await readBody(req)) : url.searchParams;
    const auth = /^token ([^:]+):(.+)$/.exec(req.headers.authorization ?? '');
    const apiKey = auth?.[1];
    const address = normalizeAddress(req.socket.remoteAddress ?? '');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      at: now(),
      apiKey,
      address,
    });
    if (!auth || options.accounts[auth[1] ?? ''] !== auth[2]) {
      json(res, 403, kiteError('TokenException', 'Incorrect `api_key` or `access_token`.'));
      return;
    }
    const cls = limitClass(req.method ?? 'GET', url.pathname);
    if (cls) {
      const times = acceptedOf(auth[1] ?? '', cls);
      const at = Date.now();
      let inLastSecond = 0;
      for (let i = times.length - 1; i >= 0 && (times[i] ?? 0) > at - 1000; i--) inLastSecond++;
      if (options.enforceLimits && inLastSecond >= FAKE_KITE_LIMITS[cls]) {
        throttled.set(`${auth[1]}:${cls}`, (throttled.get(`${auth[1]}:${cls}`) ?? 0) + 1);
        json(res, 429, { status: 'error', message: 'Too many requests', error_type: 'NetworkException', data: null });
        return;
      }
      times.push(at);
    }
    const key = auth[1] ?? '';
    const fault = faults.find((f) => f.path.test(url.pathname) && (f.apiKey === undefined || f.apiKey === apiKey));
    if (fault) {
      if (--fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.fault.kind === 'apply-then-hang') {
        hanging.add(res);
        orderRoute(req.method ?? 'GET', url.pathname, form, key, address, () => {});
        return;
      }
      if (fault.fault.kind === 'hang') {
        hanging.add(res);
        return;
      }
      if (fault.fault.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(fault.fault.body);
        return;
      }
      json(res, fault.fault.status, fault.fault.body);
      return;
    }
    const historical = /^\/instruments\/historical\/(\d+)\/(\w+)$/.exec(url.pathname);
    if (historical) {
      const from = Date.parse(`${url.searchParams.get('from')?.replace(' ', 'T')}+05:30`);
      const to = Date.parse(`${url.searchParams.get('to')?.replace(' ', 'T')}+05:30`);
      const step = historical[2] === 'day' ? 86_400_000 : 60_000 * (Number.parseInt(historical[2] ?? '', 10) || 1);
      const candles: unknown[] = [];
      for (let t = from; t <= to && candles.length < 100_000; t += step) {
        const p = 100 + ((t / step) % 50);
        const row: unknown[] = [new Date(t).toISOString().replace('Z', '+0000'), p, p + 1, p - 1, p + 0.5, 1000];
        if (url.searchParams.get('oi') === '1') row.push(5000);
        candles.push(row);
      }
      json(res, 200, { status: 'success', data: { candles } });
      return;
    }
    const master = /^\/instruments\/(NSE|NFO)$/.exec(url.pathname);
    if (master) {
      const exchange = (master[1] ?? 'NSE') as 'NSE' | 'NFO';
      const rows = masterRows ? (masterRows.get(exchange) ?? []) : BUILT_IN_MASTER[exchange];
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end([INSTRUMENT_MASTER_HEADER, ...rows].join('\n'));
      return;
    }
    if (url.pathname === '/quote/ltp') {
      const data: Record<string, unknown> = {};
      for (const [i, key] of url.searchParams.getAll('i').entries())
        data[key] = { instrument_token: 1000 + i, last_price: 24_000.5 };
      json(res, 200, { status: 'success', data });
      return;
    }
    if (orderRoute(req.method ?? 'GET', url.pathname, form, key, address, (status, body) => json(res, status, body)))
      return;
    json(res, 404, kiteError('GeneralException', 'Route not found'));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      json(res, 500, kiteError('GeneralException', String(error)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const openEntry = (orderId: string): OrderEntry => {
    const entry = orders.required(orderId);
    if (!OPEN_STATUSES.has(entry.order.status)) {
      throw new RangeError(`Order ${orderId} is ${entry.order.status}; only an open order can change`);
    }
    return entry;
  };

  return {
    root: `http://127.0.0.1:${port}`,
    requests,
    /** When `apiKey`'s calls of `cls` were accepted (epoch ms at arrival), oldest first; 429s are not in it. */
    accepted(apiKey: string, cls: FakeKiteLimitClass): readonly number[] {
      return acceptedOf(apiKey, cls);
    },
    /** How many of `apiKey`'s calls of `cls` were answered 429 for exceeding a limit (with `enforceLimits`). */
    throttled(apiKey: string, cls: FakeKiteLimitClass): number {
      return throttled.get(`${apiKey}:${cls}`) ?? 0;
    },
    orders: (apiKey) => orders.book(apiKey),
    order: (orderId) => orders.required(orderId).order,
    orderHistory: (orderId) => orders.required(orderId).history,
    inject(path, fault, times = 1, apiKey) {
      faults.push({ path, fault, remaining: times, ...(apiKey !== undefined && { apiKey }) });
    },
    fill(orderId, fill = {}) {
      const entry = openEntry(orderId);
      const { order } = entry;
      if (order.status !== 'OPEN')
        throw new RangeError(`Order ${orderId} is ${order.status}: set a last price that triggers it first`);
      const quantity = fill.quantity ?? order.pending_quantity;
      if (!Number.isInteger(quantity) || quantity <= 0 || quantity > order.pending_quantity) {
        throw new RangeError(`Order ${orderId} has ${order.pending_quantity} pending; cannot fill ${quantity}`);
      }
      orders.fill(entry, quantity, fill.price ?? orders.lastPrice(order.tradingsymbol));
      return order;
    },
    reject(orderId, message = 'Order rejected by the exchange.') {
      const entry = openEntry(orderId);
      orders.reject(entry, message);
      return entry.order;
    },
    setLastPrice: (symbol, price) => orders.setLastPrice(symbol, price),
    lastPrice: (symbol) => orders.lastPrice(symbol),
    setReferencePrice: (symbol, price) => orders.setReferencePrice(symbol, price),
    referencePrice: (symbol) => orders.referencePrice(symbol),
    onOrderUpdate: (listener) => orders.onUpdate(listener),
    orderUpdates: (orderId) => orders.updates(orderId),
    holdUpdates: () => orders.hold(),
    heldUpdates: () => orders.held(),
    releaseUpdates: (arrange = (held) => held) => orders.release(arrange),
    replayUpdates: (orderId, arrange = (updates) => updates) => orders.redeliver(arrange(orders.updates(orderId))),
    setPostbackUrl: (apiKey, url) => orders.setPostbackUrl(apiKey, url),
    postbackDeliveries: () => orders.deliveries(),
    postbacksSettled: () => orders.settled(),
    apiSecret: (apiKey) => identity(apiKey).apiSecret,
    setRegisteredAddresses(apiKey, addresses) {
      if (addresses === undefined) registered.delete(apiKey);
      else registered.set(apiKey, [...addresses]);
    },
    accountKey,
    orderCallTimes: (account) => ledger(account).times(),
    maxOrdersInAnyWindow: (account, windowMs) => ledger(account).maxInAnyWindow(windowMs),
    async stop() {
      for (const res of hanging) res.destroy();
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}

const ORDER_FIELDS = ['exchange', 'tradingsymbol', 'transaction_type', 'quantity', 'product', 'order_type'] as const;
const ORDER_TYPES: ReadonlySet<string> = new Set(['MARKET', 'LIMIT', 'SL', 'SL-M']);

/** The fields a `PUT` changes, or Kite's message for the first bad one. */
function modificationOf(
  form: URLSearchParams,
  protection: number | undefined,
): Partial<Pick<FakeKiteOrder, ModifiableField>> | string {
  const change: Partial<Pick<FakeKiteOrder, ModifiableField>> = {};
  for (const field of ['quantity', 'price', 'trigger_price', 'disclosed_quantity'] as const) {
    const raw = form.get(field);
    if (raw === null || raw === '') continue;
    const value = Number(raw);
    if (!(Number.isFinite(value) && value >= 0) || (field === 'quantity' && !(Number.isInteger(value) && value > 0))) {
      return `Invalid \`${field}\`.`;
    }
    change[field] = value;
  }
  const orderType = form.get('order_type');
  if (orderType) {
    if (!ORDER_TYPES.has(orderType)) return 'Invalid `order_type`.';
    change.order_type = orderType;
  }
  const validity = form.get('validity');
  if (validity) change.validity = validity;
  if (protection !== undefined) change.market_protection = protection;
  return change;
}

/** Instrument token by tradingsymbol, for the `instrument_token` of orders. */
function instrumentTokens(instruments: readonly Instrument[] | undefined): Map<string, number> {
  if (instruments) return new Map(instruments.map((i) => [i.tradingsymbol, i.instrumentToken]));
  const tokens = new Map<string, number>();
  for (const row of [...BUILT_IN_MASTER.NSE, ...BUILT_IN_MASTER.NFO]) {
    const [token, , symbol] = row.split(',');
    tokens.set(symbol ?? '', Number(token));
  }
  return tokens;
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Instrument } from '../../../shared/ports/market-data.js';

/** What the fake does with the next matching requests, in place of a normal answer. */
export type KiteRestFault =
  | { readonly kind: 'status'; readonly status: number; readonly body: unknown }
  /** No answer, and the request has no effect: it never reached Kite. */
  | { readonly kind: 'hang' }
  /** The request takes effect (an order is placed, modified, cancelled), but no answer comes back: a timeout. */
  | { readonly kind: 'apply-then-hang' }
  | { readonly kind: 'malformed'; readonly body: string };

/** An order in the fake's order book, with the fields of Kite's `GET /orders` rows the platform reads and a few more. */
export interface FakeKiteOrder {
  readonly order_id: string;
  readonly variety: string;
  status: string;
  readonly exchange: string;
  readonly tradingsymbol: string;
  readonly transaction_type: string;
  order_type: string;
  readonly product: string;
  readonly validity: string;
  quantity: number;
  price: number;
  trigger_price: number;
  average_price: number;
  filled_quantity: number;
  pending_quantity: number;
  readonly tag: string | null;
  readonly tags: string[];
  readonly order_timestamp: string;
  status_message: string | null;
}

/** The price the fake fills MARKET orders at, and crosses LIMIT orders against. */
export const FAKE_KITE_LAST_PRICE = 101.5;

const ORDER_FIELDS = ['exchange', 'tradingsymbol', 'transaction_type', 'quantity', 'product', 'order_type'] as const;
const OPEN_STATUSES = new Set(['OPEN', 'TRIGGER PENDING']);

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
 * rows, or `instruments` as Kite would list them), LTP, and the order routes (place, modify, cancel,
 * the order book) over an order book per api key.
 */
export async function startKiteRestServer(options: {
  accounts: Record<string, string>;
  /** The instrument master to serve instead of the built-in handful of rows (benchmarks need thousands). */
  instruments?: readonly Instrument[];
  /**
   * Answer 429 (`NetworkException`, "Too many requests"), as Kite does, to a call that would be the
   * 11th order, 4th historical or 2nd quote call of an api key in any sliding second. Off by default.
   */
  enforceLimits?: boolean;
}) {
  const masterRows = options.instruments && instrumentMasterRows(options.instruments);
  const requests: RecordedRequest[] = [];
  /** Each api key's order book (the day's orders), oldest first. */
  const books = new Map<string, FakeKiteOrder[]>();
  const bookOf = (apiKey: string) => {
    const book = books.get(apiKey) ?? [];
    books.set(apiKey, book);
    return book;
  };
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
  let orderSeq = 0;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  /**
   * Kite's order routes: `POST /orders/{variety}` places (form-encoded parameters, answered with
   * the order id), `PUT /orders/{variety}/{order_id}` modifies an open order, `DELETE
   * /orders/{variety}/{order_id}` cancels one, `GET /orders` lists the day's orders with their
   * tags. Errors are Kite's: a missing parameter is an `InputException`, an unknown order id an
   * `InputException`, a change to a finished order an `OrderException`. Returns false for other paths.
   */
  const orderRoute = (
    method: string,
    path: string,
    form: URLSearchParams,
    book: FakeKiteOrder[],
    respond: (status: number, body: unknown) => void,
  ): boolean => {
    const error = (status: number, errorType: string, message: string) =>
      respond(status, { status: 'error', message, error_type: errorType, data: null });
    if (method === 'GET' && path === '/orders') {
      respond(200, { status: 'success', data: book });
      return true;
    }
    const place = /^\/orders\/(\w+)$/.exec(path);
    if (method === 'POST' && place) {
      const missing = ORDER_FIELDS.find((field) => !form.get(field));
      if (missing) {
        error(400, 'InputException', `Missing or empty field \`${missing}\``);
        return true;
      }
      const quantity = Number(form.get('quantity'));
      const orderType = form.get('order_type') ?? 'MARKET';
      const price = Number(form.get('price') ?? 0);
      if (!Number.isInteger(quantity) || quantity <= 0) {
        error(400, 'InputException', 'Invalid `quantity`.');
        return true;
      }
      if (orderType === 'LIMIT' && !(price > 0)) {
        error(400, 'InputException', 'Invalid `price`.');
        return true;
      }
      const tag = form.get('tag');
      const order: FakeKiteOrder = {
        order_id: `ORD${++orderSeq}`,
        variety: place[1] ?? 'regular',
        status: 'OPEN',
        exchange: form.get('exchange') ?? '',
        tradingsymbol: form.get('tradingsymbol') ?? '',
        transaction_type: form.get('transaction_type') ?? '',
        order_type: orderType,
        product: form.get('product') ?? '',
        validity: form.get('validity') ?? 'DAY',
        quantity,
        price,
        trigger_price: Number(form.get('trigger_price') ?? 0),
        average_price: 0,
        filled_quantity: 0,
        pending_quantity: quantity,
        tag: tag || null,
        tags: tag ? [tag] : [],
        order_timestamp: '2025-01-08 09:15:00',
        status_message: null,
      };
      match(order);
      book.push(order);
      respond(200, { status: 'success', data: { order_id: order.order_id } });
      return true;
    }
    const change = /^\/orders\/(\w+)\/([\w-]+)$/.exec(path);
    if ((method === 'PUT' || method === 'DELETE') && change) {
      const order = book.find((o) => o.order_id === change[2]);
      if (!order) {
        error(400, 'InputException', 'Invalid `order_id`.');
        return true;
      }
      if (!OPEN_STATUSES.has(order.status)) {
        error(
          400,
          'OrderException',
          `Order cannot be ${method === 'PUT' ? 'modified' : 'cancelled'} as it is ${order.status}.`,
        );
        return true;
      }
      if (method === 'DELETE') {
        order.status = 'CANCELLED';
        order.pending_quantity = 0;
      } else {
        if (form.get('quantity')) order.quantity = Number(form.get('quantity'));
        if (form.get('price')) order.price = Number(form.get('price'));
        if (form.get('trigger_price')) order.trigger_price = Number(form.get('trigger_price'));
        if (form.get('order_type')) order.order_type = form.get('order_type') ?? order.order_type;
        order.pending_quantity = order.quantity;
        match(order);
      }
      respond(200, { status: 'success', data: { order_id: order.order_id } });
      return true;
    }
    return false;
  };

  /** Fills a MARKET order, or a LIMIT order whose price crosses {@link FAKE_KITE_LAST_PRICE}; leaves others OPEN. */
  const match = (order: FakeKiteOrder) => {
    const buy = order.transaction_type === 'BUY';
    const crossed =
      order.order_type === 'MARKET' ||
      (order.order_type === 'LIMIT' &&
        (buy ? order.price >= FAKE_KITE_LAST_PRICE : order.price <= FAKE_KITE_LAST_PRICE));
    if (!crossed) return;
    order.status = 'COMPLETE';
    order.average_price = FAKE_KITE_LAST_PRICE;
    order.filled_quantity = order.quantity;
    order.pending_quantity = 0;
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
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, at: Date.now(), apiKey });
    if (!auth || options.accounts[auth[1] ?? ''] !== auth[2]) {
      json(res, 403, {
        status: 'error',
        message: 'Incorrect `api_key` or `access_token`.',
        error_type: 'TokenException',
      });
      return;
    }
    const cls = limitClass(req.method ?? 'GET', url.pathname);
    if (cls) {
      const times = acceptedOf(auth[1] ?? '', cls);
      const now = Date.now();
      let inLastSecond = 0;
      for (let i = times.length - 1; i >= 0 && (times[i] ?? 0) > now - 1000; i--) inLastSecond++;
      if (options.enforceLimits && inLastSecond >= FAKE_KITE_LIMITS[cls]) {
        throttled.set(`${auth[1]}:${cls}`, (throttled.get(`${auth[1]}:${cls}`) ?? 0) + 1);
        json(res, 429, { status: 'error', message: 'Too many requests', error_type: 'NetworkException', data: null });
        return;
      }
      times.push(now);
    }
    const fault = faults.find((f) => f.path.test(url.pathname) && (f.apiKey === undefined || f.apiKey === apiKey));
    const book = bookOf(auth[1] ?? '');
    if (fault) {
      if (--fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.fault.kind === 'apply-then-hang') {
        hanging.add(res);
        orderRoute(req.method ?? 'GET', url.pathname, form, book, () => {});
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
      const rows = masterRows
        ? (masterRows.get(master[1] ?? '') ?? [])
        : master[1] === 'NSE'
          ? [
              '256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE',
              '260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE',
              '738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,NSE,NSE',
            ]
          : [
              '12345602,48225,NIFTY25JAN24000CE,NIFTY,0,2025-01-30,24000,0.05,75,CE,NFO-OPT,NFO',
              '12345858,48226,NIFTY25JAN24000PE,NIFTY,0,2025-01-30,24000,0.05,75,PE,NFO-OPT,NFO',
              '13345602,52225,BANKNIFTY25JANFUT,BANKNIFTY,0,2025-01-30,0,0.05,35,FUT,NFO-FUT,NFO',
              '14345602,62225,FINNIFTY25JAN23000CE,FINNIFTY,0,2025-01-28,23000,0.05,65,CE,NFO-OPT,NFO',
            ];
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
    if (orderRoute(req.method ?? 'GET', url.pathname, form, book, (status, body) => json(res, status, body))) return;
    json(res, 404, { status: 'error', message: 'Route not found', error_type: 'GeneralException' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      json(res, 500, { status: 'error', message: String(error), error_type: 'GeneralException' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

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
    /** The order book of `apiKey` (live: tests may change an order's status, as Kite's RMS would). */
    orders(apiKey: string): FakeKiteOrder[] {
      return bookOf(apiKey);
    },
    /** The next `times` requests whose path matches (for `apiKey`, if given) get `fault`. */
    inject(path: RegExp, fault: KiteRestFault, times = 1, apiKey?: string) {
      faults.push({ path, fault, remaining: times, ...(apiKey !== undefined && { apiKey }) });
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}

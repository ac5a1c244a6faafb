import { createHash } from 'node:crypto';
import { kiteTimestamp } from './kite-order-rules.js';

/*
 * The order side of the fake Kite: each api key's order book, the life of every order through
 * Kite's statuses, a market (a last price and a reference price per instrument) that fills and
 * triggers resting orders, and the updates Kite sends about every change, as postbacks and as the
 * ticker's order frames. The HTTP routes in `kite-rest-server.ts` drive it; tests drive it too.
 */

/** The price the fake fills MARKET orders at, and crosses LIMIT orders against, until a test sets another. */
export const FAKE_KITE_LAST_PRICE = 101.5;

/**
 * An order in the fake's order book: a row of Kite's `GET /orders` (and of `GET /orders/{id}`).
 * Live: a test may change a field, as Kite's RMS would, and the next read shows it.
 */
export interface FakeKiteOrder {
  placed_by: string;
  readonly order_id: string;
  exchange_order_id: string | null;
  readonly parent_order_id: string | null;
  status: string;
  status_message: string | null;
  status_message_raw: string | null;
  order_timestamp: string;
  exchange_update_timestamp: string | null;
  exchange_timestamp: string | null;
  readonly variety: string;
  modified: boolean;
  readonly exchange: string;
  readonly tradingsymbol: string;
  readonly instrument_token: number;
  order_type: string;
  readonly transaction_type: string;
  validity: string;
  readonly product: string;
  quantity: number;
  disclosed_quantity: number;
  price: number;
  trigger_price: number;
  average_price: number;
  filled_quantity: number;
  pending_quantity: number;
  cancelled_quantity: number;
  /** Kite echoes the order's protection; 0 where none applies (LIMIT, SL). */
  market_protection: number;
  meta: Record<string, unknown>;
  readonly tag: string | null;
  readonly tags: string[];
  readonly guid: string;
}

/**
 * The JSON Kite POSTs to an app's postback URL about an order (and, with `checksum` empty, the
 * `data` of the ticker's order frame). `status` is the order's, except `UPDATE` for a
 * modification or a partial fill of an open order. A type, not an interface, so it is a plain
 * JSON record wherever one is expected (the ticker's order frame).
 */
export type KitePostbackPayload = {
  readonly user_id: string;
  readonly unfilled_quantity: number;
  readonly app_id: number;
  /** SHA-256 hex of `order_id + order_timestamp + api_secret`. */
  readonly checksum: string;
  readonly placed_by: string;
  readonly order_id: string;
  readonly exchange_order_id: string | null;
  readonly parent_order_id: string | null;
  readonly status: string;
  readonly status_message: string | null;
  readonly status_message_raw: string | null;
  readonly order_timestamp: string;
  readonly exchange_update_timestamp: string | null;
  readonly exchange_timestamp: string | null;
  readonly variety: string;
  readonly exchange: string;
  readonly tradingsymbol: string;
  readonly instrument_token: number;
  readonly order_type: string;
  readonly transaction_type: string;
  readonly validity: string;
  readonly product: string;
  readonly quantity: number;
  readonly disclosed_quantity: number;
  readonly price: number;
  readonly trigger_price: number;
  readonly average_price: number;
  readonly filled_quantity: number;
  readonly pending_quantity: number;
  readonly cancelled_quantity: number;
  readonly market_protection: number;
  readonly meta: Record<string, unknown>;
  readonly tag: string | null;
  readonly guid: string;
};

/** One change of an order, as the fake emits it to listeners and postback URLs. */
export interface FakeKiteOrderUpdate {
  /** Emission order across the whole fake, from 1; a replay keeps the original number. */
  readonly seq: number;
  readonly apiKey: string;
  readonly orderId: string;
  /** The body of the postback (JSON), with its checksum. */
  readonly postback: KitePostbackPayload;
  /** The `data` of the ticker's `{"type":"order","data":…}` frame: the same fields, `checksum` empty as Kite sends it there. */
  readonly tickerData: KitePostbackPayload;
}

/** What became of one postback POST. */
export interface PostbackDelivery {
  readonly seq: number;
  readonly orderId: string;
  readonly url: string;
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number;
  /** Why the POST failed, when it did. */
  readonly error?: string;
}

/** Statuses an order can still change from. */
export const OPEN_STATUSES: ReadonlySet<string> = new Set(['OPEN', 'TRIGGER PENDING']);

/** An order and what the fake knows beyond its book row. */
export interface OrderEntry {
  readonly apiKey: string;
  readonly order: FakeKiteOrder;
  /** Snapshots of the order at every status it passed through, oldest first: `GET /orders/{id}`. */
  readonly history: FakeKiteOrder[];
}

/** Who an api key's orders belong to, for the postback's `user_id`, `app_id` and checksum. */
export interface FakeKiteAppIdentity {
  readonly userId: string;
  readonly appId: number;
  readonly apiSecret: string;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The order engine. Every status change records a history row and emits an update; delivery goes
 * to listeners at once and to the api key's postback URL in emission order (one POST at a time per
 * api key), unless a test holds delivery to reorder or repeat it.
 */
export class FakeKiteOrders {
  readonly #entries = new Map<string, OrderEntry>();
  readonly #books = new Map<string, FakeKiteOrder[]>();
  readonly #lastPrices = new Map<string, number>();
  readonly #referencePrices = new Map<string, number>();
  readonly #listeners = new Set<(update: FakeKiteOrderUpdate) => void>();
  readonly #log: FakeKiteOrderUpdate[] = [];
  readonly #postbackUrls = new Map<string, string>();
  readonly #postbackChains = new Map<string, Promise<void>>();
  readonly #deliveries: PostbackDelivery[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #held: FakeKiteOrderUpdate[] | undefined;
  #orderSeq = 0;
  #updateSeq = 0;

  readonly #options: FakeKiteOrdersOptions;

  constructor(options: FakeKiteOrdersOptions) {
    this.#options = options;
    for (const [apiKey, url] of Object.entries(options.postbackUrls ?? {})) this.#postbackUrls.set(apiKey, url);
  }

  /** The live order book of `apiKey` (made empty on first use), oldest first. */
  book(apiKey: string): FakeKiteOrder[] {
    let book = this.#books.get(apiKey);
    if (!book) {
      book = [];
      this.#books.set(apiKey, book);
    }
    return book;
  }

  /** The order `orderId` with its api key and history; undefined for an id never given out. */
  entry(orderId: string): OrderEntry | undefined {
    return this.#entries.get(orderId);
  }

  /** The entry of `orderId`, or a RangeError naming it: a test asked about an order the fake never placed. */
  required(orderId: string): OrderEntry {
    const entry = this.#entries.get(orderId);
    if (!entry) throw new RangeError(`The fake Kite has no order ${orderId}`);
    return entry;
  }

  /** The last traded price MARKET orders fill at: the one a test set, else {@link FAKE_KITE_LAST_PRICE}. */
  lastPrice(tradingsymbol: string): number {
    return this.#lastPrices.get(tradingsymbol) ?? FAKE_KITE_LAST_PRICE;
  }

  /** The reference price of the band: the one a test set, else the last price. */
  referencePrice(tradingsymbol: string): number {
    return this.#referencePrices.get(tradingsymbol) ?? this.lastPrice(tradingsymbol);
  }

  /** Sets or (undefined) clears the band's reference price; resting orders are not re-checked, as on the exchange. */
  setReferencePrice(tradingsymbol: string, price: number | undefined): void {
    if (price === undefined) this.#referencePrices.delete(tradingsymbol);
    else this.#referencePrices.set(tradingsymbol, positivePrice(price));
  }

  /** Sets the last price and lets every resting order of the instrument trigger or fill against it. */
  setLastPrice(tradingsymbol: string, price: number): void {
    this.#lastPrices.set(tradingsymbol, positivePrice(price));
    for (const entry of this.#entries.values()) {
      if (entry.order.tradingsymbol === tradingsymbol && OPEN_STATUSES.has(entry.order.status)) this.match(entry);
    }
  }

  /**
   * A new order from validated parameters: through PUT ORDER REQ RECEIVED, VALIDATION PENDING and
   * OPEN PENDING to the exchange (OPEN, or TRIGGER PENDING for SL and SL-M), or REJECTED with
   * `rejectWith` before it gets there; then matched against the last price.
   */
  place(
    apiKey: string,
    params: {
      variety: string;
      exchange: string;
      tradingsymbol: string;
      transaction_type: string;
      order_type: string;
      product: string;
      validity: string;
      quantity: number;
      disclosed_quantity: number;
      price: number;
      trigger_price: number;
      market_protection: number;
      tag: string | null;
    },
    rejectWith?: string,
  ): OrderEntry {
    const seq = ++this.#orderSeq;
    const at = kiteTimestamp(this.#options.now());
    const order: FakeKiteOrder = {
      placed_by: this.#options.identity(apiKey).userId,
      order_id: `ORD${seq}`,
      exchange_order_id: null,
      parent_order_id: null,
      status: 'PUT ORDER REQ RECEIVED',
      status_message: null,
      status_message_raw: null,
      order_timestamp: at,
      exchange_update_timestamp: null,
      exchange_timestamp: null,
      modified: false,
      instrument_token: this.#options.instrumentToken(params.tradingsymbol),
      average_price: 0,
      filled_quantity: 0,
      pending_quantity: params.quantity,
      cancelled_quantity: 0,
      meta: {},
      tags: params.tag ? [params.tag] : [],
      guid: `${String(seq).padStart(6, '0')}FK`,
      ...params,
    };
    const entry: OrderEntry = { apiKey, order, history: [] };
    this.#entries.set(order.order_id, entry);
    this.book(apiKey).push(order);
    this.#record(entry);
    this.#record(entry, 'VALIDATION PENDING');
    if (rejectWith !== undefined) {
      this.reject(entry, rejectWith);
      return entry;
    }
    this.#record(entry, 'OPEN PENDING');
    order.exchange_order_id = `1${String(seq).padStart(15, '0')}`;
    order.exchange_timestamp = at;
    order.exchange_update_timestamp = at;
    this.#record(entry, order.order_type === 'SL' || order.order_type === 'SL-M' ? 'TRIGGER PENDING' : 'OPEN');
    this.#emit(entry);
    this.match(entry);
    return entry;
  }

  /** Applies a modification of an open order (already validated) and re-matches it; the update says `UPDATE`. */
  modify(entry: OrderEntry, change: Partial<Pick<FakeKiteOrder, ModifiableField>>): void {
    const { order } = entry;
    const resting = order.status;
    const wasStop = isStop(order);
    this.#record(entry, 'MODIFY VALIDATION PENDING');
    this.#record(entry, 'MODIFY PENDING');
    Object.assign(order, change);
    order.modified = true;
    order.pending_quantity = Math.max(0, order.quantity - order.filled_quantity);
    const at = kiteTimestamp(this.#options.now());
    order.order_timestamp = at;
    order.exchange_update_timestamp = at;
    this.#record(entry, 'MODIFIED');
    // A triggered stop stays triggered; an order becomes a stop waiting for its trigger only by being made one.
    const waiting = isStop(order) && (resting === 'TRIGGER PENDING' || !wasStop);
    this.#record(entry, waiting ? 'TRIGGER PENDING' : 'OPEN');
    this.#emit(entry, 'UPDATE');
    this.match(entry);
  }

  /** Cancels an open order: CANCEL PENDING, then CANCELLED with what was unfilled as `cancelled_quantity`. */
  cancel(entry: OrderEntry): void {
    const { order } = entry;
    this.#record(entry, 'CANCEL PENDING');
    order.cancelled_quantity = order.pending_quantity;
    order.pending_quantity = 0;
    order.exchange_update_timestamp = kiteTimestamp(this.#options.now());
    this.#record(entry, 'CANCELLED');
    this.#emit(entry);
  }

  /** Rejects an order that has not finished, with `message` as Kite's `status_message`. */
  reject(entry: OrderEntry, message: string): void {
    const { order } = entry;
    order.status_message = message;
    order.status_message_raw = message;
    order.pending_quantity = 0;
    order.exchange_update_timestamp = kiteTimestamp(this.#options.now());
    this.#record(entry, 'REJECTED');
    this.#emit(entry);
  }

  /**
   * Fills `quantity` of an open order at `price`: a partial fill keeps it OPEN and emits `UPDATE`,
   * the last one makes it COMPLETE. `average_price` is the quantity-weighted mean of the fills.
   */
  fill(entry: OrderEntry, quantity: number, price: number): void {
    const { order } = entry;
    const filled = order.filled_quantity + quantity;
    order.average_price = round2((order.average_price * order.filled_quantity + price * quantity) / filled);
    order.filled_quantity = filled;
    order.pending_quantity -= quantity;
    order.exchange_update_timestamp = kiteTimestamp(this.#options.now());
    if (order.pending_quantity > 0) {
      this.#record(entry, 'OPEN');
      this.#emit(entry, 'UPDATE');
    } else {
      this.#record(entry, 'COMPLETE');
      this.#emit(entry);
    }
  }

  /**
   * Triggers a TRIGGER PENDING order whose trigger the last price reached (BUY at or above, SELL at
   * or below), then fills an OPEN order that is marketable: MARKET, a triggered SL-M, or a LIMIT or
   * triggered SL whose price crosses the last price. Fills are at the last price.
   */
  match(entry: OrderEntry): void {
    const { order } = entry;
    const last = this.lastPrice(order.tradingsymbol);
    const buy = order.transaction_type === 'BUY';
    if (order.status === 'TRIGGER PENDING') {
      if (!(buy ? last >= order.trigger_price : last <= order.trigger_price)) return;
      order.exchange_update_timestamp = kiteTimestamp(this.#options.now());
      this.#record(entry, 'OPEN');
      this.#emit(entry);
    }
    if (order.status !== 'OPEN' || order.pending_quantity <= 0) return;
    const atMarket = order.order_type === 'MARKET' || order.order_type === 'SL-M';
    if (atMarket || (buy ? order.price >= last : order.price <= last)) this.fill(entry, order.pending_quantity, last);
  }

  /** Calls `listener` with every update as it is delivered; returns the unsubscribe. */
  onUpdate(listener: (update: FakeKiteOrderUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every update emitted (of `orderId`, if given), in emission order, whether delivered yet or held. */
  updates(orderId?: string): readonly FakeKiteOrderUpdate[] {
    return orderId === undefined ? [...this.#log] : this.#log.filter((u) => u.orderId === orderId);
  }

  /** Where `apiKey`'s postbacks go from now on; undefined: nowhere. */
  setPostbackUrl(apiKey: string, url: string | undefined): void {
    if (url === undefined) this.#postbackUrls.delete(apiKey);
    else this.#postbackUrls.set(apiKey, url);
  }

  /** The outcome of every postback POST, in completion order. */
  deliveries(): readonly PostbackDelivery[] {
    return [...this.#deliveries];
  }

  /** Queues updates instead of delivering them, until `release`. */
  hold(): void {
    this.#held ??= [];
  }

  /** The updates queued since `hold`. */
  held(): readonly FakeKiteOrderUpdate[] {
    return [...(this.#held ?? [])];
  }

  /** Ends a hold and delivers what `arrange` makes of the held updates (any order, repeats allowed). */
  async release(arrange: (held: readonly FakeKiteOrderUpdate[]) => readonly FakeKiteOrderUpdate[]): Promise<void> {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const update of arrange(held)) this.#deliver(update);
    await this.settled();
  }

  /** Delivers `updates` again, as they are (a replay keeps each update's payload and number). */
  async redeliver(updates: readonly FakeKiteOrderUpdate[]): Promise<void> {
    for (const update of updates) this.#deliver(update);
    await this.settled();
  }

  /** Resolves once every postback POST started so far has been answered or has failed. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #record(entry: OrderEntry, status?: string): void {
    if (status !== undefined) entry.order.status = status;
    entry.history.push({ ...entry.order, meta: { ...entry.order.meta }, tags: [...entry.order.tags] });
  }

  #emit(entry: OrderEntry, status?: string): void {
    const { order, apiKey } = entry;
    const identity = this.#options.identity(apiKey);
    const { modified: _modified, tags: _tags, ...fields } = order;
    const base = {
      ...fields,
      meta: { ...order.meta },
      status: status ?? order.status,
      user_id: identity.userId,
      app_id: identity.appId,
      unfilled_quantity: order.quantity - order.filled_quantity,
    };
    const checksum = createHash('sha256')
      .update(order.order_id + order.order_timestamp + identity.apiSecret)
      .digest('hex');
    const update: FakeKiteOrderUpdate = {
      seq: ++this.#updateSeq,
      apiKey,
      orderId: order.order_id,
      postback: { ...base, checksum },
      tickerData: { ...base, checksum: '' },
    };
    this.#log.push(update);
    if (this.#held) this.#held.push(update);
    else this.#deliver(update);
  }

  #deliver(update: FakeKiteOrderUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch {
        // A test's listener that throws must not stop the order's life or the other listeners.
      }
    }
    const url = this.#postbackUrls.get(update.apiKey);
    if (url === undefined) return;
    // One POST at a time per api key, so prompt delivery keeps emission order; tests reorder by holding.
    const previous = this.#postbackChains.get(update.apiKey) ?? Promise.resolve();
    const sent = previous.then(() => this.#post(url, update));
    this.#postbackChains.set(update.apiKey, sent);
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }

  async #post(url: string, update: FakeKiteOrderUpdate): Promise<void> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(update.postback),
        signal: AbortSignal.timeout(5000),
      });
      await response.arrayBuffer();
      this.#deliveries.push({ seq: update.seq, orderId: update.orderId, url, status: response.status });
    } catch (error) {
      this.#deliveries.push({ seq: update.seq, orderId: update.orderId, url, error: String(error) });
    }
  }
}

/** What the order engine needs from the server around it. */
export interface FakeKiteOrdersOptions {
  readonly now: () => number;
  readonly identity: (apiKey: string) => FakeKiteAppIdentity;
  readonly instrumentToken: (tradingsymbol: string) => number;
  readonly postbackUrls?: Readonly<Record<string, string>>;
}

/** The fields `PUT /orders/{variety}/{order_id}` may change. */
export type ModifiableField =
  | 'quantity'
  | 'price'
  | 'trigger_price'
  | 'order_type'
  | 'validity'
  | 'disclosed_quantity'
  | 'market_protection';

function isStop(order: FakeKiteOrder): boolean {
  return order.order_type === 'SL' || order.order_type === 'SL-M';
}

function positivePrice(price: number): number {
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError(`A price must be above 0, got ${price}`);
  return price;
}

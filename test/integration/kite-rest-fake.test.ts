import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KiteConnect } from 'kiteconnect';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTextMessage } from '../../ingest-task/kite/protocol/index.js';
import { forwardOrderUpdates } from '../support/kite/forward-order-updates.js';
import { startKiteSimulator } from '../support/kite/simulator.js';
import { connectKiteClient } from '../support/kite/test-client.js';
import {
  FAKE_KITE_LAST_PRICE,
  type FakeKiteRest,
  KITE_MESSAGES,
  KITE_ORDER_LIMITS,
  type KitePostbackPayload,
  type KiteRestServerOptions,
  startKiteRestServer,
} from '../support/kite-rest/kite-rest-server.js';
import { waitFor } from '../support/wait.js';

const KEY = 'fakeKey';
const TOKEN = 'fakeToken';
const SECRET = 'fake-api-secret';
const SYMBOL = 'NIFTY26JAN24000CE';
/** 09:30 IST on Tuesday 7 April 2026. */
const START = Date.UTC(2026, 3, 7, 4, 0, 0);
const KITE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

let clock = START;
let fake: FakeKiteRest;
const stops: (() => Promise<void>)[] = [];

async function startFake(options: Partial<KiteRestServerOptions> = {}): Promise<FakeKiteRest> {
  const server = await startKiteRestServer({
    accounts: { [KEY]: TOKEN },
    apiSecrets: { [KEY]: SECRET },
    now: () => clock,
    ...options,
  });
  stops.push(() => server.stop());
  return server;
}

beforeEach(async () => {
  clock = START;
  fake = await startFake();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** One raw Kite call as kiteconnect makes it: form-encoded body for POST and PUT, query otherwise. */
async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  params: Record<string, string | number> = {},
  server: FakeKiteRest = fake,
): Promise<{ status: number; body: { status: string; data?: unknown; message?: string; error_type?: string } }> {
  const form = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  const withBody = method === 'POST' || method === 'PUT';
  const response = await fetch(`${server.root}${path}${withBody || form.size === 0 ? '' : `?${form}`}`, {
    method,
    headers: {
      authorization: `token ${KEY}:${TOKEN}`,
      'x-kite-version': '3',
      ...(withBody && { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(withBody && { body: form.toString() }),
  });
  return { status: response.status, body: (await response.json()) as Awaited<ReturnType<typeof call>>['body'] };
}

/** Order parameters; a MARKET or SL-M order gets `market_protection: -1` unless `params` say otherwise, as the platform sends it. */
const order = (params: Record<string, string | number> = {}): Record<string, string | number> => {
  const type = params.order_type ?? 'MARKET';
  return {
    exchange: 'NFO',
    tradingsymbol: SYMBOL,
    transaction_type: 'BUY',
    quantity: 75,
    product: 'NRML',
    order_type: 'MARKET',
    ...((type === 'MARKET' || type === 'SL-M') && { market_protection: -1 }),
    ...params,
  };
};

/** Places an order that must be accepted; returns its id. */
async function place(params: Record<string, string | number> = {}, server: FakeKiteRest = fake): Promise<string> {
  const { status, body } = await call('POST', '/orders/regular', order(params), server);
  expect(body).toMatchObject({ status: 'success' });
  expect(status).toBe(200);
  return (body.data as { order_id: string }).order_id;
}

const resting = { order_type: 'LIMIT', price: 90 } as const;
const statuses = (orderId: string) => fake.orderHistory(orderId).map((row) => row.status);
const checksumOf = (p: { order_id: string; order_timestamp: string }, secret: string) =>
  createHash('sha256')
    .update(p.order_id + p.order_timestamp + secret)
    .digest('hex');

/** An HTTPS-less stand-in for the app's postback URL: records every POST. */
async function startPostbackReceiver() {
  const received: { body: KitePostbackPayload; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  stops.push(async () => {
    server.close();
    server.closeAllConnections();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/kite/postback`, received };
}

describe('fake Kite REST: the life of an order', () => {
  it('moves a MARKET order through Kite’s statuses to COMPLETE at the last price, with IST timestamps', async () => {
    const id = await place();
    expect(statuses(id)).toEqual(['PUT ORDER REQ RECEIVED', 'VALIDATION PENDING', 'OPEN PENDING', 'OPEN', 'COMPLETE']);
    expect(fake.order(id)).toMatchObject({
      status: 'COMPLETE',
      average_price: FAKE_KITE_LAST_PRICE,
      filled_quantity: 75,
      pending_quantity: 0,
      instrument_token: 12345602,
      market_protection: -1,
      order_timestamp: '2026-04-07 09:30:00',
      exchange_timestamp: '2026-04-07 09:30:00',
      exchange_order_id: expect.stringMatching(/^\d+$/),
    });
    // The first rows are the request before the exchange saw it: no exchange id yet.
    expect(fake.orderHistory(id)[0]).toMatchObject({ exchange_order_id: null, exchange_timestamp: null });
  });

  it('answers GET /orders/{order_id} with the history, which kiteconnect’s getOrderHistory reads', async () => {
    const id = await place(resting);
    clock += 5000;
    fake.fill(id, { quantity: 25, price: 89.5 });
    const kite = new KiteConnect({ api_key: KEY, access_token: TOKEN, root: fake.root });
    const history = (await kite.getOrderHistory(id)) as unknown as { status: string; filled_quantity: number }[];
    expect(history.map((row) => [row.status, row.filled_quantity])).toEqual([
      ['PUT ORDER REQ RECEIVED', 0],
      ['VALIDATION PENDING', 0],
      ['OPEN PENDING', 0],
      ['OPEN', 0],
      ['OPEN', 25],
    ]);
    const unknown = await call('GET', '/orders/ORD999');
    expect(unknown).toEqual({
      status: 400,
      body: expect.objectContaining({ error_type: 'InputException', message: "Couldn't find that `order_id`." }),
    });
  });

  it('part-fills a resting LIMIT order, then fills the rest when the last price crosses it', async () => {
    const id = await place(resting);
    expect(fake.order(id).status).toBe('OPEN');
    fake.fill(id, { quantity: 25, price: 89 });
    expect(fake.order(id)).toMatchObject({
      status: 'OPEN',
      filled_quantity: 25,
      pending_quantity: 50,
      average_price: 89,
    });
    fake.setLastPrice(SYMBOL, 90.5);
    expect(fake.order(id).status).toBe('OPEN');
    fake.setLastPrice(SYMBOL, 88);
    expect(fake.order(id)).toMatchObject({ status: 'COMPLETE', filled_quantity: 75, average_price: 88.33 });
    expect(fake.orderUpdates(id).map((u) => [u.postback.status, u.postback.filled_quantity])).toEqual([
      ['OPEN', 0],
      ['UPDATE', 25],
      ['COMPLETE', 75],
    ]);
  });

  it('holds SL and SL-M orders TRIGGER PENDING until the last price reaches the trigger', async () => {
    const sl = await place({ order_type: 'SL', price: 112, trigger_price: 110 });
    const slm = await place({ order_type: 'SL-M', trigger_price: 120, transaction_type: 'BUY' });
    expect([fake.order(sl).status, fake.order(slm).status]).toEqual(['TRIGGER PENDING', 'TRIGGER PENDING']);
    fake.setLastPrice(SYMBOL, 109.95);
    expect(fake.order(sl).status).toBe('TRIGGER PENDING');
    fake.setLastPrice(SYMBOL, 111);
    expect(fake.order(sl)).toMatchObject({ status: 'COMPLETE', average_price: 111 });
    expect(fake.order(slm).status).toBe('TRIGGER PENDING');
    fake.setLastPrice(SYMBOL, 125);
    expect(fake.order(slm)).toMatchObject({ status: 'COMPLETE', average_price: 125 });
    expect(statuses(sl).slice(3)).toEqual(['TRIGGER PENDING', 'OPEN', 'COMPLETE']);
  });

  it('modifies and cancels an open order through Kite’s pending statuses, emitting UPDATE and CANCELLED', async () => {
    const id = await place(resting);
    clock += 60_000;
    expect((await call('PUT', `/orders/regular/${id}`, { price: 95.25, quantity: 150 })).status).toBe(200);
    expect(fake.order(id)).toMatchObject({ price: 95.25, quantity: 150, pending_quantity: 150, modified: true });
    expect(fake.order(id).order_timestamp).toBe('2026-04-07 09:31:00');
    expect((await call('DELETE', `/orders/regular/${id}`)).status).toBe(200);
    expect(fake.order(id)).toMatchObject({ status: 'CANCELLED', pending_quantity: 0, cancelled_quantity: 150 });
    expect(statuses(id).slice(4)).toEqual([
      'MODIFY VALIDATION PENDING',
      'MODIFY PENDING',
      'MODIFIED',
      'OPEN',
      'CANCEL PENDING',
      'CANCELLED',
    ]);
    expect(fake.orderUpdates(id).map((u) => u.postback.status)).toEqual(['OPEN', 'UPDATE', 'CANCELLED']);
    const again = await call('DELETE', `/orders/regular/${id}`);
    expect(again).toEqual({
      status: 400,
      body: expect.objectContaining({
        error_type: 'OrderException',
        message: 'Order cannot be cancelled as it is CANCELLED.',
      }),
    });
  });

  it('rejects an open order on a test’s word, with its message as status_message', async () => {
    const id = await place(resting);
    fake.reject(id, 'Insufficient funds. Required margin is 6787.50 but available margin is 12.30.');
    expect(fake.order(id)).toMatchObject({
      status: 'REJECTED',
      status_message: 'Insufficient funds. Required margin is 6787.50 but available margin is 12.30.',
      pending_quantity: 0,
    });
    expect(fake.orderUpdates(id).at(-1)?.postback.status).toBe('REJECTED');
    expect(() => fake.fill(id)).toThrow(RangeError);
  });
});

describe('fake Kite REST: postbacks and order frames', () => {
  it('POSTs every change as JSON with Kite’s fields and a checksum of order_id + order_timestamp + api_secret', async () => {
    const receiver = await startPostbackReceiver();
    fake.setPostbackUrl(KEY, receiver.url);
    const id = await place({ tag: 'strategy7' });
    await fake.postbacksSettled();
    expect(receiver.received.map((r) => r.body.status)).toEqual(['OPEN', 'COMPLETE']);
    for (const { body, headers } of receiver.received) {
      expect(headers['content-type']).toBe('application/json');
      expect(Object.keys(body).sort()).toEqual(
        [
          'user_id',
          'unfilled_quantity',
          'app_id',
          'checksum',
          'placed_by',
          'order_id',
          'exchange_order_id',
          'parent_order_id',
          'status',
          'status_message',
          'status_message_raw',
          'order_timestamp',
          'exchange_update_timestamp',
          'exchange_timestamp',
          'variety',
          'exchange',
          'tradingsymbol',
          'instrument_token',
          'order_type',
          'transaction_type',
          'validity',
          'product',
          'quantity',
          'disclosed_quantity',
          'price',
          'trigger_price',
          'average_price',
          'filled_quantity',
          'pending_quantity',
          'cancelled_quantity',
          'market_protection',
          'meta',
          'tag',
          'guid',
        ].sort(),
      );
      expect(body).toMatchObject({ order_id: id, tag: 'strategy7', user_id: 'FK0001', placed_by: 'FK0001' });
      expect(body.order_timestamp).toMatch(KITE_TIME);
      expect(body.checksum).toBe(checksumOf(body, SECRET));
      expect(body.checksum).not.toBe(checksumOf(body, 'another-secret'));
    }
    expect(receiver.received[1]?.body).toMatchObject({
      filled_quantity: 75,
      unfilled_quantity: 0,
      average_price: 101.5,
    });
    expect(fake.postbackDeliveries().map((d) => d.status)).toEqual([200, 200]);
  });

  it('forwards updates to the ticker as order text frames to the api key’s connections, checksum empty', async () => {
    const simulator = await startKiteSimulator({ accounts: [{ apiKey: KEY, accessToken: TOKEN }] });
    stops.push(() => simulator.stop());
    const stopForwarding = forwardOrderUpdates(fake, simulator);
    const client = await connectKiteClient(simulator.connectUrl(KEY, TOKEN));
    stops.push(() => client.close());
    const id = await place();
    const orderFrames = () =>
      client.frames
        .filter((f) => !f.binary)
        .map((f) => parseTextMessage(f.data))
        .filter((m) => m.type === 'order');
    await waitFor(() => orderFrames().length === 2, { message: 'two order frames' });
    expect(orderFrames().map((m) => m.data)).toEqual(fake.orderUpdates(id).map((u) => u.tickerData));
    expect(orderFrames().map((m) => [m.data.order_id, m.data.status, m.data.checksum])).toEqual([
      [id, 'OPEN', ''],
      [id, 'COMPLETE', ''],
    ]);
    stopForwarding();
    await place();
    expect(fake.orderUpdates()).toHaveLength(4);
    expect(orderFrames()).toHaveLength(2);
  });

  it('holds updates, then delivers them reversed and repeated, to listeners and postbacks alike', async () => {
    const receiver = await startPostbackReceiver();
    fake.setPostbackUrl(KEY, receiver.url);
    const heard: string[] = [];
    fake.onOrderUpdate((u) => heard.push(u.postback.status));
    fake.holdUpdates();
    const id = await place();
    expect(heard).toEqual([]);
    expect(fake.heldUpdates().map((u) => u.postback.status)).toEqual(['OPEN', 'COMPLETE']);
    await fake.releaseUpdates((held) => [...held].reverse());
    expect(heard).toEqual(['COMPLETE', 'OPEN']);
    expect(receiver.received.map((r) => r.body.status)).toEqual(['COMPLETE', 'OPEN']);
    await fake.replayUpdates(id);
    expect(heard).toEqual(['COMPLETE', 'OPEN', 'OPEN', 'COMPLETE']);
    expect(receiver.received.map((r) => r.body.checksum)).toEqual(
      [...fake.orderUpdates(id)]
        .reverse()
        .concat(fake.orderUpdates(id))
        .map((u) => u.postback.checksum),
    );
    // Released: the next order's updates go out at once again.
    await place();
    expect(heard).toHaveLength(6);
  });

  it('records a postback URL that does not answer as a failed delivery and carries on', async () => {
    fake.setPostbackUrl(KEY, 'http://127.0.0.1:9/unreachable');
    const id = await place();
    await fake.postbacksSettled();
    expect(fake.postbackDeliveries()).toEqual([
      expect.objectContaining({ orderId: id, error: expect.any(String) }),
      expect.objectContaining({ orderId: id, error: expect.any(String) }),
    ]);
    expect(fake.order(id).status).toBe('COMPLETE');
  });
});

describe('fake Kite REST: the April 2026 order rules', () => {
  const tooMany = {
    status: 429,
    body: expect.objectContaining({ error_type: 'NetworkException', message: 'Too many requests' }),
  };

  it('answers the 11th order call of a second with 429, counting modify and cancel, and accepts again a second later', async () => {
    const open = await place(resting);
    for (let i = 0; i < 7; i++) await place(resting);
    expect((await call('PUT', `/orders/regular/${open}`, { price: 91 })).status).toBe(200);
    expect((await call('DELETE', `/orders/regular/${open}`)).status).toBe(200);
    expect(await call('POST', '/orders/regular', order())).toEqual(tooMany);
    expect(await call('DELETE', `/orders/regular/${open}`)).toEqual(tooMany);
    // Reads are not order calls.
    expect((await call('GET', '/orders')).status).toBe(200);
    clock += 999;
    expect(await call('POST', '/orders/regular', order())).toEqual(tooMany);
    clock += 1;
    await place();
    expect(fake.maxOrdersInAnyWindow(fake.accountKey(KEY), 1000)).toBe(10);
    expect(fake.orderCallTimes(KEY)).toHaveLength(11);
    expect(fake.accountKey(KEY)).toBe(`${KEY}:${TOKEN}`);
  });

  it('answers 429 once 400 order calls fall within a minute, however they are spread', async () => {
    expect(KITE_ORDER_LIMITS).toEqual({ perSecond: 10, perMinute: 400, perDay: 5000 });
    for (let second = 0; second < 40; second++) {
      clock = START + second * 1000;
      await Promise.all(Array.from({ length: 10 }, () => place(resting)));
    }
    clock = START + 40_000;
    expect(await call('POST', '/orders/regular', order())).toEqual(tooMany);
    clock = START + 59_999;
    expect(await call('POST', '/orders/regular', order())).toEqual(tooMany);
    clock = START + 60_000;
    await place();
    expect(fake.maxOrdersInAnyWindow(KEY, 60_000)).toBe(400);
    expect(fake.maxOrdersInAnyWindow(KEY, 1000)).toBe(10);
  });

  it('answers 429 past the day’s limit until midnight IST', async () => {
    const small = await startFake({ rules: { orderRateLimits: { perDay: 12 } } });
    for (let i = 0; i < 12; i++) {
      clock = START + i * 1000;
      await place(resting, small);
    }
    clock = Date.UTC(2026, 3, 7, 18, 29, 59); // 23:59:59 IST
    expect(await call('POST', '/orders/regular', order(), small)).toEqual(tooMany);
    clock = Date.UTC(2026, 3, 7, 18, 30, 0); // midnight IST
    await place({}, small);
  });

  it('lets a test turn the order limits off', async () => {
    const unlimited = await startFake({ rules: { orderRateLimits: false } });
    await Promise.all(Array.from({ length: 15 }, () => place(resting, unlimited)));
    expect(unlimited.maxOrdersInAnyWindow(KEY, 1000)).toBe(15);
  });

  it('refuses MARKET and SL-M orders without market protection, or with 0, with Kite’s InputException', async () => {
    const refused = {
      status: 400,
      body: expect.objectContaining({ error_type: 'InputException', message: KITE_MESSAGES.marketProtection }),
    };
    const { market_protection: _absent, ...unprotected } = order();
    expect(await call('POST', '/orders/regular', unprotected)).toEqual(refused);
    expect(await call('POST', '/orders/regular', order({ market_protection: 0 }))).toEqual(refused);
    expect(await call('POST', '/orders/regular', { ...unprotected, order_type: 'SL-M', trigger_price: 120 })).toEqual(
      refused,
    );
    expect(fake.orders(KEY)).toEqual([]);
    expect(await call('POST', '/orders/regular', order({ market_protection: 101 }))).toMatchObject({
      status: 400,
      body: { error_type: 'InputException', message: 'Invalid `market_protection`.' },
    });
    await place({ market_protection: 2.5 });
    // A resting LIMIT made a MARKET order needs protection too.
    const limit = await place(resting);
    expect(await call('PUT', `/orders/regular/${limit}`, { order_type: 'MARKET' })).toEqual(refused);
    expect(
      (await call('PUT', `/orders/regular/${limit}`, { order_type: 'MARKET', market_protection: -1 })).status,
    ).toBe(200);
    expect(fake.order(limit)).toMatchObject({ status: 'COMPLETE', order_type: 'MARKET', market_protection: -1 });

    const lax = await startFake({ rules: { marketProtection: false } });
    expect((await call('POST', '/orders/regular', unprotected, lax)).status).toBe(200);
  });

  it('refuses order calls from an address not registered for the api key, but not reads', async () => {
    fake.setRegisteredAddresses(KEY, ['203.0.113.7']);
    const refused = await call('POST', '/orders/regular', order());
    expect(refused).toEqual({
      status: 403,
      body: expect.objectContaining({
        error_type: 'PermissionException',
        message: KITE_MESSAGES.unregisteredAddress('127.0.0.1'),
      }),
    });
    expect(fake.orders(KEY)).toEqual([]);
    expect(fake.orderCallTimes(KEY)).toEqual([]);
    expect((await call('GET', '/orders')).status).toBe(200);
    expect(fake.requests.at(-1)?.address).toBe('127.0.0.1');
    fake.setRegisteredAddresses(KEY, undefined);
    await place();

    const anywhere = await startFake({ rules: { registeredAddresses: false } });
    anywhere.setRegisteredAddresses(KEY, undefined);
    expect((await call('POST', '/orders/regular', order(), anywhere)).status).toBe(200);
  });

  it('refuses a LIMIT price outside the band around the reference price with Kite’s “circuit limits” message', async () => {
    const refused = {
      status: 400,
      body: expect.objectContaining({ error_type: 'InputException', message: KITE_MESSAGES.circuitLimits }),
    };
    // Reference ₹101.50 (the last price): ±40 % is ₹60.90 to ₹142.10.
    expect(await call('POST', '/orders/regular', order({ order_type: 'LIMIT', price: 142.15 }))).toEqual(refused);
    await place({ order_type: 'LIMIT', price: 142.1 });
    expect(
      await call('POST', '/orders/regular', order({ order_type: 'LIMIT', price: 60.85, transaction_type: 'SELL' })),
    ).toEqual(refused);
    await place({ order_type: 'LIMIT', price: 60.9, transaction_type: 'SELL' });
    // A BUY far below the market only rests.
    await place({ order_type: 'LIMIT', price: 5 });
    // At or below ₹50 the band is ±₹20.
    fake.setReferencePrice(SYMBOL, 30);
    expect(await call('POST', '/orders/regular', order({ order_type: 'LIMIT', price: 50.05 }))).toEqual(refused);
    const within = await place({ order_type: 'LIMIT', price: 50 });
    expect(await call('PUT', `/orders/regular/${within}`, { price: 50.05 })).toEqual(refused);
    // An SL price is held to the band around its trigger.
    fake.setReferencePrice(SYMBOL, undefined);
    expect(
      await call('POST', '/orders/regular', order({ order_type: 'SL', trigger_price: 100, price: 140.05 })),
    ).toEqual(refused);
    await place({ order_type: 'SL', trigger_price: 100, price: 140 });
  });

  it('can reject a price outside the band as an order instead, the way an exchange rejection arrives', async () => {
    const exchange = await startFake({ rules: { priceBand: 'order' } });
    const id = await place({ order_type: 'LIMIT', price: 150 }, exchange);
    expect(exchange.order(id)).toMatchObject({
      status: 'REJECTED',
      status_message: KITE_MESSAGES.circuitLimits,
      exchange_order_id: null,
    });
    expect(exchange.orderUpdates(id).map((u) => u.postback.status)).toEqual(['REJECTED']);
  });
});

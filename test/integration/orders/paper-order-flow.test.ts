import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { DEVELOPMENT_JWT_SECRET } from '../../../shared/config.js';
import { OrderResponse } from '../../../shared/contracts/order-api.js';
import { ServerMessage } from '../../../shared/contracts/websocket.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { waitFor } from '../../support/wait.js';
import { startPlatform } from '../rest/rest-support.js';

/*
 * Paper trading end to end on the platform `npm start` runs, in process: REST in with a user's
 * JWT, the worker on the local queue with the paper broker, the poll of open orders matching
 * resting orders against the live mock feed, and the owner's WebSocket connection told of every
 * change of the order.
 */

const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
const run = randomUUID().slice(0, 8);

async function jwtOf(subject: string): Promise<string> {
  return new SignJWT({ name: subject })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(secret);
}

describe('paper orders on the local platform', () => {
  let platform: LocalPlatform;
  let option: Instrument;
  let asha: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    platform = await startPlatform(`paper-${run}`, { FOLLOW_MARKET_HOURS: 'false' });
    asha = await jwtOf(`asha-${run}`);
    // A streamed option (the platform subscribes the nearest expiry on its first start): the dearest streamed option, so its premium is far from the tick size at any time of day: a
    // far-away option the day before expiry trades at 0.05, where no LIMIT can rest below it.
    const active = new Set((await platform.components.subscriptions.listActive()).map((s) => s.instrumentToken));
    const options = (await platform.components.loadInstruments()).filter(
      (i) =>
        i.name === 'NIFTY' && (i.instrumentType === 'CE' || i.instrumentType === 'PE') && active.has(i.instrumentToken),
    );
    expect(options.length).toBeGreaterThan(0);
    const priceOf = async () => {
      const latest = await platform.components.state.getLatest(options.map((o) => o.instrumentToken));
      return (o: Instrument) => {
        const text = latest.get(o.instrumentToken);
        return text === undefined ? 0 : (JSON.parse(text) as { last_price: number }).last_price;
      };
    };
    await waitFor(
      async () => {
        const price = await priceOf();
        return options.some((o) => price(o) > 0);
      },
      { timeoutMs: 10_000, message: 'the options to stream' },
    );
    const price = await priceOf();
    option = options.reduce((best, o) => (price(o) > price(best) ? o : best));
    expect(price(option)).toBeGreaterThan(20);
  });

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    await platform?.close();
  });

  async function lastPrice(): Promise<number | undefined> {
    const latest = await platform.components.state.getLatest([option.instrumentToken]);
    const text = latest.get(option.instrumentToken);
    return text === undefined ? undefined : (JSON.parse(text) as { last_price: number }).last_price;
  }

  async function request(method: string, path: string, jwt: string, body?: unknown) {
    const response = await fetch(`${platform.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${jwt}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  async function orderOf(taskId: string) {
    const response = await request('GET', `/orders/${taskId}`, asha);
    return response.status === 200 ? OrderResponse.parse(response.body).order : undefined;
  }

  /** A WebSocket of `jwt`'s user recording the order updates it receives. */
  async function connect(jwt: string) {
    const ws = new WebSocket(`${platform.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(jwt)}`);
    sockets.push(ws);
    const messages: ServerMessage[] = [];
    ws.on('message', (data) => messages.push(ServerMessage.parse(JSON.parse(data.toString()))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await expect.poll(() => messages.some((m) => m.type === 'connected'), { timeout: 5000 }).toBe(true);
    return () => messages.flatMap((m) => (m.type === 'order' ? [m.data] : []));
  }

  const place = (taskId: string, params: Record<string, unknown>) =>
    request('POST', '/orders', asha, {
      task_id: taskId,
      idempotency_key: `key-${taskId}`,
      account_id: 'paper',
      operation: 'place_order',
      params: {
        exchange: option.exchange,
        tradingsymbol: option.tradingsymbol,
        transaction_type: 'BUY',
        quantity: option.lotSize,
        product: 'NRML',
        ...params,
      },
    });

  it('TC-ORD-001: a resting LIMIT BUY ends COMPLETED with the order OPEN, a DELETE cancels it, and the owner is told each time', async () => {
    const ashaOrders = await connect(asha);
    const baluOrders = await connect(await jwtOf(`balu-${run}`));
    const taskId = `limit-${run}`;
    // 30 % below the market: inside the exchange's ±40 % band, and it rests in the book.
    const restingPrice = Math.round(((await lastPrice()) as number) * 0.7 * 20) / 20;
    expect((await place(taskId, { order_type: 'LIMIT', price: restingPrice })).status).toBe(202);
    await expect.poll(async () => (await orderOf(taskId))?.status, { timeout: 10_000, interval: 50 }).toBe('COMPLETED');
    const resting = await orderOf(taskId);
    expect(resting?.result).toMatchObject({ paper: true, status: 'OPEN' });
    const orderId = resting?.result?.order_id;
    await expect
      .poll(
        () =>
          ashaOrders()
            .filter((o) => o.task_id === taskId)
            .map((o) => o.status),
        { timeout: 5000 },
      )
      .toEqual(['OPEN']);

    const cancelled = await request('DELETE', `/orders/${taskId}`, asha);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ message: 'Cancel accepted', order_task_id: taskId, order_id: orderId });
    await expect
      .poll(async () => (await orderOf(taskId))?.result?.status, { timeout: 10_000, interval: 50 })
      .toBe('CANCELLED');
    await expect
      .poll(
        () =>
          ashaOrders()
            .filter((o) => o.task_id === taskId)
            .map((o) => o.status),
        { timeout: 5000 },
      )
      .toEqual(['OPEN', 'CANCELLED']);
    // A second DELETE: the order is finished.
    expect((await request('DELETE', `/orders/${taskId}`, asha)).status).toBe(409);
    // Balu saw none of it, and cannot read it.
    expect(baluOrders().filter((o) => o.task_id === taskId)).toEqual([]);
  });

  it('fills a MARKET order with market_protection -1 at the live price, and tells the owner', async () => {
    const ashaOrders = await connect(asha);
    const taskId = `market-${run}`;
    const before = (await lastPrice()) as number;
    expect((await place(taskId, { order_type: 'MARKET' })).status).toBe(202);
    await expect.poll(async () => (await orderOf(taskId))?.status, { timeout: 10_000, interval: 50 }).toBe('COMPLETED');
    const after = (await lastPrice()) as number;
    const filled = await orderOf(taskId);
    expect(filled?.task.params).toMatchObject({ order_type: 'MARKET', market_protection: -1 });
    expect(filled?.result).toMatchObject({ paper: true, status: 'COMPLETE' });
    // The feed moves every 100 ms: the fill is the price of a tick between the request and now.
    const average = filled?.result?.average_price as number;
    expect(average).toBeGreaterThanOrEqual(Math.min(before, after) * 0.95);
    expect(average).toBeLessThanOrEqual(Math.max(before, after) * 1.05);
    await expect
      .poll(() => ashaOrders().filter((o) => o.task_id === taskId), { timeout: 5000 })
      .toEqual([
        expect.objectContaining({ status: 'COMPLETE', average_price: average, filled_quantity: option.lotSize }),
      ]);
  });
});

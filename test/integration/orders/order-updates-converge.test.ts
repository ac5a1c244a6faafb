import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kitePostbackUseCase } from '../../../functions/api/kite-postback.js';
import { httpHandler } from '../../../functions/http/http-handler.js';
import { orderFrameHandler, pollOpenOrders } from '../../../functions/orders/order-updates.js';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { createHttpGateway } from '../../../infra/local/http-gateway.js';
import type { KiteBroker } from '../../../shared/adapters/kite/kite-broker.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { loadConfig } from '../../../shared/config.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import type { BrokerOrderState } from '../../../shared/domain/orders/broker-order.js';
import { createLogger } from '../../../shared/logging.js';
import type { OrderStore } from '../../../shared/ports/orders.js';
import type { Components } from '../../../shared/wiring.js';
import { fakeKiteBroker } from '../../support/kite-rest/fake-kite-broker.js';
import type { FakeKiteOrderUpdate } from '../../support/kite-rest/fake-kite-orders.js';
import { type FakeKiteRest, startKiteRestServer } from '../../support/kite-rest/kite-rest-server.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { startOrderWorker } from '../../support/order-worker-harness.js';

/*
 * One Kite order, three sources of news about it: Kite's checksummed postbacks to the platform's
 * POST /kite/postback (a real HTTP server running the route's handler), the ticker's order frames
 * (through the ingest role's frame handler), and the poll of Kite's order book. Against the fake
 * Kite, with updates held, reordered and repeated, every order of delivery must end on the order's
 * one final state at Kite, and news that beat the placement's own answer must not be lost.
 */

const ACCOUNT = 'acc1';
const API_KEY = 'key1';
const ACCESS_TOKEN = 'token1';
const API_SECRET = 'secret-of-acc1';
const LAST_PRICE = 101.5;
/** A resting BUY: below the last price, inside the exchange's band. */
const RESTING_PRICE = 95;

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
const logger = createLogger('converge-test', { logLevel: 'SILENT', environment: 'test' });
let kite: FakeKiteRest;
let postbackServer: Server;
let postbackUrl: string;
let w: Awaited<ReturnType<typeof startOrderWorker>>;
let broker: KiteBroker;
let seq = 0;

/** Frames handed to the frame handler, and those it has finished applying (held, applied or unchanged). */
const frames = { sent: 0, done: 0 };

beforeAll(async () => {
  kite = await startKiteRestServer({
    accounts: { [API_KEY]: ACCESS_TOKEN },
    apiSecrets: { [API_KEY]: API_SECRET },
    rules: { orderRateLimits: false },
  });
  broker = fakeKiteBroker({ accountId: ACCOUNT, apiKey: API_KEY, accessToken: ACCESS_TOKEN, root: kite.root });
  // The worker on the Kite client's clock: it hands the client deadlines, which on the harness's
  // manual clock (January 2025) made any wait for the orders budget a RETRYING placement.
  w = await startOrderWorker(client, { broker, clock: new SystemClock() });

  // The platform's postback route over the worker's order store, configured as a deployment with
  // this Kite account (its api secret verifies the checksums) would be.
  const config = loadConfig({
    LOG_LEVEL: 'SILENT',
    KITE_ACCOUNTS: `${ACCOUNT}:${API_KEY}:${ACCESS_TOKEN}:${API_SECRET}`,
    KITE_API_URL: kite.root,
    ENABLE_MOCK_DATA: 'true',
  });
  const components = { config, logger, clock: new SystemClock(), bus: new MemoryTickBus(), orders: w.orders };
  const gateway = createHttpGateway([
    {
      method: 'POST',
      path: '/kite/postback',
      handler: httpHandler(logger, kitePostbackUseCase(components as unknown as Components)),
    },
  ]);
  postbackServer = createServer((req, res) => {
    void gateway(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  postbackServer.listen(0, '127.0.0.1');
  await once(postbackServer, 'listening');
  postbackUrl = `http://127.0.0.1:${(postbackServer.address() as AddressInfo).port}/kite/postback`;
});

afterAll(async () => {
  postbackServer?.close();
  await kite?.stop();
  client.destroy();
});

/** The frame handler over a store that counts each frame finished, so a test can wait for all of them. */
function countingStore(inner: OrderStore): OrderStore {
  const finished = <T>(promise: Promise<T>, done: (value: T) => boolean) =>
    promise.then(
      (value) => {
        if (done(value)) frames.done++;
        return value;
      },
      (error: unknown) => {
        frames.done++;
        throw error;
      },
    );
  return Object.assign(Object.create(inner) as OrderStore, {
    holdBrokerUpdate: (update: BrokerOrderState) =>
      finished(inner.holdBrokerUpdate(update), (taskId) => taskId === undefined),
    applyBrokerUpdate: (taskId: string, update: BrokerOrderState, nowMs: number) =>
      finished(inner.applyBrokerUpdate(taskId, update, nowMs), () => true),
  });
}

const onFrame = () => orderFrameHandler({ orders: countingStore(w.orders), clock: new SystemClock(), logger });

/** Hands `update` to the ingest role's order-frame handler, as the ticker socket would. */
function dispatchFrame(update: FakeKiteOrderUpdate): void {
  frames.sent++;
  onFrame()(ACCOUNT, update.tickerData);
}

/** Until every frame handed over so far is applied (the handler itself answers nothing). */
async function framesApplied(): Promise<void> {
  await expect.poll(() => frames.done, { timeout: 5000, interval: 5 }).toBe(frames.sent);
}

async function frame(update: FakeKiteOrderUpdate): Promise<void> {
  dispatchFrame(update);
  await framesApplied();
}

async function postback(update: FakeKiteOrderUpdate): Promise<string> {
  const response = await fetch(postbackUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(update.postback),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { outcome: string }).outcome;
}

async function poll(): Promise<void> {
  const result = await pollOpenOrders({ orders: w.orders, clock: new SystemClock(), logger, brokerFor: () => broker });
  expect(result.failedAccounts).toEqual([]);
}

/** A resting LIMIT BUY of `lots` lots on the account, placed through the worker; its task id and Kite order id. */
async function placeResting(lots: number): Promise<{ taskId: string; orderId: string }> {
  const taskId = `converge-${++seq}`;
  const base = placeOrderTask(taskId, { account_id: ACCOUNT });
  if (base.operation !== 'place_order') throw new Error('the fixture is a placement');
  const task: OrderTask = {
    ...base,
    params: {
      ...base.params,
      order_type: 'LIMIT',
      price: RESTING_PRICE,
      quantity: 65 * lots,
      market_protection: undefined,
    },
  };
  w.send(task);
  await w.deliver();
  const record = await w.orders.get(taskId);
  expect(record?.status).toBe('COMPLETED');
  return { taskId, orderId: record?.result?.orderId as string };
}

/** Cancels the order through the worker, as DELETE /orders/{task_id} queues it. */
async function cancelThroughWorker(taskId: string, orderId: string): Promise<void> {
  const id = `${taskId}-cancel`;
  w.send({
    task_id: id,
    idempotency_key: id,
    account_id: ACCOUNT,
    submitted_at: new Date().toISOString(),
    operation: 'cancel_order',
    params: { variety: 'regular', order_id: orderId },
  });
  await w.deliver();
  expect((await w.orders.get(id))?.status).toBe('COMPLETED');
}

/** The task's broker order, compared with what Kite's book says in the end. */
async function expectConverged(taskId: string, orderId: string, expected: Partial<BrokerOrderState>) {
  const atKite = kite.order(orderId);
  const result = (await w.orders.get(taskId))?.result;
  expect(result).toMatchObject({
    orderId,
    status: atKite.status,
    filledQuantity: atKite.filled_quantity,
    pendingQuantity: atKite.pending_quantity,
    ...(atKite.filled_quantity > 0 && { averagePrice: atKite.average_price }),
    ...expected,
  });
}

describe('order updates from postbacks, order frames and the order book', () => {
  it('merges a postback that beat the placement’s own answer once the worker links the order', async () => {
    kite.setPostbackUrl(API_KEY, postbackUrl);
    kite.holdUpdates();
    // Between Kite's answer and the link, as when a postback overtakes the HTTP response.
    const outcomes: string[] = [];
    const link = w.orders.linkBrokerOrder.bind(w.orders);
    w.orders.linkBrokerOrder = async (orderId, taskId) => {
      w.orders.linkBrokerOrder = link;
      const before = kite.postbackDeliveries().length;
      await kite.releaseUpdates();
      expect(
        kite
          .postbackDeliveries()
          .slice(before)
          .map((d) => d.status),
      ).toEqual([200]);
      // The platform answered 200 but had no task for the order yet: it kept the news.
      outcomes.push((await w.orders.get(taskId))?.result?.status ?? 'no result');
      return link(orderId, taskId);
    };
    try {
      const { taskId, orderId } = await placeResting(1);
      expect(outcomes).toEqual(['no result']);
      // Kite's answer said only PLACED; the held postback made it OPEN with Kite's timestamps.
      await expectConverged(taskId, orderId, {
        status: 'OPEN',
        exchangeTimestamp: kite.order(orderId).exchange_timestamp as string,
      });
      // And the postback again now is nothing new.
      expect(await postback(kite.orderUpdates(orderId).at(-1) as FakeKiteOrderUpdate)).toBe('unchanged');
    } finally {
      w.orders.linkBrokerOrder = link;
      kite.setPostbackUrl(API_KEY, undefined);
    }
  });

  it('ends CANCELLED with the partial fill whatever the order and repeats of postbacks and frames, the poll included', async () => {
    kite.setPostbackUrl(API_KEY, postbackUrl);
    const unsubscribe = kite.onOrderUpdate(dispatchFrame);
    try {
      const { taskId, orderId } = await placeResting(2);
      await expect.poll(async () => (await w.orders.get(taskId))?.result?.status).toBe('OPEN');
      kite.holdUpdates();
      kite.fill(orderId, { quantity: 65, price: 99.5 });
      await cancelThroughWorker(taskId, orderId);
      expect(kite.order(orderId)).toMatchObject({ status: 'CANCELLED', filled_quantity: 65, average_price: 99.5 });
      expect(kite.heldUpdates().map((u) => u.postback.status)).toEqual(['UPDATE', 'CANCELLED']);
      // Newest first, then each again: postbacks and frames alike see the final state before the fill.
      await kite.releaseUpdates((held) => [...held].reverse().flatMap((u) => [u, u]));
      await framesApplied();
      await expectConverged(taskId, orderId, { status: 'CANCELLED', filledQuantity: 65, averagePrice: 99.5 });
      // Kite repeats the order's whole life, oldest first; the poll reads the book. Nothing moves it.
      await kite.replayUpdates(orderId);
      await framesApplied();
      await poll();
      await expectConverged(taskId, orderId, { status: 'CANCELLED', filledQuantity: 65, pendingQuantity: 0 });
      expect(kite.postbackDeliveries().every((d) => d.status === 200)).toBe(true);
    } finally {
      unsubscribe();
      kite.setPostbackUrl(API_KEY, undefined);
    }
  });

  it('catches up from the order book when every postback and frame of the fill was lost', async () => {
    const { taskId, orderId } = await placeResting(1);
    kite.holdUpdates();
    kite.fill(orderId, { price: 93 });
    await kite.releaseUpdates(() => []);
    // Only Kite's answer to the placement is known: no update reached the platform.
    expect((await w.orders.get(taskId))?.result?.status).toBe('PLACED');
    await poll();
    await expectConverged(taskId, orderId, { status: 'COMPLETE', filledQuantity: 65, averagePrice: 93 });
  });

  it('ends COMPLETE with the fill price and quantity for any interleaving of the three sources (property)', async () => {
    type Step = { readonly source: 'postback' | 'frame' | 'poll'; readonly index: number };
    const step = fc.record({
      source: fc.constantFrom<Step['source']>('postback', 'frame', 'poll'),
      index: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 8 }), fc.nat(), async (extra, finalAt) => {
        const { taskId, orderId } = await placeResting(1);
        kite.holdUpdates();
        // The market comes down through the resting price: Kite fills it there.
        kite.setLastPrice(kite.order(orderId).tradingsymbol, 94.5);
        kite.setLastPrice(kite.order(orderId).tradingsymbol, LAST_PRICE);
        const updates = [...kite.orderUpdates(orderId)];
        await kite.releaseUpdates(() => []);
        expect(updates.at(-1)?.postback.status).toBe('COMPLETE');
        // Every update of the order's life through some source, in any order, repeated at will;
        // the final one at least once, at a generated position.
        const script: Step[] = extra.map((s) => ({ ...s, index: s.index % updates.length }));
        script.splice(finalAt % (script.length + 1), 0, {
          source: finalAt % 2 === 0 ? 'postback' : 'frame',
          index: updates.length - 1,
        });
        for (const s of script) {
          const update = updates[s.index] as FakeKiteOrderUpdate;
          if (s.source === 'postback') expect(['applied', 'unchanged']).toContain(await postback(update));
          else if (s.source === 'frame') await frame(update);
          else await poll();
        }
        await expectConverged(taskId, orderId, {
          status: 'COMPLETE',
          filledQuantity: 65,
          pendingQuantity: 0,
          averagePrice: 94.5,
        });
      }),
      { numRuns: 12 },
    );
  });
});

import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { listDeadLettersUseCase, redriveOrderUseCase } from '../../../functions/api/dead-letters.js';
import { kitePostbackUseCase, postbackChecksum } from '../../../functions/api/kite-postback.js';
import {
  cancelOrderUseCase,
  createOrderUseCase,
  getOrderUseCase,
  modifyOrderUseCase,
  OrderChangeResponse,
} from '../../../functions/api/orders.js';
import { DEVELOPMENT_JWT_SECRET } from '../../../shared/config.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { OrderTask } from '../../../shared/contracts/order.js';
import { DeadLetterListResponse, OrderResponse } from '../../../shared/contracts/order-api.js';
import { tagError } from '../../../shared/domain/orders/order-status.js';
import { aggregateSlices } from '../../../shared/domain/orders/sliced-order.js';
import type { OrderResult } from '../../../shared/ports/orders.js';
import { orderTask } from '../../support/order-queue-contract.js';
import {
  call,
  fakeComponents,
  listedOption,
  principalOfApiKey,
  principalOfSubject,
  routed,
} from './fake-components.js';

/*
 * The REST side of changing orders after they are placed, and of who may see them: ownership
 * (another caller gets 404 and never sees the order listed), the exchange's rules at POST /orders,
 * cancel and modify as idempotent queued tasks, and Kite's checksummed postbacks.
 */

type Fake = ReturnType<typeof fakeComponents>;

const OPTION = listedOption('NIFTY', 'CE');
/** The caller `call` authenticates as by default (API key `test-key`). */
const ASHA = principalOfApiKey('test-key');
/** A second API key (a trader's), and a JWT subject (a trader by DEFAULT_ROLE): two other callers. */
const OTHER_KEY = 'other-key';
const ENV = { API_KEYS: `test-key,${OTHER_KEY}:trader` };

const PLACE = {
  idempotency_key: 'key-1',
  account_id: 'paper',
  operation: 'place_order',
  params: {
    exchange: OPTION.exchange,
    tradingsymbol: OPTION.tradingsymbol,
    transaction_type: 'BUY',
    quantity: OPTION.lotSize,
    product: 'NRML',
    order_type: 'LIMIT',
    price: 50,
  },
} as const;

async function bearer(subject: string): Promise<Record<string, string>> {
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(DEVELOPMENT_JWT_SECRET));
  return { authorization: `Bearer ${jwt}`, 'x-api-key': '' };
}

function post(fake: Fake, body: unknown, headers: Record<string, string> = {}) {
  return call(routed(createOrderUseCase, fake.components), {
    method: 'POST',
    path: '/orders',
    body: JSON.stringify(body),
    headers,
  });
}

const get = (fake: Fake, taskId: string, headers: Record<string, string> = {}) =>
  call(routed(getOrderUseCase, fake.components), { pathParameters: { task_id: taskId }, headers });
const cancel = (fake: Fake, taskId: string, headers: Record<string, string> = {}) =>
  call(routed(cancelOrderUseCase, fake.components), { method: 'DELETE', pathParameters: { task_id: taskId }, headers });
const modify = (fake: Fake, taskId: string, body: unknown, headers: Record<string, string> = {}) =>
  call(routed(modifyOrderUseCase, fake.components), {
    method: 'PATCH',
    pathParameters: { task_id: taskId },
    body: JSON.stringify(body),
    headers,
  });

/**
 * Places `taskId` as Asha over REST, then does what the worker does with a placement the broker
 * answered: RUNNING, the broker order linked to the task, COMPLETED with the order as the result.
 */
async function placed(fake: Fake, taskId: string, result: Partial<OrderResult> & Pick<OrderResult, 'status'>) {
  const accepted = await post(fake, { ...PLACE, task_id: taskId, idempotency_key: `key-${taskId}` });
  expect(accepted.status).toBe(202);
  const now = fake.clock.now();
  const orderId = `order-${taskId}`;
  await fake.orders.transition(taskId, 'RUNNING', {}, now);
  await fake.orders.linkBrokerOrder(orderId, taskId);
  await fake.orders.transition(
    taskId,
    'COMPLETED',
    {
      attempt: { attempt: 1, at: now },
      result: { orderId, paper: true, quantity: OPTION.lotSize, filledQuantity: 0, ...result },
    },
    now,
  );
  return orderId;
}

const queuedTasks = (fake: Fake) => fake.orderQueues.main.peek().map((m) => OrderTask.parse(JSON.parse(m.body)));

function errorOf(response: { body: unknown }) {
  return ApiErrorResponse.parse(response.body).error;
}

describe('orders belong to their caller', () => {
  it("answers another caller 404 on GET, DELETE, PATCH and redrive of someone's order, as for an unknown one", async () => {
    const fake = fakeComponents({ env: ENV });
    await placed(fake, 'asha-1', { status: 'OPEN' });
    expect((await get(fake, 'asha-1')).status).toBe(200);

    for (const headers of [{ 'x-api-key': OTHER_KEY }, await bearer('balu')]) {
      const what = JSON.stringify(Object.keys(headers));
      expect((await get(fake, 'asha-1', headers)).status, what).toBe(404);
      expect((await cancel(fake, 'asha-1', headers)).status, what).toBe(404);
      expect((await modify(fake, 'asha-1', { price: 45 }, headers)).status, what).toBe(404);
      // The same answer as a task that does not exist: nothing tells the id is taken.
      expect(errorOf(await get(fake, 'asha-1', headers))).toMatchObject({ code: 'NOT_FOUND' });
    }
    // Nothing was queued for them: only Asha's placement is on the queue.
    expect(queuedTasks(fake).map((t) => t.operation)).toEqual(['place_order']);
    expect((await fake.orders.get('asha-1'))?.result?.status).toBe('OPEN');
  });

  it("lists every caller's dead letters to an admin, and refuses a trader's list and redrive naming the role", async () => {
    const fake = fakeComponents({ env: ENV });
    const t0 = fake.clock.now();
    const dead = async (taskId: string, owner: string) => {
      await fake.orders.create(orderTask(taskId, { owner }), t0);
      await fake.orders.transition(taskId, 'RUNNING', {}, t0 + 1);
      await fake.orders.transition(taskId, 'DEAD_LETTER', { lastError: tagError('input', 'refused') }, t0 + 2);
    };
    const baluHeaders = await bearer('balu');
    await dead('asha-dead', ASHA);
    await dead('balu-dead', principalOfSubject('balu'));
    await dead('other-dead', principalOfApiKey(OTHER_KEY));

    const list = routed(listDeadLettersUseCase, fake.components);
    const listed = async (headers: Record<string, string>) => call(list, { headers });
    const ids = DeadLetterListResponse.parse((await listed({})).body).dead_letters.map((d) => d.task_id);
    expect(ids.sort()).toEqual(['asha-dead', 'balu-dead', 'other-dead']);
    for (const headers of [baluHeaders, { 'x-api-key': OTHER_KEY }]) {
      const refused = await listed(headers);
      expect(refused.status).toBe(403);
      expect(errorOf(refused)).toMatchObject({ code: 'FORBIDDEN', required_role: 'admin' });
    }

    const redrive = routed(redriveOrderUseCase, fake.components);
    const request = (taskId: string, headers: Record<string, string>) =>
      call(redrive, { method: 'POST', pathParameters: { task_id: taskId }, headers });
    // Not even their own: redriving is an operator's decision.
    expect((await request('balu-dead', baluHeaders)).status).toBe(403);
    expect((await fake.orders.get('balu-dead'))?.status).toBe('DEAD_LETTER');
    expect(fake.orderQueues.main.peek()).toEqual([]);
  });
});

describe('POST /orders and the exchange rules', () => {
  it('answers 400 naming params.market_protection for market_protection 0, and queues nothing', async () => {
    const fake = fakeComponents();
    const response = await post(fake, {
      ...PLACE,
      params: { ...PLACE.params, order_type: 'MARKET', price: undefined, market_protection: 0 },
    });
    expect(response.status).toBe(400);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details?.map((d) => d.path)).toContain('params.market_protection');
    expect(fake.orderQueues.main.peek()).toEqual([]);
  });

  it("gives a MARKET order without market_protection the broker's automatic -1, in the record and on the queue", async () => {
    const fake = fakeComponents();
    const response = await post(fake, {
      ...PLACE,
      task_id: 'market-1',
      params: { ...PLACE.params, order_type: 'MARKET', price: undefined },
    });
    expect(response.status).toBe(202);
    const stored = (await fake.orders.get('market-1'))?.task;
    expect(stored?.operation === 'place_order' && stored.params.market_protection).toBe(-1);
    const [queued] = queuedTasks(fake);
    expect(queued?.operation === 'place_order' && queued.params.market_protection).toBe(-1);
    // And the task's REST view shows it.
    const view = OrderResponse.parse((await get(fake, 'market-1')).body).order;
    expect(view.task.params).toMatchObject({ market_protection: -1 });
  });

  it('answers 400 naming params.quantity for a quantity that is not a whole number of lots', async () => {
    const fake = fakeComponents();
    const response = await post(fake, { ...PLACE, params: { ...PLACE.params, quantity: OPTION.lotSize + 1 } });
    expect(response.status).toBe(400);
    const detail = errorOf(response).details?.find((d) => d.path === 'params.quantity');
    expect(detail?.message).toContain(`lots of ${OPTION.lotSize}`);
    expect(fake.orderQueues.main.peek()).toEqual([]);
  });

  it('answers 400 naming params.price, with the band, for a LIMIT BUY above the band around the latest price', async () => {
    const fake = fakeComponents();
    await fake.state.putLatest(
      new Map([
        [OPTION.instrumentToken, JSON.stringify({ instrument_token: OPTION.instrumentToken, last_price: 100 })],
      ]),
    );
    // ±40 % around ₹100: a BUY may go up to ₹140.
    const above = await post(fake, { ...PLACE, params: { ...PLACE.params, price: 140.05 } });
    expect(above.status).toBe(400);
    const detail = errorOf(above).details?.find((d) => d.path === 'params.price');
    expect(detail?.message).toContain('60.00-140.00');
    expect(fake.orderQueues.main.peek()).toEqual([]);

    // The band's top itself is accepted: it is the band that refused, not the price as such.
    const top = await post(fake, { ...PLACE, task_id: 'at-top', params: { ...PLACE.params, price: 140 } });
    expect(top.status).toBe(202);
  });
});

describe('DELETE /orders/{task_id}', () => {
  it('queues one cancel_order task for an OPEN order; a repeat answers the same task and queues nothing more', async () => {
    const fake = fakeComponents();
    const orderId = await placed(fake, 'open-1', { status: 'OPEN' });
    const first = await cancel(fake, 'open-1');
    expect(first.status).toBe(202);
    const body = OrderChangeResponse.parse(first.body);
    expect(body).toMatchObject({
      message: 'Cancel accepted',
      order_task_id: 'open-1',
      order_id: orderId,
      status: 'PENDING',
    });
    const cancels = () => queuedTasks(fake).filter((t) => t.operation === 'cancel_order');
    expect(cancels()).toHaveLength(1);
    expect(cancels()[0]).toMatchObject({
      task_id: body.task_id,
      owner: ASHA,
      account_id: 'paper',
      params: { order_id: orderId, variety: 'regular' },
    });
    expect((await fake.orders.get(body.task_id))?.status).toBe('PENDING');

    const again = await cancel(fake, 'open-1');
    expect(again.status).toBe(202);
    expect(OrderChangeResponse.parse(again.body).task_id).toBe(body.task_id);
    expect(cancels()).toHaveLength(1);
  });

  it('answers 409 for an order the broker finished (COMPLETE or CANCELLED), queueing nothing', async () => {
    const fake = fakeComponents();
    await placed(fake, 'done-1', { status: 'COMPLETE', filledQuantity: OPTION.lotSize, averagePrice: 48 });
    await placed(fake, 'done-2', { status: 'CANCELLED' });
    for (const taskId of ['done-1', 'done-2']) {
      const response = await cancel(fake, taskId);
      expect(response.status, taskId).toBe(409);
      expect(errorOf(response).code).toBe('CONFLICT');
    }
    expect(queuedTasks(fake).filter((t) => t.operation !== 'place_order')).toEqual([]);
  });

  it('answers 409 for a task not placed yet (PENDING)', async () => {
    const fake = fakeComponents();
    expect((await post(fake, { ...PLACE, task_id: 'pending-1' })).status).toBe(202);
    const response = await cancel(fake, 'pending-1');
    expect(response.status).toBe(409);
    expect(errorOf(response).message).toContain('PENDING');
    expect(queuedTasks(fake).map((t) => t.operation)).toEqual(['place_order']);
  });
});

describe('PATCH /orders/{task_id}', () => {
  it('answers 400 for an empty body, and queues a modify_order task with the changes otherwise', async () => {
    const fake = fakeComponents();
    const orderId = await placed(fake, 'open-2', { status: 'OPEN' });
    const empty = await modify(fake, 'open-2', {});
    expect(empty.status).toBe(400);
    expect(errorOf(empty).code).toBe('VALIDATION_FAILED');
    expect(queuedTasks(fake).filter((t) => t.operation === 'modify_order')).toEqual([]);

    const changed = await modify(fake, 'open-2', { price: 45 });
    expect(changed.status).toBe(202);
    const body = OrderChangeResponse.parse(changed.body);
    expect(body.message).toBe('Modify accepted');
    expect(queuedTasks(fake).filter((t) => t.operation === 'modify_order')).toEqual([
      expect.objectContaining({
        task_id: body.task_id,
        params: expect.objectContaining({ order_id: orderId, price: 45 }),
      }),
    ]);
  });
});

describe('sliced orders over REST', () => {
  /** NIFTY: 1755 (27 lots of 65) per order at most; 60 lots is three children. */
  const SLICED = { ...PLACE, params: { ...PLACE.params, quantity: 65 * 60, slice: true } };

  /** Places `taskId` sliced, then records what the worker would: three children in `statuses`. */
  async function placedSliced(fake: Fake, taskId: string, statuses: readonly string[]) {
    const accepted = await post(fake, { ...SLICED, task_id: taskId, idempotency_key: `key-${taskId}` });
    expect(accepted.status).toBe(202);
    const now = fake.clock.now();
    const slices = [1755, 1755, 390].map((quantity, i) => ({
      index: i + 1,
      quantity,
      order: { orderId: `${taskId}-c${i + 1}`, status: statuses[i] ?? 'OPEN', quantity },
    }));
    await fake.orders.transition(taskId, 'RUNNING', {}, now);
    for (const s of slices) await fake.orders.linkBrokerOrder(s.order.orderId, taskId);
    await fake.orders.transition(taskId, 'COMPLETED', { result: { ...aggregateSlices(slices), paper: true } }, now);
    return slices.map((s) => s.order.orderId);
  }

  it('accepts slice: true above the freeze quantity, and answers 400 on params.slice past 10 slices', async () => {
    const fake = fakeComponents();
    expect(OPTION.lotSize).toBe(65);
    expect((await post(fake, { ...SLICED, task_id: 'sliced-ok' })).status).toBe(202);
    const eleven = await post(fake, {
      ...SLICED,
      task_id: 'sliced-11',
      params: { ...SLICED.params, quantity: 65 * 271 },
    });
    expect(eleven.status).toBe(400);
    expect(errorOf(eleven).details?.find((d) => d.path === 'params.slice')?.message).toContain('at most 10 slices');
    expect(queuedTasks(fake).map((t) => t.task_id)).toEqual(['sliced-ok']);
  });

  it('shows each child under result.slices with the aggregate at the top', async () => {
    const fake = fakeComponents();
    const ids = await placedSliced(fake, 'sliced-view', ['OPEN', 'COMPLETE', 'OPEN']);
    const body = OrderResponse.parse((await get(fake, 'sliced-view')).body);
    expect(body.order.result).toMatchObject({ order_id: ids[0], status: 'OPEN', quantity: 3900 });
    expect(body.order.result?.slices?.map((s) => [s.index, s.order_id, s.status, s.quantity])).toEqual([
      [1, ids[0], 'OPEN', 1755],
      [2, ids[1], 'COMPLETE', 1755],
      [3, ids[2], 'OPEN', 390],
    ]);
  });

  it('DELETE queues a cancel of every open child, the same ones again on a repeat', async () => {
    const fake = fakeComponents();
    const ids = await placedSliced(fake, 'sliced-cancel', ['OPEN', 'COMPLETE', 'TRIGGER PENDING']);
    const first = await cancel(fake, 'sliced-cancel');
    expect(first.status).toBe(202);
    const body = OrderChangeResponse.parse(first.body);
    expect(body.slices?.map((s) => [s.index, s.order_id, s.status])).toEqual([
      [1, ids[0], 'PENDING'],
      [3, ids[2], 'PENDING'],
    ]);
    expect(body).toMatchObject({ task_id: body.slices?.[0]?.task_id, order_id: ids[0] });
    const cancels = () => queuedTasks(fake).filter((t) => t.operation === 'cancel_order');
    expect(cancels().map((t) => t.operation === 'cancel_order' && t.params.order_id)).toEqual([ids[0], ids[2]]);

    const again = OrderChangeResponse.parse((await cancel(fake, 'sliced-cancel')).body);
    expect(again.slices?.map((s) => s.task_id)).toEqual(body.slices?.map((s) => s.task_id));
    expect(cancels()).toHaveLength(2);
  });

  it('DELETE answers 409 when no child is open', async () => {
    const fake = fakeComponents();
    await placedSliced(fake, 'sliced-done', ['COMPLETE', 'CANCELLED', 'COMPLETE']);
    expect((await cancel(fake, 'sliced-done')).status).toBe(409);
  });

  it('PATCH of quantity is a 400 naming quantity; other terms go to every open child', async () => {
    const fake = fakeComponents();
    const ids = await placedSliced(fake, 'sliced-modify', ['OPEN', 'OPEN', 'COMPLETE']);
    const quantity = await modify(fake, 'sliced-modify', { quantity: 65 });
    expect(quantity.status).toBe(400);
    expect(errorOf(quantity).details?.map((d) => d.path)).toEqual(['quantity']);

    const price = await modify(fake, 'sliced-modify', { price: 45 });
    expect(price.status).toBe(202);
    const modifies = queuedTasks(fake).filter((t) => t.operation === 'modify_order');
    expect(modifies.map((t) => t.operation === 'modify_order' && [t.params.order_id, t.params.price])).toEqual([
      [ids[0], 45],
      [ids[1], 45],
    ]);
  });
});

describe('POST /kite/postback', () => {
  const ACCOUNTS = { KITE_ACCOUNTS: 'acc1:key1:token1:secret-one', ENABLE_MOCK_DATA: 'true' };
  const ORDER_TIMESTAMP = '2025-01-08 11:30:00';

  /** A COMPLETED placement of acc1 whose order `orderId` rests OPEN. */
  async function openOrder(fake: Fake, taskId: string, orderId: string) {
    const now = fake.clock.now();
    await fake.orders.create(orderTask(taskId, { account_id: 'acc1', owner: ASHA }), now);
    await fake.orders.transition(taskId, 'RUNNING', {}, now);
    await fake.orders.linkBrokerOrder(orderId, taskId);
    await fake.orders.transition(
      taskId,
      'COMPLETED',
      {
        attempt: { attempt: 1, at: now },
        result: {
          orderId,
          paper: false,
          status: 'OPEN',
          filledQuantity: 0,
          pendingQuantity: 65,
          orderTimestamp: ORDER_TIMESTAMP,
          exchangeUpdateTimestamp: ORDER_TIMESTAMP,
        },
      },
      now,
    );
  }

  /** Kite's postback that `orderId` filled completely at 101.5, signed with `secret`. */
  function filled(orderId: string, secret: string | undefined) {
    return {
      order_id: orderId,
      status: 'COMPLETE',
      order_timestamp: ORDER_TIMESTAMP,
      exchange_timestamp: ORDER_TIMESTAMP,
      exchange_update_timestamp: '2025-01-08 11:30:05',
      filled_quantity: 65,
      pending_quantity: 0,
      average_price: 101.5,
      quantity: 65,
      order_type: 'LIMIT',
      checksum: secret === undefined ? 'not-a-checksum' : postbackChecksum(orderId, ORDER_TIMESTAMP, secret),
    };
  }

  const postback = (fake: Fake, body: unknown) =>
    call(kitePostbackUseCase(fake.components), {
      method: 'POST',
      path: '/kite/postback',
      body: JSON.stringify(body),
      headers: { 'x-api-key': '' },
    });

  it("applies a postback whose checksum the account's api secret verifies: 200 applied, the task's result updated", async () => {
    const fake = fakeComponents({ env: ACCOUNTS });
    await openOrder(fake, 'kite-1', 'K-1');
    const response = await postback(fake, filled('K-1', 'secret-one'));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', outcome: 'applied' });
    expect((await fake.orders.get('kite-1'))?.result).toMatchObject({
      orderId: 'K-1',
      status: 'COMPLETE',
      filledQuantity: 65,
      pendingQuantity: 0,
      averagePrice: 101.5,
    });
    // The same postback again (Kite retries) changes nothing.
    expect((await postback(fake, filled('K-1', 'secret-one'))).body).toEqual({ status: 'ok', outcome: 'unchanged' });
  });

  it('answers 401 to a postback with a wrong checksum, and the task keeps its result', async () => {
    const fake = fakeComponents({ env: ACCOUNTS });
    await openOrder(fake, 'kite-2', 'K-2');
    const before = await fake.orders.get('kite-2');
    for (const body of [
      filled('K-2', 'someone-elses-secret'),
      filled('K-2', undefined),
      { ...filled('K-2', 'secret-one'), order_timestamp: '2025-01-08 11:30:01' },
    ]) {
      const response = await postback(fake, body);
      expect(response.status).toBe(401);
      expect(errorOf(response).code).toBe('UNAUTHORIZED');
    }
    expect(await fake.orders.get('kite-2')).toEqual(before);
  });

  it('answers 401 to every postback when no account has an api secret configured', async () => {
    const fake = fakeComponents({ env: { KITE_ACCOUNTS: 'acc1:key1:token1', ENABLE_MOCK_DATA: 'true' } });
    await openOrder(fake, 'kite-3', 'K-3');
    const before = await fake.orders.get('kite-3');
    for (const secret of ['secret-one', '']) {
      expect((await postback(fake, filled('K-3', secret))).status).toBe(401);
    }
    expect(await fake.orders.get('kite-3')).toEqual(before);
  });
});

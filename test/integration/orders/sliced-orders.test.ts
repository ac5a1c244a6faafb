import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyOrderUpdate } from '../../../functions/orders/order-updates.js';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import type { KiteBroker } from '../../../shared/adapters/kite/kite-broker.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import { sliceStatus } from '../../../shared/domain/orders/sliced-order.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import type { OrderRecord } from '../../../shared/ports/orders.js';
import { fakeKiteBroker } from '../../support/kite-rest/fake-kite-broker.js';
import { type FakeKiteRest, startKiteRestServer } from '../../support/kite-rest/kite-rest-server.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { startOrderWorker } from '../../support/order-worker-harness.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

/** NIFTY, January 2026 series: lot 65, freeze 1800, so one order carries at most 1755 (27 lots). */
const NIFTY_CE: Instrument = {
  instrumentToken: 12345602,
  tradingsymbol: 'NIFTY26JAN24000CE',
  name: 'NIFTY',
  exchange: 'NFO',
  segment: 'NFO-OPT',
  instrumentType: 'CE',
  strike: 24000,
  expiry: '2026-01-27',
  lotSize: 65,
  tickSize: 0.05,
};

/** 60 lots: children of 1755, 1755 and 390. */
const QUANTITY = 3900;
const PLAN = [1755, 1755, 390];

function slicedTask(taskId: string, params: Record<string, unknown> = {}, account = 'ZX1234'): OrderTask {
  const base = placeOrderTask(taskId, { account_id: account });
  if (base.operation !== 'place_order') throw new Error('the fixture is a placement');
  return { ...base, params: { ...base.params, quantity: QUANTITY, slice: true, ...params } } as OrderTask;
}

const placedChildren = (record: OrderRecord | undefined) => (record?.result?.slices ?? []).filter((s) => s.order);

describe('sliced orders on the paper broker', () => {
  it('places one child per slice, each with its own result and link, and the task shows their aggregate', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE] });
    w.send(slicedTask('sl-1'));
    await w.drain();

    const record = await w.orders.get('sl-1');
    expect(record?.status).toBe('COMPLETED');
    const slices = record?.result?.slices ?? [];
    expect(slices.map((s) => s.quantity)).toEqual(PLAN);
    expect(slices.map((s) => s.order?.status)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect(slices.map((s) => s.order?.filledQuantity)).toEqual(PLAN);
    expect(new Set(slices.map((s) => s.order?.orderId)).size).toBe(3);
    expect(record?.result).toMatchObject({
      orderId: slices[0]?.order?.orderId,
      status: 'COMPLETE',
      filledQuantity: QUANTITY,
      quantity: QUANTITY,
      averagePrice: 101.5,
      paper: true,
    });
    // One placement per child, each under its own key; every child id leads back to the task.
    expect([...w.broker.placements()]).toEqual([
      ['key-sl-1#slice-1', 1],
      ['key-sl-1#slice-2', 1],
      ['key-sl-1#slice-3', 1],
    ]);
    for (const s of slices) expect(await w.orders.taskOfBrokerOrder(s.order?.orderId ?? '')).toBe('sl-1');
  });

  it('a message redelivered after a crash between slices resumes at the next child and places none twice', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE] });
    let crashed = false;
    // The worker dies right after recording child 2: the message comes back, the record says RUNNING.
    w.orders.crashOn = (_id, to, changes) => {
      if (crashed || to !== 'RUNNING' || changes.result?.slices?.filter((s) => s.order).length !== 2) return undefined;
      crashed = true;
      return 'after';
    };
    w.send(slicedTask('sl-crash'));
    const first = await w.deliver();
    expect(first.response?.batchItemFailures).toHaveLength(1);
    expect(placedChildren(await w.orders.get('sl-crash'))).toHaveLength(2);
    await w.drain();

    const record = await w.orders.get('sl-crash');
    expect(record?.status).toBe('COMPLETED');
    expect(record?.result?.slices?.map((s) => s.order?.status)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect([...w.broker.placements().values()]).toEqual([1, 1, 1]);
  });

  it('a resumed order is not judged by the rules again: children placed are never dead-lettered', async () => {
    const instruments = [NIFTY_CE];
    const w = await startOrderWorker(client, { instruments });
    let crashed = false;
    w.orders.crashOn = (_id, to, changes) => {
      if (crashed || to !== 'RUNNING' || changes.result?.slices?.filter((s) => s.order).length !== 1) return undefined;
      crashed = true;
      return 'after';
    };
    w.send(slicedTask('sl-rules'));
    await w.deliver();
    // The instrument leaves the master (an expiry rolled over) before the redelivery.
    instruments.splice(0);
    await w.drain();
    const record = await w.orders.get('sl-rules');
    expect(record?.status).toBe('COMPLETED');
    expect(placedChildren(record)).toHaveLength(3);
  });

  it('a child the broker refuses ends the task COMPLETED with that child REJECTED, the rest NOT PLACED, placed ones kept', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE] });
    // Child 2 is refused (as a margin shortfall would be), after child 1 is placed and recorded.
    w.orders.crashOn = (_id, to, changes) => {
      if (to === 'RUNNING' && changes.result?.slices?.filter((s) => s.order).length === 1) w.broker.failNext('margin');
      return undefined;
    };
    w.send(slicedTask('sl-refused'));
    await w.drain();

    const record = await w.orders.get('sl-refused');
    expect(record?.status).toBe('COMPLETED');
    const slices = record?.result?.slices ?? [];
    expect(slices.map(sliceStatus)).toEqual(['COMPLETE', 'REJECTED', 'NOT PLACED']);
    expect(slices[1]?.error).toBe('[margin] Injected margin failure');
    expect(record?.result).toMatchObject({
      status: 'COMPLETE',
      filledQuantity: 1755,
      statusMessage: '1 of 3 slices placed; slice 2 was refused: [margin] Injected margin failure',
    });
    expect(await w.orders.taskOfBrokerOrder(slices[0]?.order?.orderId ?? '')).toBe('sl-refused');
    expect((await w.deadLetters()).length).toBe(0);
  });

  it('a refusal of the first child places nothing: the task is dead-lettered as a single order is', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE] });
    w.broker.failNext('margin');
    w.send(slicedTask('sl-none'));
    await w.drain();
    const record = await w.orders.get('sl-none');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.result).toBeUndefined();
    expect(w.broker.placements().size).toBe(0);
  });

  it('refuses more than 10 slices on params.slice as a validation dead letter, placing nothing', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE] });
    w.send(slicedTask('sl-eleven', { quantity: 65 * 271 }));
    await w.drain();
    const record = await w.orders.get('sl-eleven');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.lastError).toMatch(/^\[validation\] params\.slice: quantity 17615 needs 11 orders/);
    expect(w.broker.calls).toEqual([]);
  });

  it('news of a child lands on that child only, and cancel tasks for each open child cancel them all', async () => {
    const w = await startOrderWorker(client, { instruments: [NIFTY_CE], lastPrice: 101.5 });
    // A BUY limit below the last price rests OPEN.
    w.send(slicedTask('sl-rest', { order_type: 'LIMIT', price: 95, market_protection: undefined }));
    await w.drain();
    const placed = await w.orders.get('sl-rest');
    expect(placed?.result?.slices?.map((s) => s.order?.status)).toEqual(['OPEN', 'OPEN', 'OPEN']);
    const ids = (placed?.result?.slices ?? []).map((s) => s.order?.orderId ?? '');

    const deps = { orders: w.orders, clock: w.clock };
    const fill = {
      orderId: ids[1] ?? '',
      status: 'COMPLETE',
      filledQuantity: 1755,
      pendingQuantity: 0,
      averagePrice: 95,
      exchangeUpdateTimestamp: '2099-01-01 10:00:00',
    };
    expect(await applyOrderUpdate(deps, fill)).toBe('applied');
    expect(await applyOrderUpdate(deps, fill)).toBe('unchanged');
    // Older news of the same child does not move it back.
    expect(
      await applyOrderUpdate(deps, { ...fill, status: 'OPEN', exchangeUpdateTimestamp: '2000-01-01 10:00:00' }),
    ).toBe('unchanged');
    const updated = await w.orders.get('sl-rest');
    expect(updated?.result?.slices?.map((s) => s.order?.status)).toEqual(['OPEN', 'COMPLETE', 'OPEN']);
    expect(updated?.result).toMatchObject({ status: 'OPEN', filledQuantity: 1755, pendingQuantity: 1755 + 390 });

    // What DELETE /orders/{task_id} queues for a sliced order: a cancel of each open child.
    for (const [i, orderId] of [ids[0], ids[2]].entries()) {
      w.send({
        task_id: `cancel-${i}`,
        idempotency_key: `cancel-${i}`,
        account_id: 'ZX1234',
        submitted_at: '2025-01-08T09:15:00+05:30',
        operation: 'cancel_order',
        params: { variety: 'regular', order_id: orderId ?? '' },
      });
    }
    await w.drain();
    const cancelled = await w.orders.get('sl-rest');
    expect(cancelled?.result?.slices?.map((s) => s.order?.status)).toEqual(['CANCELLED', 'COMPLETE', 'CANCELLED']);
    expect(cancelled?.result).toMatchObject({ status: 'COMPLETE', filledQuantity: 1755, pendingQuantity: 0 });
    await expect.poll(async () => (await w.orders.listOpenOrders({ limit: 10 })).items).toEqual([]);
  });
});

describe('sliced orders and the account budget', () => {
  it("two 10-slice orders at once keep to Kite's 10 orders a second: every child placed once", async () => {
    const kite = await startKiteRestServer({ accounts: { budgetkey: 'budgettoken' } });
    try {
      const broker = fakeKiteBroker({
        accountId: 'BUDGET1',
        apiKey: 'budgetkey',
        accessToken: 'budgettoken',
        root: kite.root,
      });
      const w = await startOrderWorker(client, { broker, instruments: [NIFTY_CE] });
      // 270 lots: ten children of 1755 each.
      w.send(slicedTask('budget-a', { quantity: 65 * 270 }, 'BUDGET1'));
      w.send(slicedTask('budget-b', { quantity: 65 * 270 }, 'BUDGET1'));
      await w.drain();
      for (const id of ['budget-a', 'budget-b']) {
        const record = await w.orders.get(id);
        expect(record?.status, id).toBe('COMPLETED');
        expect(placedChildren(record), id).toHaveLength(10);
      }
      expect(kite.orders('budgetkey')).toHaveLength(20);
      expect(kite.maxOrdersInAnyWindow('budgetkey', 1000)).toBeLessThanOrEqual(10);
      // A call Kite answered 429 (one that left late on a busy machine) is sent again: still one order each.
      expect(new Set(kite.orders('budgetkey').map((o) => o.tag)).size).toBe(20);
    } finally {
      await kite.stop();
    }
  });
});

describe('sliced orders on the fake Kite', () => {
  const API_KEY = 'slicekey';
  const ACCESS_TOKEN = 'slicetoken';
  const ACCOUNT = 'SLICE1';
  let kite: FakeKiteRest;
  let broker: KiteBroker;
  beforeAll(async () => {
    kite = await startKiteRestServer({ accounts: { [API_KEY]: ACCESS_TOKEN }, rules: { orderRateLimits: false } });
    broker = fakeKiteBroker({ accountId: ACCOUNT, apiKey: API_KEY, accessToken: ACCESS_TOKEN, root: kite.root });
  });
  afterAll(() => kite.stop());

  const placements = () => kite.requests.filter((r) => r.method === 'POST' && r.path === '/orders/regular').length;

  it('the fake refuses an order above the freeze quantity, so the children are what reaches it', async () => {
    const w = await startOrderWorker(client, { broker });
    const before = placements();
    const unsliced = slicedTask('kite-unsliced', { slice: undefined }, ACCOUNT);
    w.send(unsliced);
    await w.drain();
    expect(await w.orders.get('kite-unsliced')).toMatchObject({ status: 'DEAD_LETTER' });
    expect(placements() - before).toBe(1);
  });

  it('a worker that dies after Kite took a child but before recording it: the redelivery finds it by tag, no duplicate', async () => {
    const w = await startOrderWorker(client, { broker, instruments: [NIFTY_CE] });
    const before = kite.orders(API_KEY).length;
    let crashed = false;
    // Child 2 is placed at Kite; the write that would record it never happens.
    w.orders.crashOn = (_id, to, changes) => {
      if (crashed || to !== 'RUNNING' || changes.result?.slices?.filter((s) => s.order).length !== 2) return undefined;
      crashed = true;
      return 'before';
    };
    w.send(slicedTask('kite-crash', {}, ACCOUNT));
    await w.deliver();
    expect(placedChildren(await w.orders.get('kite-crash'))).toHaveLength(1);
    expect(kite.orders(API_KEY).length - before).toBe(2);
    await w.drain();

    const book = kite.orders(API_KEY).slice(before);
    expect(book.map((o) => o.quantity)).toEqual(PLAN);
    expect(new Set(book.map((o) => o.tag)).size).toBe(3);
    const record = await w.orders.get('kite-crash');
    expect(record?.status).toBe('COMPLETED');
    expect(record?.result?.slices?.map((s) => s.order?.orderId)).toEqual(book.map((o) => o.order_id));
    // Every child id leads back to the task, so postbacks, frames and the poll find the right child.
    for (const o of book) expect(await w.orders.taskOfBrokerOrder(o.order_id)).toBe('kite-crash');
  });
});

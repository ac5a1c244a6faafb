import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderUpdate } from '../../../shared/contracts/websocket.js';
import type { BrokerOrderState } from '../../../shared/domain/orders/broker-order.js';
import {
  aggregateSlices,
  aggregateStatus,
  brokerOrderOf,
  brokerOrdersOf,
  childTask,
  mergeOrderResult,
  nextSlice,
  type OrderSlice,
  type PlaceOrderTask,
  planSlices,
  withSlice,
} from '../../../shared/domain/orders/sliced-order.js';
import { orderUpdateOf } from '../../../shared/order-updates.js';
import { orderRecordOf } from '../../support/order-update-fixtures.js';

const TASK: PlaceOrderTask = {
  task_id: 'T1',
  idempotency_key: 'K1',
  account_id: 'A1',
  submitted_at: '2026-01-08T04:00:00.000Z',
  operation: 'place_order',
  params: {
    variety: 'regular',
    exchange: 'NFO',
    tradingsymbol: 'NIFTY26JAN24000CE',
    transaction_type: 'BUY',
    quantity: 3900,
    product: 'NRML',
    order_type: 'LIMIT',
    price: 100,
    validity: 'DAY',
    tag: 'mine',
    slice: true,
  },
};

const open = (orderId: string, quantity: number, at = '2026-01-08 10:00:00'): BrokerOrderState => ({
  orderId,
  status: 'OPEN',
  filledQuantity: 0,
  pendingQuantity: quantity,
  quantity,
  exchangeUpdateTimestamp: at,
});

/** Three children of 1755, 1755 and 390, all placed and resting. */
function placedThree(): { result: ReturnType<typeof aggregateSlices> & { paper: boolean } } {
  let slices: OrderSlice[] = planSlices([1755, 1755, 390]);
  slices = withSlice(slices, 1, { order: open('C1', 1755) });
  slices = withSlice(slices, 2, { order: open('C2', 1755) });
  slices = withSlice(slices, 3, { order: open('C3', 390) });
  return { result: { ...aggregateSlices(slices), paper: true } };
}

describe('childTask', () => {
  it('is the task with the child quantity, its own key, and neither slice nor the caller tag', () => {
    const child = childTask(TASK, 2, 1755);
    expect(child.params.quantity).toBe(1755);
    expect(child.params.slice).toBeUndefined();
    expect(child.params.tag).toBeUndefined();
    expect(child.idempotency_key).toBe('K1#slice-2');
    expect(childTask(TASK, 2, 1755).idempotency_key).toBe(child.idempotency_key);
    expect(childTask(TASK, 3, 1755).idempotency_key).not.toBe(child.idempotency_key);
    expect(child.params.price).toBe(100);
  });
});

describe('nextSlice', () => {
  it('is the first child without an order or a refusal', () => {
    let slices: OrderSlice[] = planSlices([65, 65, 65]);
    expect(nextSlice(slices)?.index).toBe(1);
    slices = withSlice(slices, 1, { order: open('C1', 65) });
    expect(nextSlice(slices)?.index).toBe(2);
    slices = withSlice(slices, 2, { error: '[input] no margin' });
    expect(nextSlice(slices)?.index).toBe(3);
    slices = withSlice(slices, 3, { order: open('C3', 65) });
    expect(nextSlice(slices)).toBeUndefined();
  });
});

describe('aggregateSlices', () => {
  it('sums quantities and fills, weights the average price by fills, and keeps the first child id', () => {
    let slices: OrderSlice[] = planSlices([1755, 1755, 390]);
    slices = withSlice(slices, 1, {
      order: { orderId: 'C1', status: 'COMPLETE', filledQuantity: 1755, averagePrice: 100, pendingQuantity: 0 },
    });
    slices = withSlice(slices, 2, {
      order: { orderId: 'C2', status: 'OPEN', filledQuantity: 390, averagePrice: 102, pendingQuantity: 1365 },
    });
    slices = withSlice(slices, 3, { order: open('C3', 390) });
    const all = aggregateSlices(slices);
    expect(all.orderId).toBe('C1');
    expect(all.quantity).toBe(3900);
    expect(all.filledQuantity).toBe(2145);
    expect(all.pendingQuantity).toBe(1365 + 390);
    expect(all.averagePrice).toBeCloseTo((1755 * 100 + 390 * 102) / 2145, 2);
    expect(all.status).toBe('OPEN');
    expect(all.statusMessage).toBeUndefined();
  });

  it('names the refused child and how many were placed', () => {
    let slices: OrderSlice[] = planSlices([65, 65, 65, 65]);
    slices = withSlice(slices, 1, { order: { orderId: 'C1', status: 'COMPLETE', filledQuantity: 65 } });
    slices = withSlice(slices, 2, { order: { orderId: 'C2', status: 'COMPLETE', filledQuantity: 65 } });
    slices = withSlice(slices, 3, { error: '[margin] Insufficient funds' });
    const all = aggregateSlices(slices);
    expect(all.status).toBe('COMPLETE');
    expect(all.filledQuantity).toBe(130);
    expect(all.statusMessage).toBe('2 of 4 slices placed; slice 3 was refused: [margin] Insufficient funds');
  });
});

describe('aggregateStatus', () => {
  const slices = (...statuses: string[]): OrderSlice[] =>
    statuses.map((status, i) => ({ index: i + 1, quantity: 65, order: { orderId: `C${i}`, status } }));

  it('is the common status, OPEN while any child works, then COMPLETE, CANCELLED or REJECTED', () => {
    expect(aggregateStatus(slices('PLACED', 'PLACED'))).toBe('PLACED');
    expect(aggregateStatus(slices('TRIGGER PENDING', 'TRIGGER PENDING'))).toBe('TRIGGER PENDING');
    expect(aggregateStatus(slices('PLACED', 'TRIGGER PENDING'))).toBe('TRIGGER PENDING');
    expect(aggregateStatus(slices('COMPLETE', 'TRIGGER PENDING'))).toBe('OPEN');
    expect(aggregateStatus(slices('COMPLETE', 'CANCELLED'))).toBe('COMPLETE');
    expect(aggregateStatus(slices('REJECTED', 'CANCELLED'))).toBe('CANCELLED');
    expect(aggregateStatus(slices('REJECTED', 'REJECTED'))).toBe('REJECTED');
  });

  it('never moves back while each child moves forward', () => {
    const life = ['PLACED', 'VALIDATION PENDING', 'TRIGGER PENDING', 'OPEN', 'COMPLETE'];
    const order = ['PLACED', 'VALIDATION PENDING', 'TRIGGER PENDING', 'OPEN'];
    const rank = (s: string) => (s === 'COMPLETE' ? 4 : order.indexOf(s));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 40 }), (moves) => {
        const steps = [0, 0, 0];
        let before = aggregateStatus(slices(...steps.map((s) => life[s] ?? 'PLACED')));
        for (const m of moves) {
          steps[m] = Math.min((steps[m] ?? 0) + 1, life.length - 1);
          const now = aggregateStatus(slices(...steps.map((s) => life[s] ?? 'PLACED')));
          expect(rank(now)).toBeGreaterThanOrEqual(rank(before));
          before = now;
        }
      }),
    );
  });
});

describe('mergeOrderResult', () => {
  it('lands news of a child on that child only, keeps paper, and recomputes the aggregate', () => {
    const { result } = placedThree();
    const merged = mergeOrderResult(result, {
      orderId: 'C2',
      status: 'COMPLETE',
      filledQuantity: 1755,
      pendingQuantity: 0,
      averagePrice: 101,
      exchangeUpdateTimestamp: '2026-01-08 10:00:05',
    });
    expect(merged?.paper).toBe(true);
    expect(merged?.slices?.map((s) => s.order?.status)).toEqual(['OPEN', 'COMPLETE', 'OPEN']);
    expect(merged?.filledQuantity).toBe(1755);
    expect(merged?.averagePrice).toBe(101);
    expect(merged?.status).toBe('OPEN');
    expect(merged?.exchangeUpdateTimestamp).toBe('2026-01-08 10:00:05');
  });

  it('ignores a repeat, older news, and an order id that is no child', () => {
    const { result } = placedThree();
    const update = { ...open('C3', 390, '2026-01-08 10:00:07'), status: 'CANCELLED', pendingQuantity: 0 };
    const once = mergeOrderResult(result, update);
    expect(once?.slices?.[2]?.order?.status).toBe('CANCELLED');
    expect(once && mergeOrderResult(once, update)).toBeUndefined();
    expect(once && mergeOrderResult(once, open('C3', 390, '2026-01-08 10:00:01'))).toBeUndefined();
    expect(mergeOrderResult(result, open('C9', 390))).toBeUndefined();
  });

  it('merges a single order as mergeBrokerOrder does', () => {
    const single = { ...open('O1', 65), paper: false };
    const merged = mergeOrderResult(single, { orderId: 'O1', status: 'COMPLETE', filledQuantity: 65 });
    expect(merged).toMatchObject({ orderId: 'O1', status: 'COMPLETE', filledQuantity: 65, paper: false });
    expect(merged).not.toHaveProperty('slices');
  });
});

describe('brokerOrdersOf', () => {
  it('gives each placed child with its child task, open ones only when asked', () => {
    const { result } = placedThree();
    const done = mergeOrderResult(result, { ...open('C1', 1755, '2026-01-08 10:00:09'), status: 'COMPLETE' });
    const all = brokerOrdersOf(TASK, done);
    expect(all.map((o) => o.state.orderId)).toEqual(['C1', 'C2', 'C3']);
    const openOnes = brokerOrdersOf(TASK, done, { open: true });
    expect(openOnes.map((o) => o.state.orderId)).toEqual(['C2', 'C3']);
    const c3 = brokerOrderOf(TASK, done, 'C3');
    expect(c3?.task.operation === 'place_order' && c3.task.params.quantity).toBe(390);
    expect(c3?.task.idempotency_key).toBe('K1#slice-3');
  });

  it('gives the one order of an unsliced result, without paper', () => {
    const result = { ...open('O1', 65), paper: true };
    const orders = brokerOrdersOf(TASK, result);
    expect(orders).toHaveLength(1);
    expect(orders[0]?.state).not.toHaveProperty('paper');
  });
});

describe('order frame of a sliced order', () => {
  it('carries the aggregate at the top and each child under slices, and parses as the WebSocket contract', () => {
    const { result } = placedThree();
    const done = mergeOrderResult(result, {
      ...open('C2', 1755, '2026-01-08 10:00:05'),
      status: 'COMPLETE',
      filledQuantity: 1755,
      pendingQuantity: 0,
      averagePrice: 101,
    });
    const record = orderRecordOf('T1', 'asha', done ?? result);
    const frame = OrderUpdate.parse(orderUpdateOf(record));
    expect(frame).toMatchObject({ order_id: 'C1', status: 'OPEN', filled_quantity: 1755, pending_quantity: 2145 });
    expect(frame.slices?.map((s) => [s.index, s.order_id, s.status, s.filled_quantity, s.pending_quantity])).toEqual([
      [1, 'C1', 'OPEN', 0, 1755],
      [2, 'C2', 'COMPLETE', 1755, 0],
      [3, 'C3', 'OPEN', 0, 390],
    ]);
    // Kite's IST wall clock, as an instant.
    expect(frame.slices?.[1]?.updated_at).toBe('2026-01-08T04:30:05.000Z');
  });
});

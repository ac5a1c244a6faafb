import { describe, expect, it } from 'vitest';
import { PaperBroker } from '../../../shared/adapters/paper-broker.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import type { BrokerResult, OpenOrder } from '../../../shared/ports/broker.js';
import { BrokerError } from '../../../shared/ports/broker.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

function limit(taskId: string, side: 'BUY' | 'SELL', price: number): OrderTask {
  const base = placeOrderTask(taskId);
  if (base.operation !== 'place_order') throw new Error('fixture is a placement');
  return { ...base, params: { ...base.params, transaction_type: side, order_type: 'LIMIT', price } };
}

function change(operation: 'modify_order' | 'cancel_order', orderId: string, extra: object = {}): OrderTask {
  return {
    ...placeOrderTask(`${operation}-${orderId}`),
    operation,
    params: { variety: 'regular', order_id: orderId, ...extra },
  } as OrderTask;
}

/** The book the platform keeps: the placing task and the order's latest state. */
function open(task: OrderTask, state: BrokerResult): OpenOrder {
  const { paper: _paper, ...rest } = state;
  return { task, state: rest };
}

describe('PaperBroker', () => {
  // 2026-12-07 10:00:00 IST.
  const T0 = Date.UTC(2026, 11, 7, 4, 30, 0);
  const rig = (initial = 120) => {
    let price = initial;
    let now = T0;
    const broker = new PaperBroker({
      lastPrice: async (_e, symbol) => (symbol === 'NIFTY26JAN24000CE' ? price : undefined),
      now: () => now,
    });
    return {
      broker,
      move: (to: number, ms = 1000) => {
        price = to;
        now += ms;
      },
    };
  };

  it('fills a market order at the last price with Kite timestamps and says it is paper', async () => {
    const result = await rig().broker.execute(placeOrderTask('m1'));
    expect(result).toMatchObject({
      paper: true,
      status: 'COMPLETE',
      averagePrice: 120,
      filledQuantity: 65,
      pendingQuantity: 0,
      orderTimestamp: '2026-12-07 10:00:00',
    });
  });

  it('fills a limit order when crossed and rests it otherwise, with no average price until a fill', async () => {
    const { broker } = rig();
    expect(await broker.execute(limit('l1', 'BUY', 121))).toMatchObject({ status: 'COMPLETE', averagePrice: 120 });
    expect(await broker.execute(limit('l2', 'SELL', 119))).toMatchObject({ status: 'COMPLETE', averagePrice: 120 });
    const resting = await broker.execute(limit('l3', 'BUY', 110));
    expect(resting).toMatchObject({ status: 'OPEN', filledQuantity: 0, pendingQuantity: 65, price: 110 });
    expect(resting.averagePrice).toBeUndefined();
  });

  it('fills a resting order on refresh once the live price crosses it, and not before', async () => {
    const { broker, move } = rig();
    const task = limit('r1', 'BUY', 110);
    const resting = await broker.execute(task);
    move(112);
    expect(await broker.refresh([open(task, resting)])).toEqual([{ ...open(task, resting).state }]);
    move(109.5);
    const [filled] = await broker.refresh([open(task, resting)]);
    expect(filled).toMatchObject({
      orderId: resting.orderId,
      status: 'COMPLETE',
      averagePrice: 109.5,
      filledQuantity: 65,
      exchangeUpdateTimestamp: '2026-12-07 10:00:02',
    });
  });

  it('holds a stop order until its trigger, then fills it', async () => {
    const { broker, move } = rig(100);
    const base = placeOrderTask('s1');
    if (base.operation !== 'place_order') throw new Error('fixture is a placement');
    const task: OrderTask = { ...base, params: { ...base.params, order_type: 'SL-M', trigger_price: 105 } };
    const waiting = await broker.execute(task);
    expect(waiting.status).toBe('TRIGGER PENDING');
    move(106);
    expect((await broker.refresh([open(task, waiting)]))[0]).toMatchObject({ status: 'COMPLETE', averagePrice: 106 });
  });

  it('modifies a resting order from the state it is handed and fills it on a crossing price', async () => {
    const { broker } = rig();
    const task = limit('l3', 'BUY', 110);
    const resting = await broker.execute(task);
    const modified = await broker.execute(change('modify_order', resting.orderId, { price: 125 }), {
      attempt: 1,
      order: open(task, resting),
    });
    expect(modified).toMatchObject({ orderId: resting.orderId, status: 'COMPLETE', averagePrice: 120, price: 125 });
  });

  it('cancels a resting order and refuses to change a finished or unknown one', async () => {
    const { broker } = rig();
    const task = limit('c1', 'SELL', 150);
    const resting = await broker.execute(task);
    const cancelled = await broker.execute(change('cancel_order', resting.orderId), {
      attempt: 1,
      order: open(task, resting),
    });
    expect(cancelled).toMatchObject({ status: 'CANCELLED', paper: true, pendingQuantity: 0 });
    await expect(
      broker.execute(change('cancel_order', resting.orderId), { attempt: 1, order: open(task, cancelled) }),
    ).rejects.toMatchObject({ kind: 'input' });
    await expect(broker.execute(change('cancel_order', 'nope'))).rejects.toBeInstanceOf(BrokerError);
  });

  it('places one order per idempotency key, and refuses an unknown instrument as bad input', async () => {
    const { broker } = rig();
    const first = await broker.execute(placeOrderTask('p1', { idempotency_key: 'same' }));
    expect(await broker.execute(placeOrderTask('p2', { idempotency_key: 'same' }))).toEqual(first);
    const base = placeOrderTask('u1');
    if (base.operation !== 'place_order') throw new Error('fixture is a placement');
    const unknown: OrderTask = { ...base, params: { ...base.params, tradingsymbol: 'NOPE' } };
    await expect(broker.execute(unknown)).rejects.toMatchObject({
      name: 'BrokerError',
      kind: 'input',
      retryable: false,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { PaperBroker } from '../../../shared/adapters/paper-broker.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import { BrokerError } from '../../../shared/ports/broker.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

function limit(taskId: string, side: 'BUY' | 'SELL', price: number): OrderTask {
  const base = placeOrderTask(taskId);
  if (base.operation !== 'place_order') throw new Error('fixture is a placement');
  return { ...base, params: { ...base.params, transaction_type: side, order_type: 'LIMIT', price } };
}

describe('PaperBroker', () => {
  const broker = () =>
    new PaperBroker({ lastPrice: async (_e, symbol) => (symbol === 'NIFTY26JAN24000CE' ? 120 : undefined) });

  it('fills a market order at the last price and says it is paper', async () => {
    const result = await broker().execute(placeOrderTask('m1'));
    expect(result).toMatchObject({ paper: true, status: 'COMPLETE', averagePrice: 120 });
  });

  it('fills a limit order when crossed and rests it otherwise, then fills it on a crossing modify', async () => {
    const b = broker();
    expect(await b.execute(limit('l1', 'BUY', 121))).toMatchObject({ status: 'COMPLETE', averagePrice: 120 });
    expect(await b.execute(limit('l2', 'SELL', 119))).toMatchObject({ status: 'COMPLETE', averagePrice: 120 });
    const resting = await b.execute(limit('l3', 'BUY', 110));
    expect(resting.status).toBe('OPEN');
    const modify: OrderTask = {
      ...placeOrderTask('l3m'),
      operation: 'modify_order',
      params: { variety: 'regular', order_id: resting.orderId, price: 125 },
    };
    expect(await b.execute(modify)).toMatchObject({ orderId: resting.orderId, status: 'COMPLETE', averagePrice: 120 });
  });

  it('cancels a resting order and refuses to cancel a filled or unknown one', async () => {
    const b = broker();
    const resting = await b.execute(limit('c1', 'SELL', 150));
    const cancel = (orderId: string): OrderTask => ({
      ...placeOrderTask(`cancel-${orderId}`),
      operation: 'cancel_order',
      params: { variety: 'regular', order_id: orderId },
    });
    expect(await b.execute(cancel(resting.orderId))).toMatchObject({ status: 'CANCELLED', paper: true });
    await expect(b.execute(cancel(resting.orderId))).rejects.toMatchObject({ kind: 'input' });
    await expect(b.execute(cancel('nope'))).rejects.toBeInstanceOf(BrokerError);
  });

  it('places one order per idempotency key, and refuses an unknown instrument as bad input', async () => {
    const b = broker();
    const first = await b.execute(placeOrderTask('p1', { idempotency_key: 'same' }));
    expect(await b.execute(placeOrderTask('p2', { idempotency_key: 'same' }))).toEqual(first);
    const base = placeOrderTask('u1');
    if (base.operation !== 'place_order') throw new Error('fixture is a placement');
    const unknown: OrderTask = { ...base, params: { ...base.params, tradingsymbol: 'NOPE' } };
    await expect(b.execute(unknown)).rejects.toMatchObject({ name: 'BrokerError', kind: 'input', retryable: false });
  });
});

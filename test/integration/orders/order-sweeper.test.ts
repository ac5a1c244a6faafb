import { afterAll, describe, expect, inject, it } from 'vitest';
import { OrderSweeper } from '../../../functions/orders/order-sweeper.js';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { LocalOrderQueue } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { staleAfterSeconds } from '../../../shared/domain/orders/stale-orders.js';
import { createLogger } from '../../../shared/logging.js';
import type { OrderStore } from '../../../shared/ports/orders.js';
import { captureLogs } from '../../support/log-capture.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { startOrderWorker } from '../../support/order-worker-harness.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

const silent = createLogger('order-sweeper-test', { logLevel: 'SILENT', environment: 'test' });

/** The order worker on dynalite and the local queue, with a sweeper over the same store and queue. */
async function start(orders?: (inner: OrderStore) => OrderStore) {
  const worker = await startOrderWorker(client);
  const windowSeconds = staleAfterSeconds({
    visibilityTimeoutSeconds: worker.queues.main.visibilityTimeoutSeconds,
    retry: { retryBaseSeconds: 1, retryMaxSeconds: 30 },
    breakerRecoveryTimeoutSeconds: 60,
  });
  const sweeper = (logger = silent) =>
    new OrderSweeper({
      orders: orders ? orders(worker.orders) : worker.orders,
      queue: new LocalOrderQueue(worker.queues),
      clock: worker.clock,
      logger,
      staleAfterSeconds: windowSeconds,
    });
  return { ...worker, sweeper, windowMs: windowSeconds * 1000 };
}

describe('OrderSweeper', () => {
  it('waits the 30 s visibility timeout plus the longest delay (the breaker recovery) on the local queue', () => {
    expect(
      staleAfterSeconds({
        visibilityTimeoutSeconds: 30,
        retry: { retryBaseSeconds: 1, retryMaxSeconds: 30 },
        breakerRecoveryTimeoutSeconds: 60,
      }),
    ).toBe(90);
    // The cloud's queue (180 s) with a retry cap above the breaker's recovery.
    expect(
      staleAfterSeconds({
        visibilityTimeoutSeconds: 180,
        retry: { retryBaseSeconds: 1, retryMaxSeconds: 120 },
        breakerRecoveryTimeoutSeconds: 60,
      }),
    ).toBe(300);
  });

  it('requeues a record stranded PENDING with no message once it is stale, and the worker completes it once', async () => {
    const h = await start();
    const task = placeOrderTask('stranded');
    await h.orders.create(task, h.clock.now());
    const sweeper = h.sweeper();

    h.clock.advance(h.windowMs - 1000);
    expect(await sweeper.sweep()).toEqual({ requeued: 0, skipped: 0, failed: 0 });
    expect(h.queues.main.counts().visible).toBe(0);

    h.clock.advance(2000);
    const { result, logs } = await captureLogs((logger) => h.sweeper(logger).sweep());
    expect(result).toEqual({ requeued: 1, skipped: 0, failed: 0 });
    expect(logs).toContainEqual(
      expect.objectContaining({ message: 'Order sweeper requeued a stranded task', taskId: 'stranded' }),
    );
    // The claim makes the next sweeps wait another window before requeueing it again.
    expect(await sweeper.sweep()).toEqual({ requeued: 0, skipped: 0, failed: 0 });
    expect(h.queues.main.peek().map((m) => JSON.parse(m.body))).toEqual([task]);

    await h.drain();
    expect(await h.orders.get('stranded')).toMatchObject({ status: 'COMPLETED', attempts: [{ attempt: 1 }] });
    expect(h.broker.placements().get(task.idempotency_key)).toBe(1);
    h.clock.advance(2 * h.windowMs);
    expect(await sweeper.sweep()).toEqual({ requeued: 0, skipped: 0, failed: 0 });
  });

  it('leaves alone a record a worker moved between the read and the claim', async () => {
    // Between the sweeper's read and its claim, a worker takes the task.
    const h = await start((inner) => ({
      get: (id) => inner.get(id),
      create: (t, now) => inner.create(t, now),
      transition: (...args) => inner.transition(...args),
      listDeadLetters: (q) => inner.listDeadLetters(q),
      applyBrokerUpdate: (...args) => inner.applyBrokerUpdate(...args),
      linkBrokerOrder: (...args) => inner.linkBrokerOrder(...args),
      holdBrokerUpdate: (update) => inner.holdBrokerUpdate(update),
      taskOfBrokerOrder: (orderId) => inner.taskOfBrokerOrder(orderId),
      listOpenOrders: (query) => inner.listOpenOrders(query),
      touch: (...args) => inner.touch(...args),
      listStale: async (query) => {
        const stale = await inner.listStale(query);
        for (const record of stale) await inner.transition(record.task.task_id, 'RUNNING', {}, Date.now());
        return stale;
      },
    }));
    await h.orders.create(placeOrderTask('busy'), h.clock.now());
    h.clock.advance(h.windowMs + 1000);

    expect(await h.sweeper().sweep()).toEqual({ requeued: 0, skipped: 1, failed: 0 });
    expect(h.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect((await h.orders.get('busy'))?.status).toBe('RUNNING');
  });

  it('places nothing twice when the message it thought lost was only late, nor for a task left RUNNING', async () => {
    const h = await start();
    const late = placeOrderTask('late');
    await h.orders.create(late, h.clock.now());
    h.send(late);
    // A worker died after taking this one: RUNNING, its message gone.
    const left = placeOrderTask('left');
    await h.orders.create(left, h.clock.now());
    await h.orders.transition('left', 'RUNNING', {}, h.clock.now());
    h.clock.advance(h.windowMs + 1000);

    expect(await h.sweeper().sweep()).toEqual({ requeued: 2, skipped: 0, failed: 0 });
    expect(h.queues.main.counts().visible).toBe(3);
    await h.drain();

    for (const task of [late, left]) {
      expect((await h.orders.get(task.task_id))?.status).toBe('COMPLETED');
      expect(h.broker.placements().get(task.idempotency_key)).toBe(1);
    }
    expect(h.broker.calls).toHaveLength(2);
    expect(h.outcomes.filter((o) => o.taskId === 'late').map((o) => o.outcome.kind)).toEqual([
      'completed',
      'duplicate',
    ]);
  });
});

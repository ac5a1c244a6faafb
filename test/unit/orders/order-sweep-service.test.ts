import { describe, expect, it } from 'vitest';
import { OrderSweeper } from '../../../functions/orders/order-sweeper.js';
import { OrderSweepService } from '../../../infra/local/order-sweep-service.js';
import { createLocalOrderQueues, LocalOrderQueue } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryOrderStore } from '../../../shared/adapters/memory/memory-order-store.js';
import { createLogger } from '../../../shared/logging.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { waitFor } from '../../support/wait.js';

describe('OrderSweepService', () => {
  it('sweeps at start and every interval until stopped, carrying on after a failed sweep', async () => {
    const clock = new ManualClock();
    const orders = new MemoryOrderStore();
    const queues = createLocalOrderQueues({ clock, maxReceiveCount: 5 });
    let failNext = true;
    const flaky = {
      listStale: (query: Parameters<MemoryOrderStore['listStale']>[0]) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('table unavailable'));
        }
        return orders.listStale(query);
      },
      touch: orders.touch.bind(orders),
    };
    const sweeper = new OrderSweeper({
      orders: flaky,
      queue: new LocalOrderQueue(queues),
      clock,
      logger: createLogger('sweep-service-test', { logLevel: 'SILENT', environment: 'test' }),
      staleAfterSeconds: 90,
    });
    await orders.create(placeOrderTask('a'), clock.now() - 100_000);
    const service = new OrderSweepService({
      sweeper,
      intervalSeconds: 10,
      clock,
      logger: createLogger('t', { logLevel: 'SILENT', environment: 'test' }),
    });
    const stop = new AbortController();
    const running = service.run(stop.signal);

    // The first sweep failed; the next one, an interval later, requeues the stranded task.
    await waitFor(() => !failNext);
    expect(queues.main.counts().visible).toBe(0);
    clock.advance(10_000);
    await waitFor(() => sweeper.totals.requeued === 1);
    expect(queues.main.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['a']);

    await orders.create(placeOrderTask('b'), clock.now() - 100_000);
    clock.advance(10_000);
    await waitFor(() => sweeper.totals.requeued === 2);

    stop.abort();
    await running;
    await orders.create(placeOrderTask('c'), clock.now() - 100_000);
    clock.advance(60_000);
    expect(sweeper.totals.requeued).toBe(2);
  });
});

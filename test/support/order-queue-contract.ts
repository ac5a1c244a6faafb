import { afterEach, describe, expect, it } from 'vitest';
import { OrderTask } from '../../shared/contracts/order.js';
import type { OrderQueue } from '../../shared/ports/orders.js';

/** An order queue for one test, with a view of the queues behind it. */
export interface OpenedOrderQueue {
  readonly queue: OrderQueue;
  /** Bodies of the messages on the orders queue, oldest first, without receiving them. */
  mainBodies(): Promise<readonly string[]>;
  /** Bodies of the messages on the dead-letter queue, oldest first. */
  deadLetterBodies(): Promise<readonly string[]>;
  /** Puts `body` on the dead-letter queue, as the redrive policy or the worker would. */
  putDeadLetter(body: string): Promise<void>;
  dispose?(): Promise<void>;
}

export type OrderQueueFactory = () => Promise<OpenedOrderQueue>;

/** A valid place-order task with the given id. */
export function orderTask(taskId: string, overrides: Partial<Record<string, unknown>> = {}): OrderTask {
  return OrderTask.parse({
    task_id: taskId,
    idempotency_key: `key-${taskId}`,
    account_id: 'paper',
    operation: 'place_order',
    params: {
      exchange: 'NFO',
      tradingsymbol: 'NIFTY26JAN24000CE',
      transaction_type: 'BUY',
      quantity: 65,
      product: 'NRML',
      order_type: 'LIMIT',
      price: 101.5,
    },
    submitted_at: '2025-01-08T09:15:00.000Z',
    ...overrides,
  });
}

/**
 * What every {@link OrderQueue} adapter guarantees (the port's TSDoc): a task is enqueued as the
 * JSON the worker parses back to the same task, duplicates stay duplicates (at least once), and a
 * redrive moves a dead-lettered task back, leaving every other dead letter where it was.
 */
export function orderQueueContract(name: string, factory: OrderQueueFactory): void {
  describe(`${name} (OrderQueue contract)`, () => {
    let opened: OpenedOrderQueue | undefined;
    const open = async () => {
      opened = await factory();
      return opened;
    };
    afterEach(async () => {
      await opened?.dispose?.();
      opened = undefined;
    });

    it('enqueues a task as JSON that parses back to the same task', async () => {
      const q = await open();
      const task = orderTask('enqueue-1');
      await q.queue.enqueue(task);
      const bodies = await q.mainBodies();
      expect(bodies).toHaveLength(1);
      expect(OrderTask.parse(JSON.parse(bodies[0] ?? ''))).toEqual(task);
    });

    it('keeps a task enqueued twice as two messages: delivery is at least once, idempotency is the worker’s', async () => {
      const q = await open();
      const task = orderTask('twice');
      await q.queue.enqueue(task);
      await q.queue.enqueue(task);
      expect(await q.mainBodies()).toEqual([JSON.stringify(task), JSON.stringify(task)]);
    });

    it('redrives a dead-lettered task back to the orders queue and leaves the other dead letters', async () => {
      const q = await open();
      const wanted = orderTask('dead-2');
      for (let i = 0; i < 25; i++) await q.putDeadLetter(JSON.stringify(orderTask(`dead-other-${i}`)));
      await q.putDeadLetter('not json at all');
      await q.putDeadLetter(JSON.stringify(wanted));
      expect(await q.queue.redrive('dead-2')).toBe(true);
      expect(await q.mainBodies()).toEqual([JSON.stringify(wanted)]);
      const left = await q.deadLetterBodies();
      expect(left).toHaveLength(26);
      expect(left.some((b) => b.includes('"dead-2"'))).toBe(false);
    });

    it('redrives a task dead-lettered twice as one message, and leaves no copy behind', async () => {
      const q = await open();
      const wanted = orderTask('dead-twice');
      await q.putDeadLetter(JSON.stringify(wanted));
      await q.putDeadLetter(JSON.stringify(orderTask('bystander')));
      await q.putDeadLetter(JSON.stringify(wanted));
      expect(await q.queue.redrive('dead-twice')).toBe(true);
      expect(await q.mainBodies()).toEqual([JSON.stringify(wanted)]);
      expect(await q.deadLetterBodies()).toEqual([JSON.stringify(orderTask('bystander'))]);
    });

    it('answers false for a task that is not dead-lettered, and moves nothing', async () => {
      const q = await open();
      await q.putDeadLetter(JSON.stringify(orderTask('someone-else')));
      expect(await q.queue.redrive('unknown-task')).toBe(false);
      expect(await q.mainBodies()).toEqual([]);
      expect(await q.deadLetterBodies()).toHaveLength(1);
    });
  });
}

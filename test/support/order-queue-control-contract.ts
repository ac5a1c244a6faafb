import { afterEach, describe, expect, it } from 'vitest';
import type { OrderQueueControl, QueueMessageRef } from '../../shared/ports/order-queue-control.js';
import type { SeenMessage } from './sqs-queue-view.js';

/** Which of the two order queues. */
export type QueueName = 'main' | 'deadLetter';

/** An order queue control for one test, over an empty orders queue and dead-letter queue. */
export interface OpenedOrderQueueControl {
  readonly control: OrderQueueControl;
  /** Sends `body` to the queue and receives it, hidden: the message as the event source hands it to the worker. */
  deliver(queue: QueueName, body: string): Promise<QueueMessageRef>;
  /** Receives every message visible on the queue now, with its string attributes, and keeps it hidden. */
  drain(queue: QueueName): Promise<SeenMessage[]>;
  dispose?(): Promise<void>;
}

export type OrderQueueControlFactory = () => Promise<OpenedOrderQueueControl>;

/**
 * What every {@link OrderQueueControl} adapter guarantees (the port's TSDoc), observed through the
 * queues alone: `delay` hides the received message for the given time, `requeue` puts a delayed
 * copy on the queue the message came from, and `deadLetter` puts the body on the dead-letter queue
 * with the reason as the attributes the dead-letter listing reads.
 */
export function orderQueueControlContract(name: string, factory: OrderQueueControlFactory): void {
  describe(`${name} (OrderQueueControl contract)`, () => {
    let opened: OpenedOrderQueueControl | undefined;
    const open = async () => {
      opened = await factory();
      return opened;
    };
    afterEach(async () => {
      await opened?.dispose?.();
      opened = undefined;
    });

    it('delays a received message: hidden for the given seconds, and visible at once after a delay of 0', async () => {
      const q = await open();
      const message = await q.deliver('main', '{"task_id":"delayed"}');
      await q.control.delay(message, 60);
      expect(await q.drain('main')).toEqual([]);
      await q.control.delay(message, 0);
      expect((await q.drain('main')).map((m) => m.body)).toEqual(['{"task_id":"delayed"}']);
    });

    it('requeues a copy on the queue the message came from, delivered after the delay', async () => {
      const q = await open();
      const message = await q.deliver('main', '{"task_id":"held"}');
      await q.control.requeue(message, 60);
      expect(await q.drain('main')).toEqual([]);
      await q.control.requeue(message, 0);
      expect((await q.drain('main')).map((m) => m.body)).toEqual(['{"task_id":"held"}']);

      // A dead letter the dead-letter consumer holds goes back to the dead-letter queue, not to the orders queue.
      const dead = await q.deliver('deadLetter', '{"task_id":"dead"}');
      await q.control.requeue(dead, 0);
      expect((await q.drain('deadLetter')).map((m) => m.body)).toEqual(['{"task_id":"dead"}']);
      expect(await q.drain('main')).toEqual([]);
    });

    it('dead-letters the body with the reason and the source message id as attributes', async () => {
      const q = await open();
      const poison = await q.deliver('main', '{"task_id":"poison"}');
      await q.control.deadLetter(poison, { type: 'validation', message: 'params.quantity: must be positive' });
      const silent = await q.deliver('main', '{"task_id":"silent"}');
      // SQS refuses an empty attribute value: an empty reason is sent as its type.
      await q.control.deadLetter(silent, { type: 'timeout', message: '' });
      expect(await q.drain('deadLetter')).toEqual([
        {
          body: '{"task_id":"poison"}',
          attributes: {
            error_type: 'validation',
            error_message: 'params.quantity: must be positive',
            source_message_id: poison.messageId,
          },
        },
        {
          body: '{"task_id":"silent"}',
          attributes: { error_type: 'timeout', error_message: 'timeout', source_message_id: silent.messageId },
        },
      ]);
    });
  });
}

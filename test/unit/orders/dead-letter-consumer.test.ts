import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_PARK_SECONDS, deadLetterHandler } from '../../../functions/order-dead-letters.js';
import { CLOCK_TOLERANCE_MS, type DeadLetterOutcome } from '../../../functions/orders/dead-letter-records.js';
import { toSqsRecord } from '../../../shared/adapters/local-sqs/local-event-source.js';
import {
  createLocalOrderQueues,
  LocalOrderQueueControl,
} from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryOrderStore } from '../../../shared/adapters/memory/memory-order-store.js';
import { OrderTask } from '../../../shared/contracts/order.js';
import { errorTypeOf, tagError } from '../../../shared/domain/orders/order-status.js';
import { createLogger } from '../../../shared/logging.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

const T0 = Date.UTC(2025, 0, 8, 4);

/** The consumer over a memory store and the local queues, invoked as the event source invokes it. */
function setup() {
  const clock = new ManualClock(T0);
  const orders = new MemoryOrderStore();
  const queues = createLocalOrderQueues({ clock, maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
  const outcomes: DeadLetterOutcome[] = [];
  const handler = deadLetterHandler(
    {
      orders,
      clock,
      logger: createLogger('dead-letters-test', { logLevel: 'SILENT', environment: 'test' }),
      defaultOwner: 'queue',
      queue: new LocalOrderQueueControl(queues),
    },
    { onOutcome: (_record, outcome) => outcomes.push(outcome) },
  );
  /** One receive of the dead-letter queue, one invocation, and the deletes an event source would do. */
  const consume = async () => {
    const messages = await queues.deadLetter.receive({ maxMessages: 10 });
    const event = { Records: messages.map((m) => toSqsRecord(m, queues.deadLetter.arn, 'ap-south-1')) };
    const response = await handler(event, {} as Context);
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of messages) if (!failed.has(m.messageId)) queues.deadLetter.delete(m.receiptHandle);
    return messages.length;
  };
  /** Receives the orders queue's messages `times` times without deleting: consumers that died. */
  const exhaust = async (times: number) => {
    for (let i = 0; i < times; i++) {
      await queues.main.receive({ maxMessages: 10, visibilityTimeoutSeconds: 0 });
      clock.advance(1);
    }
    queues.main.counts(); // the redrive policy moves them as the queue is next polled
  };
  return { clock, orders, queues, outcomes, consume, exhaust };
}

describe('dead-letter consumer', () => {
  it('records a task the redrive policy moved as a max_receives dead letter, creating its record, and keeps the message', async () => {
    const { orders, queues, outcomes, consume, exhaust, clock } = setup();
    const task = placeOrderTask('crashy-1', { owner: 'trader-1' });
    queues.main.send(JSON.stringify(task));
    await exhaust(2);
    expect(queues.deadLetter.peek()).toHaveLength(1);

    expect(await consume()).toBe(1);
    expect(outcomes).toEqual([{ kind: 'recorded', taskId: 'crashy-1' }]);
    const record = await orders.get('crashy-1');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(errorTypeOf(record?.lastError)).toBe('max_receives');
    expect(record?.task).toEqual(task);
    // Kept, hidden for the park time: not deleted, and not handed out again before then.
    expect(queues.deadLetter.peek()).toEqual([expect.objectContaining({ inFlight: true })]);
    clock.advance(DEAD_LETTER_PARK_SECONDS * 1000 - 1000);
    expect(await consume()).toBe(0);
    clock.advance(1000);
    expect(await consume()).toBe(1);
    // Seen again: not recorded twice.
    expect(outcomes.at(-1)).toMatchObject({ kind: 'kept', why: 'already a dead letter' });
    expect((await orders.get('crashy-1'))?.updatedAt).toBe(record?.updatedAt);
  });

  it('moves an unfinished record to DEAD_LETTER, leaves a COMPLETED one as it is', async () => {
    const { orders, queues, consume, exhaust } = setup();
    await orders.create(placeOrderTask('running-1'), T0);
    await orders.transition('running-1', 'RUNNING', {}, T0);
    await orders.create(placeOrderTask('done-1'), T0);
    await orders.transition('done-1', 'RUNNING', {}, T0);
    await orders.transition('done-1', 'COMPLETED', { result: { orderId: 'o1', status: 'COMPLETE', paper: true } }, T0);
    queues.main.send(JSON.stringify(placeOrderTask('running-1')));
    queues.main.send(JSON.stringify(placeOrderTask('done-1')));
    await exhaust(2);
    await consume();
    expect((await orders.get('running-1'))?.lastError).toMatch(/^\[max_receives\] /);
    expect((await orders.get('done-1'))?.status).toBe('COMPLETED');
    expect(queues.deadLetter.peek()).toHaveLength(2);
  });

  it('leaves what the worker dead-lettered as the worker recorded it: never re-typed', async () => {
    const { orders, queues, outcomes, consume } = setup();
    await orders.create(placeOrderTask('margin-1'), T0);
    await orders.transition('margin-1', 'DEAD_LETTER', { lastError: tagError('margin', 'no funds') }, T0);
    queues.deadLetter.send(JSON.stringify(placeOrderTask('margin-1')), {
      messageAttributes: { error_type: { DataType: 'String', StringValue: 'margin' } },
    });
    await consume();
    expect(outcomes).toEqual([{ kind: 'kept', taskId: 'margin-1', why: 'recorded by the worker' }]);
    expect((await orders.get('margin-1'))?.lastError).toBe('[margin] no funds');
    expect(queues.deadLetter.peek()).toHaveLength(1);
  });

  it('records a poison message with a task id as a stand-in task with its raw body', async () => {
    const { orders, queues, consume, exhaust } = setup();
    const body = JSON.stringify({ task_id: 'poison-9', owner: 'trader-2', account_id: 'ZX1', params: 'nonsense' });
    queues.main.send(body);
    await exhaust(2);
    await consume();
    const record = await orders.get('poison-9');
    expect(record).toMatchObject({ status: 'DEAD_LETTER', rawBody: body });
    expect(OrderTask.parse(record?.task)).toMatchObject({
      owner: 'trader-2',
      account_id: 'ZX1',
      operation: 'cancel_order',
      params: { order_id: 'invalid-message' },
    });
  });

  it('lets a leftover of a round the task was redriven out of go, without touching the record', async () => {
    const { orders, queues, outcomes, consume, exhaust, clock } = setup();
    queues.main.send(JSON.stringify(placeOrderTask('again-1')));
    await exhaust(2);
    await consume();
    // Redriven from its record while its dead letter was hidden: the new round starts now.
    clock.advance(60_000);
    await orders.transition('again-1', 'PENDING', {}, clock.now());
    clock.advance(DEAD_LETTER_PARK_SECONDS * 1000);
    await consume();
    expect(outcomes.at(-1)).toEqual({ kind: 'superseded', taskId: 'again-1' });
    expect((await orders.get('again-1'))?.status).toBe('PENDING');
    expect(queues.deadLetter.peek()).toEqual([]);
  });

  it("records a dead letter of the current round: sent after the redrive began, within the clocks' tolerance", async () => {
    const { orders, queues, consume, exhaust, clock } = setup();
    await orders.create(placeOrderTask('round-2'), T0);
    await orders.transition('round-2', 'DEAD_LETTER', { lastError: tagError('network', 'down') }, T0);
    await orders.transition('round-2', 'PENDING', {}, clock.now() + CLOCK_TOLERANCE_MS - 1);
    queues.main.send(JSON.stringify(placeOrderTask('round-2')));
    await exhaust(2);
    await consume();
    expect((await orders.get('round-2'))?.lastError).toMatch(/^\[max_receives\] /);
  });

  it('keeps a dead letter it could not record visible to come back, without hiding it for the park time', async () => {
    const { queues, clock } = setup();
    const failing = deadLetterHandler({
      orders: {
        get: () => Promise.reject(new Error('DynamoDB is down')),
        create: () => Promise.reject(new Error('unreachable')),
        transition: () => Promise.reject(new Error('unreachable')),
      },
      clock,
      logger: createLogger('dead-letters-test', { logLevel: 'SILENT', environment: 'test' }),
      queue: new LocalOrderQueueControl(queues),
    });
    queues.deadLetter.send(JSON.stringify(placeOrderTask('later-1')));
    const [message] = await queues.deadLetter.receive({ visibilityTimeoutSeconds: 30 });
    if (!message) throw new Error('no dead letter');
    const response = await failing(
      { Records: [toSqsRecord(message, queues.deadLetter.arn, 'ap-south-1')] },
      {} as Context,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    clock.advance(30_000);
    expect(await queues.deadLetter.receive()).toHaveLength(1);
  });
});

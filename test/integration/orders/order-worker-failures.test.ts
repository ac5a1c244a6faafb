import { afterAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import { captureLogs } from '../../support/log-capture.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { startOrderWorker } from '../../support/order-worker-harness.js';

/*
 * What the order worker does when its own parts fail or a producer sends something odd: a failed
 * store write ends in a status and a log line naming the task (never a task silently stuck), a
 * task without `submitted_at` takes the message's SentTimestamp, and a reused task id with another
 * payload is dead-lettered as a conflict beside the untouched first task.
 */

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

const attr = (m: { messageAttributes: Readonly<Record<string, { StringValue?: string }>> }, name: string) =>
  m.messageAttributes[name]?.StringValue;

describe('order worker: failures of its own dependencies', () => {
  it('TC-ORD-002: a store write that fails after the placement leaves the task RETRYING [internal], logged with its id, and the redelivery completes it without placing again', async () => {
    const { result, logs } = await captureLogs(async (logger) => {
      const w = await startOrderWorker(client, { logger });
      // The store fails exactly once: the write that would record the placement as COMPLETED.
      const transition = w.orders.transition.bind(w.orders);
      let failures = 0;
      w.orders.transition = async (taskId, to, changes, nowMs) => {
        if (to === 'COMPLETED' && failures === 0) {
          failures++;
          throw new Error('DynamoDB: ProvisionedThroughputExceededException');
        }
        return transition(taskId, to, changes, nowMs);
      };
      w.send(placeOrderTask('store-fails'));
      const first = await w.deliver();
      const afterFailure = await w.orders.get('store-fails');
      // The message is reported failed, so SQS brings it back after its visibility timeout.
      expect(first.response?.batchItemFailures).toHaveLength(1);
      await w.drain();
      return { w, failures, afterFailure };
    });
    const { w, failures, afterFailure } = result;
    expect(failures).toBe(1);
    expect(afterFailure?.status).toBe('RETRYING');
    expect(afterFailure?.lastError).toMatch(
      /^\[internal\] The worker failed: .*ProvisionedThroughputExceededException/,
    );

    const line = logs.find((l) => l.level === 'ERROR' && l.taskId === 'store-fails');
    expect(line?.message).toMatch(/Order message failed/);
    expect(String(line?.error)).toContain('ProvisionedThroughputExceededException');

    // Redelivered, completed with the first placement's order: the broker was called once.
    const done = await w.orders.get('store-fails');
    expect(done).toMatchObject({ status: 'COMPLETED', result: { paper: true, status: 'COMPLETE' } });
    expect(w.broker.calls.filter((c) => c.taskId === 'store-fails')).toHaveLength(1);
    expect(w.orders.path('store-fails')).toEqual(['RUNNING', 'RETRYING', 'RUNNING', 'COMPLETED']);
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('logs the task id and redelivers when the store is down before anything was placed', async () => {
    const { result, logs } = await captureLogs(async (logger) => {
      const w = await startOrderWorker(client, { logger });
      const get = w.orders.get.bind(w.orders);
      let down = true;
      w.orders.get = async (taskId) => {
        if (down) throw new Error('DynamoDB: connect ECONNREFUSED');
        return get(taskId);
      };
      w.send(placeOrderTask('store-down'));
      const first = await w.deliver();
      down = false;
      await w.drain();
      return { w, first };
    });
    const { w, first } = result;
    expect(first.response?.batchItemFailures).toHaveLength(1);
    expect(logs.some((l) => l.level === 'ERROR' && l.taskId === 'store-down')).toBe(true);
    expect(await w.orders.get('store-down')).toMatchObject({ status: 'COMPLETED' });
    expect(w.broker.calls.filter((c) => c.taskId === 'store-down')).toHaveLength(1);
  });
});

describe('order worker: what producers leave out or reuse', () => {
  it('gives a task sent without submitted_at the time SQS says the message was sent, and the default owner', async () => {
    const w = await startOrderWorker(client, { defaultOwner: 'desk-1' });
    const { submitted_at: _absent, ...task } = placeOrderTask('no-submitted-at');
    const sentAt = w.clock.now();
    w.send(JSON.stringify(task));
    // Processed later than it was sent: the record must say when it was sent, not when it ran.
    w.clock.advance(7_000);
    await w.deliver();
    const record = await w.orders.get('no-submitted-at');
    expect(record?.status).toBe('COMPLETED');
    expect(record?.task.submitted_at).toBe(new Date(sentAt).toISOString());
    expect(record?.task.owner).toBe('desk-1');
  });

  it('dead-letters a reused task_id with another payload as conflict, leaving the first task untouched', async () => {
    const w = await startOrderWorker(client);
    const first = placeOrderTask('reused');
    w.send(first);
    await w.drain();
    const before = await w.orders.get('reused');
    expect(before?.status).toBe('COMPLETED');

    const other: OrderTask =
      first.operation === 'place_order' ? { ...first, params: { ...first.params, quantity: 130 } } : first;
    w.send(other);
    await w.drain();

    expect(await w.orders.get('reused')).toEqual(before);
    expect(w.broker.calls.filter((c) => c.taskId === 'reused')).toHaveLength(1);
    const outcome = w.outcomes.at(-1)?.outcome;
    expect(outcome?.kind).toBe('dead-lettered');
    const conflictId = outcome && 'taskId' in outcome ? outcome.taskId : undefined;
    expect(conflictId).toMatch(/^reused\.conflict\.[0-9a-f]{12}$/);
    const conflict = await w.orders.get(conflictId as string);
    expect(conflict).toMatchObject({ status: 'DEAD_LETTER' });
    expect(conflict?.lastError).toMatch(/^\[conflict\] Task id reused is taken by another order/);
    expect(conflict?.task.operation === 'place_order' && conflict.task.params.quantity).toBe(130);

    const dead = await w.deadLetters();
    expect(dead).toHaveLength(1);
    expect(attr(dead[0] as (typeof dead)[number], 'error_type')).toBe('conflict');
    expect(JSON.parse(dead[0]?.body ?? '{}').params.quantity).toBe(130);
  });
});

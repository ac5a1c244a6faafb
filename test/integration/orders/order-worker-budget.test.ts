import { afterAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { startOrderWorker } from '../../support/order-worker-harness.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

describe('order worker and the shared rate budget', () => {
  it('puts a task the budget held back unsent back on the queue for the wait: no attempt, no breaker failure', async () => {
    // One reported failure would open the breaker: the hold must not be reported.
    const w = await startOrderWorker(client, { policy: { failureThreshold: 1 } });
    w.broker.holdNext(2300);
    w.send(placeOrderTask('held-by-budget'));
    const { response } = await w.deliver();

    expect(response?.batchItemFailures).toEqual([]);
    expect(w.outcomes.at(-1)?.outcome).toEqual({ kind: 'throttled', taskId: 'held-by-budget', delaySeconds: 3 });
    const record = await w.orders.get('held-by-budget');
    expect(record?.status).toBe('RETRYING');
    expect(record?.lastError).toMatch(/^\[rate-limited\] Held back/);
    expect(record?.attempts).toEqual([]);
    expect((await w.breakers.get('orders#ZX1234')).state).toBe('CLOSED');
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });

    // After the wait the copy comes back and is placed, as its first attempt.
    await w.drain();
    const placed = await w.orders.get('held-by-budget');
    expect(placed?.status).toBe('COMPLETED');
    expect(placed?.attempts.map((a) => a.attempt)).toEqual([1]);
  });
});

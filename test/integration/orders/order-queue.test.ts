import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createLocalOrderQueues, LocalOrderQueue } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import type { LocalQueue } from '../../../shared/adapters/local-sqs/local-queue.js';
import { SqsOrderQueue } from '../../../shared/adapters/sqs/sqs-order-queue.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { startLocalSqsServer } from '../../support/local-sqs-server.js';
import { orderQueueContract } from '../../support/order-queue-contract.js';

/** Bodies on `queue`, once every message a redrive scan hid is visible again. */
function bodies(queue: LocalQueue): readonly string[] {
  return queue.peek().map((m) => m.body);
}

orderQueueContract('LocalOrderQueue', async () => {
  const queues = createLocalOrderQueues({ clock: new SystemClock(), maxReceiveCount: 3 });
  return {
    queue: new LocalOrderQueue(queues),
    mainBodies: async () => bodies(queues.main),
    deadLetterBodies: async () => bodies(queues.deadLetter),
    putDeadLetter: async (body) => void queues.deadLetter.send(body),
  };
});

orderQueueContract('SqsOrderQueue (AWS SDK over HTTP to the local SQS endpoint)', async () => {
  const queues = createLocalOrderQueues({ clock: new SystemClock(), maxReceiveCount: 3 });
  const server = await startLocalSqsServer([queues.main, queues.deadLetter]);
  const url = async (name: string) => (await server.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  const queue = new SqsOrderQueue({
    client: server.client,
    queueUrl: (await url('orders')) ?? '',
    deadLetterQueueUrl: (await url('orders-dlq')) ?? '',
  });
  return {
    queue,
    mainBodies: async () => bodies(queues.main),
    deadLetterBodies: async () => {
      // Dead letters a redrive looked at must be visible again for the next consumer.
      const all = queues.deadLetter.peek();
      if (all.some((m) => m.inFlight)) throw new Error('a dead letter was left hidden');
      return all.map((m) => m.body);
    },
    putDeadLetter: async (body) => void queues.deadLetter.send(body),
    dispose: () => server.close(),
  };
});

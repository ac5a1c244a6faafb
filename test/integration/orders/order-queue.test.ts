import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  createLocalOrderQueues,
  LocalOrderQueue,
  LocalOrderQueueControl,
  type LocalOrderQueues,
} from '../../../shared/adapters/local-sqs/local-order-queue.js';
import type { LocalQueue } from '../../../shared/adapters/local-sqs/local-queue.js';
import { SqsOrderQueue } from '../../../shared/adapters/sqs/sqs-order-queue.js';
import { SqsOrderQueueControl } from '../../../shared/adapters/sqs/sqs-order-queue-control.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { startLocalSqsServer } from '../../support/local-sqs-server.js';
import { orderQueueContract } from '../../support/order-queue-contract.js';
import { orderQueueControlContract, type QueueName } from '../../support/order-queue-control-contract.js';
import { sharedMoto } from '../../support/shared-moto.js';
import { type SqsQueueView, sqsQueueView } from '../../support/sqs-queue-view.js';

const moto = sharedMoto();

/** Bodies on `queue`, once every message a redrive scan hid is visible again. */
function bodies(queue: LocalQueue): readonly string[] {
  return queue.peek().map((m) => m.body);
}

/** A fresh orders queue and dead-letter queue on moto, the orders queue redriving to the other as deployed. */
async function motoOrderQueues(sqs: SQSClient): Promise<{ main: SqsQueueView; deadLetter: SqsQueueView }> {
  const suffix = randomUUID().slice(0, 8);
  const deadLetter = sqsQueueView(
    sqs,
    (await sqs.send(new CreateQueueCommand({ QueueName: `orders-dlq-${suffix}` }))).QueueUrl ?? '',
  );
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: await deadLetter.arn(), maxReceiveCount: 100 });
  const main = sqsQueueView(
    sqs,
    (await sqs.send(new CreateQueueCommand({ QueueName: `orders-${suffix}`, Attributes: { RedrivePolicy } })))
      .QueueUrl ?? '',
  );
  return { main, deadLetter };
}

/** The local queues' own view: send and receive in-process, as the local event source does. */
function localView(queues: LocalOrderQueues) {
  const of = (name: QueueName) => (name === 'main' ? queues.main : queues.deadLetter);
  return {
    deliver: async (name: QueueName, body: string) => {
      const queue = of(name);
      queue.send(body);
      const [m] = await queue.receive({ visibilityTimeoutSeconds: 60 });
      if (m === undefined) throw new Error(`nothing to receive from ${queue.arn}`);
      return { messageId: m.messageId, receiptHandle: m.receiptHandle, body: m.body, eventSourceArn: queue.arn };
    },
    drain: async (name: QueueName) => {
      const all = [];
      for (;;) {
        const received = await of(name).receive({ maxMessages: 10, visibilityTimeoutSeconds: 300 });
        if (received.length === 0) return all;
        all.push(
          ...received.map((m) => ({
            body: m.body,
            attributes: Object.fromEntries(
              Object.entries(m.messageAttributes).map(([k, v]) => [k, v.StringValue ?? '']),
            ),
          })),
        );
      }
    },
  };
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

// moto's SQS, an implementation nobody here wrote, seen only through the SQS API.
orderQueueContract('SqsOrderQueue (moto)', async () => {
  const { main, deadLetter } = await motoOrderQueues(await moto.sqs());
  return {
    queue: new SqsOrderQueue({ client: await moto.sqs(), queueUrl: main.url, deadLetterQueueUrl: deadLetter.url }),
    mainBodies: async () => (await main.peek()).map((m) => m.body),
    deadLetterBodies: async () => {
      // Dead letters a redrive looked at must be visible again for the next consumer.
      if ((await deadLetter.hidden()) > 0) throw new Error('a dead letter was left hidden');
      return (await deadLetter.peek()).map((m) => m.body);
    },
    putDeadLetter: (body) => deadLetter.send(body),
  };
});

orderQueueControlContract('LocalOrderQueueControl', async () => {
  const queues = createLocalOrderQueues({ clock: new SystemClock(), maxReceiveCount: 3 });
  return { control: new LocalOrderQueueControl(queues), ...localView(queues) };
});

orderQueueControlContract('SqsOrderQueueControl (AWS SDK over HTTP to the local SQS endpoint)', async () => {
  const queues = createLocalOrderQueues({ clock: new SystemClock(), maxReceiveCount: 3 });
  const server = await startLocalSqsServer([queues.main, queues.deadLetter]);
  const url = async (name: string) =>
    (await server.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
  const views = {
    main: sqsQueueView(server.client, await url('orders')),
    deadLetter: sqsQueueView(server.client, await url('orders-dlq')),
  };
  return {
    control: new SqsOrderQueueControl({
      client: server.client,
      queueUrl: views.main.url,
      deadLetterQueueUrl: views.deadLetter.url,
    }),
    deliver: (name, body) => views[name].deliver(body),
    drain: (name) => views[name].drain(),
    dispose: () => server.close(),
  };
});

orderQueueControlContract('SqsOrderQueueControl (moto)', async () => {
  const views = await motoOrderQueues(await moto.sqs());
  return {
    control: new SqsOrderQueueControl({
      client: await moto.sqs(),
      queueUrl: views.main.url,
      deadLetterQueueUrl: views.deadLetter.url,
    }),
    deliver: (name, body) => views[name].deliver(body),
    drain: (name) => views[name].drain(),
  };
});

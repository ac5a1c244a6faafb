import { createHash, randomUUID } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  listDeadLettersUseCase,
  REDRIVE_DELIVERY_DELAY_SECONDS,
  redriveOrderUseCase,
} from '../../../functions/api/dead-letters.js';
import { getOrderUseCase } from '../../../functions/api/orders.js';
import { deadLetterHandler } from '../../../functions/order-dead-letters.js';
import { orderWorkerHandler } from '../../../functions/order-worker.js';
import { ensureTables, localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { DynamoDbBreakerStore } from '../../../shared/adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbOrderStore } from '../../../shared/adapters/dynamodb/dynamodb-order-store.js';
import { PaperBroker } from '../../../shared/adapters/paper-broker.js';
import { SqsOrderQueue } from '../../../shared/adapters/sqs/sqs-order-queue.js';
import { SqsOrderQueueControl } from '../../../shared/adapters/sqs/sqs-order-queue-control.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { DeadLetterListResponse, OrderResponse, RedriveOrderResponse } from '../../../shared/contracts/order-api.js';
import { CircuitBreaker, DEFAULT_BREAKER_POLICY } from '../../../shared/domain/orders/circuit-breaker.js';
import { createLogger } from '../../../shared/logging.js';
import { physicalTableName, Tables } from '../../../shared/tables.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { lambdaContext } from '../../support/order-worker-harness.js';
import { sharedMoto } from '../../support/shared-moto.js';
import { call, fakeComponents, routed } from '../../unit/rest/fake-components.js';

/** The owner REST gives the fake components' API key, so the caller's listing shows these tasks. */
const ME = `key-${createHash('sha256').update('test-key').digest('hex').slice(0, 16)}`;
const MAX_RECEIVES = 2;

/**
 * The dead-letter flows against moto's SQS (an implementation nobody here wrote) and dynalite: the
 * queues with a real redrive policy, the dead-letter consumer fed as Lambda's event source feeds it,
 * the worker on a poison message, and the REST listing and redrive.
 */
describe('dead letters on SQS (moto)', () => {
  const shared = sharedMoto();
  /** This worker slot's moto: its endpoint and an SQS client for it. */
  const moto = { endpoint: '', sqs: undefined as unknown as SQSClient };
  let mainUrl: string;
  let dlqUrl: string;
  let dlqArn: string;
  let mainArn: string;
  let orders: DynamoDbOrderStore;
  let tablePrefix: string;
  const dynamodb = localDynamoDbClient(inject('dynamodbEndpoint'));
  const logger = createLogger('dead-letters-moto', { logLevel: 'SILENT', environment: 'test' });
  const clock = new SystemClock();

  const arnOf = async (QueueUrl: string) =>
    (await moto.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn ?? '';

  beforeAll(async () => {
    moto.endpoint = await shared.endpoint();
    moto.sqs = await shared.sqs();
    tablePrefix = `dlq-${randomUUID().slice(0, 8)}`;
    await ensureTables(dynamodb, tablePrefix);
    orders = new DynamoDbOrderStore({ client: dynamodb, tablePrefix });
  }, 60_000);

  // Queues of its own for each test (cheap on moto), so no test meets another's messages.
  beforeEach(async () => {
    const suffix = randomUUID().slice(0, 8);
    dlqUrl = (await moto.sqs.send(new CreateQueueCommand({ QueueName: `orders-dlq-${suffix}` }))).QueueUrl ?? '';
    dlqArn = await arnOf(dlqUrl);
    mainUrl =
      (
        await moto.sqs.send(
          new CreateQueueCommand({
            QueueName: `orders-${suffix}`,
            Attributes: {
              RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVES }),
            },
          }),
        )
      ).QueueUrl ?? '';
    mainArn = await arnOf(mainUrl);
  });

  afterAll(() => dynamodb.destroy());

  const control = () => new SqsOrderQueueControl({ client: moto.sqs, queueUrl: mainUrl, deadLetterQueueUrl: dlqUrl });

  /** REST over dynalite and moto (the fake components' auth and config, these stores and queues). */
  const rest = (queueUrl = mainUrl) => {
    const { components } = fakeComponents();
    return {
      ...components,
      orders,
      orderQueue: new SqsOrderQueue({ client: moto.sqs, queueUrl, deadLetterQueueUrl: dlqUrl }),
      localOrderQueues: undefined,
    };
  };

  /** The order worker as its Lambda runs it, on these stores and queues, placing on paper. */
  const orderWorker = () =>
    orderWorkerHandler({
      orders,
      breaker: new CircuitBreaker({
        store: new DynamoDbBreakerStore({ client: dynamodb, tablePrefix }),
        clock,
        policy: DEFAULT_BREAKER_POLICY,
      }),
      brokerFor: () => new PaperBroker({ lastPrice: async () => 100, now: () => clock.now() }),
      queue: control(),
      idempotencyStore: new DynamoDBPersistenceLayer({
        tableName: physicalTableName(tablePrefix, Tables.idempotency),
        awsSdkV3Client: dynamodb,
      }),
      clock,
      retry: { maxAttempts: 3, retryBaseSeconds: 1, retryMaxSeconds: 30 },
      logger,
    });

  /** A received message as Lambda's SQS event source hands it to a function. */
  const lambdaRecord = (m: Message, arn: string): SQSRecord => ({
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
      SenderId: m.Attributes?.SenderId ?? 'test',
      ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      ...(m.Attributes?.DeadLetterQueueSourceArn !== undefined && {
        DeadLetterQueueSourceArn: m.Attributes.DeadLetterQueueSourceArn,
      }),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([name, v]) => [
        name,
        { dataType: v.DataType ?? 'String', stringValue: v.StringValue, stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'us-east-1',
  });

  const receive = async (QueueUrl: string, VisibilityTimeout: number, WaitTimeSeconds = 0) =>
    (
      await moto.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout,
          WaitTimeSeconds,
          AttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      )
    ).Messages ?? [];

  /** One poll of the dead-letter queue as the event source does it: receive, invoke, delete what succeeded. */
  const consumeDeadLetters = async () => {
    const handler = deadLetterHandler({ orders, clock, logger, defaultOwner: 'queue', queue: control() });
    const messages = await receive(dlqUrl, 30, 1);
    const response = await handler({ Records: messages.map((m) => lambdaRecord(m, dlqArn)) }, {} as Context);
    return { messages, response };
  };

  const hiddenDeadLetters = async () =>
    Number(
      (
        await moto.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: dlqUrl,
            AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
          }),
        )
      ).Attributes?.ApproximateNumberOfMessagesNotVisible,
    );

  it('lists a task moved by the redrive policy as max_receives and redrives it back to the orders queue', async () => {
    const task = placeOrderTask(`moved-${randomUUID().slice(0, 8)}`, { owner: ME });
    await moto.sqs.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: JSON.stringify(task) }));
    // Workers that died: received maxReceiveCount times, never deleted; the next poll moves it.
    for (let i = 0; i < MAX_RECEIVES; i++) expect(await receive(mainUrl, 0)).toHaveLength(1);
    expect(await receive(mainUrl, 0)).toHaveLength(0);

    const { messages, response } = await consumeDeadLetters();
    expect(messages.map((m) => m.Body)).toEqual([JSON.stringify(task)]);
    // Kept: reported failed, so the event source does not delete it, and hidden meanwhile.
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: messages[0]?.MessageId }]);
    expect(await hiddenDeadLetters()).toBe(1);

    const components = rest();
    const listed = DeadLetterListResponse.parse(
      (await call(routed(listDeadLettersUseCase, components), { query: { error_type: 'max_receives' } })).body,
    );
    expect(listed.dead_letters.map((d) => [d.task_id, d.status, d.error_type])).toEqual([
      [task.task_id, 'DEAD_LETTER', 'max_receives'],
    ]);

    const redriven = await call(routed(redriveOrderUseCase, components), {
      method: 'POST',
      pathParameters: { task_id: task.task_id },
    });
    expect(redriven.status).toBe(202);
    // Its dead letter is hidden by the consumer, so the task is queued from its record.
    expect(RedriveOrderResponse.parse(redriven.body).source).toBe('status-record');
    expect((await orders.get(task.task_id))?.status).toBe('PENDING');
    const back = await receive(mainUrl, 30, 5);
    expect(back.map((m) => JSON.parse(m.Body ?? '{}').task_id)).toEqual([task.task_id]);
  }, 60_000);

  it('redrives a task moved by maxReceiveCount out of the dead-letter queue, and the worker then places it', async () => {
    const task = placeOrderTask(`redrive-${randomUUID().slice(0, 8)}`, { owner: ME });
    await moto.sqs.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: JSON.stringify(task) }));
    for (let i = 0; i < MAX_RECEIVES; i++) expect(await receive(mainUrl, 0)).toHaveLength(1);
    expect(await receive(mainUrl, 0)).toHaveLength(0);

    // The consumer records it and keeps it; its hold ends as the visibility timeout would end it.
    const { messages } = await consumeDeadLetters();
    expect(messages.map((m) => m.Body)).toEqual([JSON.stringify(task)]);
    for (const m of messages) {
      await moto.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }),
      );
    }
    expect((await orders.get(task.task_id))?.status).toBe('DEAD_LETTER');

    const redriven = await call(routed(redriveOrderUseCase, rest()), {
      method: 'POST',
      pathParameters: { task_id: task.task_id },
    });
    expect(redriven.status).toBe(202);
    expect(RedriveOrderResponse.parse(redriven.body).source).toBe('dead-letter-queue');
    // Moved, not copied: nothing is left on the dead-letter queue, visible or hidden.
    expect(await receive(dlqUrl, 30)).toEqual([]);
    expect(await hiddenDeadLetters()).toBe(0);

    // Back on the orders queue after the redrive's delivery delay, with a fresh receive count.
    const back = await receive(mainUrl, 30, REDRIVE_DELIVERY_DELAY_SECONDS + 3);
    expect(back.map((m) => m.Body)).toEqual([JSON.stringify(task)]);
    expect(back[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
    const response = await orderWorker()({ Records: back.map((m) => lambdaRecord(m, mainArn)) }, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    const record = await orders.get(task.task_id);
    expect(record?.status).toBe('COMPLETED');
    expect(record?.redrivenAt).toBeDefined();
  }, 60_000);

  it('records a poison message with a task id under validation: shown by id and listed', async () => {
    const taskId = `poison-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify({ task_id: taskId, owner: ME, operation: 'place_order', params: { quantity: -5 } });
    await moto.sqs.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: body }));
    const worker = orderWorker();
    const messages = await receive(mainUrl, 30, 1);
    const response = await worker({ Records: messages.map((m) => lambdaRecord(m, mainArn)) }, {} as Context);
    expect(response.batchItemFailures).toEqual([]);

    const components = rest();
    const shown = await call(routed(getOrderUseCase, components), { pathParameters: { task_id: taskId } });
    expect(shown.status).toBe(200);
    expect(OrderResponse.parse(shown.body).order).toMatchObject({ status: 'DEAD_LETTER', error_type: 'validation' });
    const listed = DeadLetterListResponse.parse(
      (await call(routed(listDeadLettersUseCase, components), { query: { error_type: 'validation' } })).body,
    );
    const entry = listed.dead_letters.find((d) => d.task_id === taskId);
    expect(entry?.raw_body).toBe(body);
    expect(entry?.last_error).toContain('params.quantity');

    // The worker's own dead letter reaches the consumer too: left as the worker recorded it.
    const { messages: dead } = await consumeDeadLetters();
    expect(dead.map((m) => m.Body)).toContain(body);
    expect((await orders.get(taskId))?.lastError).toMatch(/^\[validation\] /);
  }, 60_000);

  it('leaves the record DEAD_LETTER when the redrive cannot send (503)', async () => {
    const task = placeOrderTask(`unsent-${randomUUID().slice(0, 8)}`, { owner: ME });
    await orders.create(task, clock.now());
    await orders.transition(task.task_id, 'DEAD_LETTER', { lastError: '[network] down' }, clock.now());
    // A queue moto does not have: SQS refuses the send.
    const components = rest(`${moto.endpoint}/123456789012/no-such-queue`);
    const response = await call(routed(redriveOrderUseCase, components), {
      method: 'POST',
      pathParameters: { task_id: task.task_id },
    });
    expect(response.status).toBe(503);
    const record = await orders.get(task.task_id);
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.redrivenAt).toBeUndefined();
  }, 60_000);
});

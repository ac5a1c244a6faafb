import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidMessageContents,
  ListQueuesCommand,
  MessageNotInflight,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  TooManyEntriesInBatchRequest,
  UnsupportedOperation,
} from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../../infra/local/sigv4-verifier.js';
import { createLocalOrderQueues, type LocalOrderQueues } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { DEVELOPMENT_LOCAL_AWS_CREDENTIALS } from '../../../shared/config.js';
import { startLocalSqsServer } from '../../support/local-sqs-server.js';
import { signedFetch } from '../../support/signed-fetch.js';
import { waitFor } from '../../support/wait.js';

const ORDER = {
  task_id: 'sdk-1',
  idempotency_key: 'sdk-key-1',
  account_id: 'paper',
  operation: 'place_order',
  params: {
    exchange: 'NFO',
    tradingsymbol: 'NIFTY26JAN24000CE',
    transaction_type: 'BUY',
    quantity: 65,
    product: 'NRML',
    order_type: 'MARKET',
  },
  submitted_at: '2025-01-08T09:15:00.000Z',
};

describe('local SQS endpoint, through the AWS SDK', () => {
  let queues: LocalOrderQueues;
  let server: Awaited<ReturnType<typeof startLocalSqsServer>>;
  let queueUrl: string;

  beforeEach(async () => {
    queues = createLocalOrderQueues({ clock: new SystemClock(), maxReceiveCount: 3 });
    server = await startLocalSqsServer([queues.main, queues.deadLetter]);
    queueUrl = (await server.client.send(new GetQueueUrlCommand({ QueueName: 'orders' }))).QueueUrl ?? '';
  });

  afterEach(async () => {
    await server.close();
  });

  it('answers GetQueueUrl and ListQueues with URLs the SDK can send to', async () => {
    expect(queueUrl).toBe(`${server.url}/000000000000/orders`);
    const listed = await server.client.send(new ListQueuesCommand({ QueueNamePrefix: 'orders' }));
    expect(listed.QueueUrls).toEqual([queueUrl, `${server.url}/000000000000/orders-dlq`]);
    await expect(server.client.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(
      QueueDoesNotExist,
    );
  });

  it('accepts SendMessage with the MD5s the SDK checks, and delivers body and attributes unchanged', async () => {
    const body = JSON.stringify(ORDER);
    const sent = await server.client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageAttributes: {
          producer: { DataType: 'String', StringValue: 'external-system' },
          priority: { DataType: 'Number', StringValue: '5' },
          raw: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      }),
    );
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    const [message] = queues.main.peek();
    expect(message?.body).toBe(body);

    const received = await server.client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const [got] = received.Messages ?? [];
    expect(got?.MessageId).toBe(sent.MessageId);
    expect(got?.Body).toBe(body);
    expect(got?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(got?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(got?.MessageAttributes?.producer?.StringValue).toBe('external-system');
    expect([...(got?.MessageAttributes?.raw?.BinaryValue ?? [])]).toEqual([1, 2, 3]);
  });

  it('keeps duplicates: the same order sent twice, alone or in a batch, is two messages', async () => {
    const body = JSON.stringify(ORDER);
    const one = await server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const two = await server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const batch = await server.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a', MessageBody: body },
          { Id: 'b', MessageBody: body },
        ],
      }),
    );
    expect(batch.Failed ?? []).toEqual([]);
    expect(batch.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    const ids = new Set([one.MessageId, two.MessageId, ...(batch.Successful ?? []).map((s) => s.MessageId)]);
    expect(ids.size).toBe(4);
    expect(queues.main.peek().map((m) => m.body)).toEqual([body, body, body, body]);
  });

  it('accepts malformed order bodies (the worker dead-letters them) but refuses what SQS refuses', async () => {
    for (const body of ['not json', '{"task_id":', '{"operation":"launch_rocket"}']) {
      await server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    }
    expect(queues.main.peek().map((m) => m.body)).toEqual(['not json', '{"task_id":', '{"operation":"launch_rocket"}']);

    await expect(
      server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'bell \u0007' })),
    ).rejects.toBeInstanceOf(InvalidMessageContents);
    await expect(
      server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '' })),
    ).rejects.toMatchObject({ name: 'MissingParameter', $metadata: { httpStatusCode: 400 } });
    await expect(
      server.client.send(new SendMessageCommand({ QueueUrl: `${server.url}/000000000000/missing`, MessageBody: 'x' })),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
    await expect(
      server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x', DelaySeconds: 901 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    expect(queues.main.peek()).toHaveLength(3);
  });

  it('checks batches as SQS does: distinct ids, 1-10 entries, and per-entry failures', async () => {
    await expect(
      server.client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'same', MessageBody: 'a' },
            { Id: 'same', MessageBody: 'b' },
          ],
        }),
      ),
    ).rejects.toBeInstanceOf(BatchEntryIdsNotDistinct);
    await expect(
      server.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] })),
    ).rejects.toBeInstanceOf(EmptyBatchRequest);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));
    await expect(
      server.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: eleven })),
    ).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);
    expect(queues.main.peek()).toEqual([]);

    const mixed = await server.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'good', MessageBody: JSON.stringify(ORDER) },
          { Id: 'bad', MessageBody: 'bell \u0007' },
        ],
      }),
    );
    expect(mixed.Successful?.map((s) => s.Id)).toEqual(['good']);
    expect(mixed.Failed).toEqual([
      expect.objectContaining({ Id: 'bad', SenderFault: true, Code: 'InvalidMessageContents' }),
    ]);
    expect(queues.main.peek()).toHaveLength(1);
  });

  it('receives, changes visibility and deletes with receipt handles, and reports queue attributes', async () => {
    await server.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));
    const first = (await server.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 30 })))
      .Messages?.[0];
    const handle = first?.ReceiptHandle ?? '';
    const attributes = await server.client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
      QueueArn: 'arn:aws:sqs:ap-south-1:000000000000:orders',
    });
    expect(JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:ap-south-1:000000000000:orders-dlq',
      maxReceiveCount: 3,
    });

    await server.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }),
    );
    const second = (
      await server.client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      )
    ).Messages?.[0];
    expect(second?.Attributes).toEqual({ ApproximateReceiveCount: '2' });
    await expect(
      server.client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: handle, VisibilityTimeout: 5 }),
      ),
    ).rejects.toBeInstanceOf(MessageNotInflight);
    await expect(
      server.client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: 'garbage' })),
    ).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    await server.client.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: second?.ReceiptHandle ?? '' }),
    );
    expect(queues.main.peek()).toEqual([]);
  });

  it('long-polls: a ReceiveMessage with WaitTimeSeconds answers when a message arrives', async () => {
    const started = Date.now();
    const receiving = server.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5 }));
    // Sent once the receive is parked, so the answer can only come from the long poll.
    await waitFor(() => queues.main.waitingReceivers === 1, { message: 'the receive to park' });
    queues.main.send('late arrival');
    const received = await receiving;
    expect(received.Messages?.map((m) => m.Body)).toEqual(['late arrival']);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('answers actions it does not serve and malformed requests in the SQS error shape', async () => {
    await expect(server.client.send(new CreateQueueCommand({ QueueName: 'new' }))).rejects.toBeInstanceOf(
      UnsupportedOperation,
    );
    const response = await signedFetch(
      server.url,
      {
        method: 'POST',
        headers: { 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' },
        body: '{"QueueUrl": ',
      },
      DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(await response.json()).toEqual({
      __type: 'com.amazon.coral.service#SerializationException',
      message: 'The request body is not valid JSON.',
    });
    const missing = await signedFetch(
      server.url,
      {
        method: 'POST',
        headers: { 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ QueueUrl: queueUrl }),
      },
      DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
    );
    expect(missing.status).toBe(400);
    expect(missing.headers.get('x-amzn-query-error')).toBe('MissingParameter;Sender');
    expect(await missing.json()).toEqual({
      __type: 'com.amazonaws.sqs#MissingParameter',
      message: 'The request must contain the parameter MessageBody.',
    });
    // Requests without the SQS target are not the endpoint's.
    expect((await fetch(server.url, { method: 'POST', body: '{}' })).status).toBe(404);
  });
  describe('credentials (AWS Signature V4 with the local key pair)', () => {
    const target = { 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' };
    const send = () => JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'forged order' });

    it('refuses unsigned, wrongly keyed, wrongly signed, replayed-with-another-body and stale calls with 403', async () => {
      const before = queues.main.peek().length;
      const unsigned = await fetch(server.url, { method: 'POST', headers: target, body: send() });
      expect(unsigned.status).toBe(403);
      expect(await unsigned.json()).toMatchObject({ __type: 'com.amazon.coral.service#MissingAuthenticationToken' });

      const otherKey = await signedFetch(
        server.url,
        { method: 'POST', headers: target, body: send() },
        {
          accessKeyId: 'someone-else',
          secretAccessKey: DEVELOPMENT_LOCAL_AWS_CREDENTIALS.secretAccessKey,
        },
      );
      expect(otherKey.status).toBe(403);
      expect(otherKey.headers.get('x-amzn-query-error')).toBe('InvalidClientTokenId;Sender');

      const wrongSecret = await signedFetch(
        server.url,
        { method: 'POST', headers: target, body: send() },
        {
          accessKeyId: DEVELOPMENT_LOCAL_AWS_CREDENTIALS.accessKeyId,
          secretAccessKey: 'not-the-secret',
        },
      );
      expect(wrongSecret.status).toBe(403);
      expect(await wrongSecret.json()).toMatchObject({ __type: 'com.amazon.coral.service#SignatureDoesNotMatch' });

      const stale = await signedFetch(
        server.url,
        { method: 'POST', headers: target, body: send() },
        DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
        { signingDate: new Date(Date.now() - 20 * 60_000) },
      );
      expect(stale.status).toBe(403);
      expect(await stale.json()).toMatchObject({ message: expect.stringMatching(/expired/) });

      // A signature captured from one call does not carry another body.
      const signer = new SignatureV4({
        credentials: DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
        region: 'ap-south-1',
        service: 'sqs',
        sha256: NodeSha256,
      });
      const url = new URL(server.url);
      const captured = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { ...target, host: url.host },
        body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'a harmless order' }),
      });
      const replayed = await fetch(server.url, {
        method: 'POST',
        headers: Object.fromEntries(Object.entries(captured.headers).filter(([name]) => name !== 'host')),
        body: send(),
      });
      expect(replayed.status).toBe(403);
      expect(queues.main.peek().length).toBe(before);
    });

    it('accepts a raw call signed with the local key pair, as the SDK client does', async () => {
      const before = queues.main.peek().length;
      const accepted = await signedFetch(
        server.url,
        { method: 'POST', headers: target, body: send() },
        DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
      );
      expect(accepted.status).toBe(200);
      expect(queues.main.peek().length).toBe(before + 1);
    });
  });
});

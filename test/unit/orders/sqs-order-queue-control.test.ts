import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { queueUrlOfArn, SqsOrderQueueControl } from '../../../shared/adapters/sqs/sqs-order-queue-control.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';

const message = {
  messageId: 'm-1',
  receiptHandle: 'rh-1',
  body: '{"task_id":"t1"}',
  eventSourceArn: 'arn:aws:sqs:ap-south-1:123456789012:prod-orders',
};

describe('SqsOrderQueueControl', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());
  const client = new SQSClient({ region: 'ap-south-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });

  it('delays a message with ChangeMessageVisibility on the queue its ARN names, in whole seconds', async () => {
    sqs.on(ChangeMessageVisibilityCommand).resolves({});
    await new SqsOrderQueueControl({ client }).delay(message, 1.2);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: 'https://sqs.ap-south-1.amazonaws.com/123456789012/prod-orders',
        ReceiptHandle: 'rh-1',
        VisibilityTimeout: 2,
      },
    ]);
  });

  it('requeues a held message as a delayed copy on its own queue, capped at SQS longest delay', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'copy-1' });
    await new SqsOrderQueueControl({ client }).requeue(message, 59.2);
    await new SqsOrderQueueControl({ client }).requeue(message, 3600);
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: 'https://sqs.ap-south-1.amazonaws.com/123456789012/prod-orders',
        MessageBody: '{"task_id":"t1"}',
        DelaySeconds: 60,
      },
      {
        QueueUrl: 'https://sqs.ap-south-1.amazonaws.com/123456789012/prod-orders',
        MessageBody: '{"task_id":"t1"}',
        DelaySeconds: 900,
      },
    ]);
  });

  it('dead-letters by sending the body to the DLQ with the reason as attributes', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'd-1' });
    const dlq = 'https://sqs.ap-south-1.amazonaws.com/123456789012/prod-orders-dlq';
    await new SqsOrderQueueControl({ client, deadLetterQueueUrl: dlq }).deadLetter(message, {
      type: 'validation',
      message: 'params: Required',
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: dlq,
      MessageBody: '{"task_id":"t1"}',
      MessageAttributes: {
        error_type: { DataType: 'String', StringValue: 'validation' },
        error_message: { DataType: 'String', StringValue: 'params: Required' },
        source_message_id: { DataType: 'String', StringValue: 'm-1' },
      },
    });
  });

  it('fails as a dependency error when SQS refuses or no DLQ is configured', async () => {
    sqs.on(ChangeMessageVisibilityCommand).rejects(new Error('ReceiptHandleIsInvalid'));
    await expect(new SqsOrderQueueControl({ client }).delay(message, 1)).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    await expect(
      new SqsOrderQueueControl({ client }).deadLetter(message, { type: 'input', message: 'x' }),
    ).rejects.toThrow(/ORDERS_DLQ_URL/);
    expect(() => queueUrlOfArn('arn:aws:sns:ap-south-1:1:topic')).toThrow(DependencyUnavailableError);
  });
});

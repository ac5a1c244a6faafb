import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DependencyUnavailableError, describeError } from '../../errors.js';
import type { DeadLetterReason, OrderQueueControl, QueueMessageRef } from '../../ports/order-queue-control.js';

/** What a {@link SqsOrderQueueControl} needs. */
export interface SqsOrderQueueControlOptions {
  readonly client: SQSClient;
  /** The orders queue; when unset, derived from each message's `eventSourceARN`. */
  readonly queueUrl?: string | undefined;
  /** The orders dead-letter queue (`ORDERS_DLQ_URL`); dead-lettering rejects without it. */
  readonly deadLetterQueueUrl?: string | undefined;
}

/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

/** The queue URL of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
export function queueUrlOfArn(arn: string): string {
  const parts = arn.split(':');
  const [, partition, service, region, account, name] = parts;
  if (parts.length !== 6 || service !== 'sqs' || !region || !account || !name) {
    throw new DependencyUnavailableError('sqs', `Not an SQS queue ARN: ${arn}`);
  }
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/**
 * {@link OrderQueueControl} on Amazon SQS: `delay` is `ChangeMessageVisibility` on the message's
 * receipt, `requeue` a delayed `SendMessage` of the body to the same queue, `deadLetter` a `SendMessage` of the body to the dead-letter queue with the reason as
 * message attributes (`error_type`, `error_message`, `source_message_id`), which the dead-letter
 * listing and a redrive can read. Failures reject with `DependencyUnavailableError('sqs', …)`.
 */
export class SqsOrderQueueControl implements OrderQueueControl {
  readonly #options: SqsOrderQueueControlOptions;

  constructor(options: SqsOrderQueueControlOptions) {
    this.#options = options;
  }

  /**
   * The URL of the queue a message came from: the dead-letter queue's for its own messages (the
   * dead-letter consumer keeps them there), else the orders queue's, else the ARN's.
   */
  #sourceUrl(message: QueueMessageRef): string {
    const { queueUrl, deadLetterQueueUrl } = this.#options;
    const name = message.eventSourceArn.split(':').at(-1);
    if (deadLetterQueueUrl !== undefined && name !== undefined && deadLetterQueueUrl.endsWith(`/${name}`)) {
      return deadLetterQueueUrl;
    }
    return queueUrl ?? queueUrlOfArn(message.eventSourceArn);
  }

  async delay(message: QueueMessageRef, seconds: number): Promise<void> {
    const QueueUrl = this.#sourceUrl(message);
    try {
      await this.#options.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: Math.max(0, Math.min(43_200, Math.ceil(seconds))),
        }),
      );
    } catch (error) {
      throw new DependencyUnavailableError(
        'sqs',
        `Could not delay message ${message.messageId} by ${seconds} s: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  async requeue(message: QueueMessageRef, seconds: number): Promise<void> {
    const QueueUrl = this.#sourceUrl(message);
    try {
      await this.#options.client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: message.body,
          DelaySeconds: Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds))),
        }),
      );
    } catch (error) {
      throw new DependencyUnavailableError(
        'sqs',
        `Could not requeue message ${message.messageId} for ${seconds} s: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  async deadLetter(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    const QueueUrl = this.#options.deadLetterQueueUrl;
    if (QueueUrl === undefined) {
      throw new DependencyUnavailableError('sqs', 'ORDERS_DLQ_URL is not set: cannot dead-letter order messages');
    }
    try {
      await this.#options.client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: message.body,
          MessageAttributes: {
            error_type: { DataType: 'String', StringValue: reason.type },
            // SQS limits a message to 256 KB in all; the reason need not be long.
            error_message: { DataType: 'String', StringValue: reason.message.slice(0, 2000) || reason.type },
            source_message_id: { DataType: 'String', StringValue: message.messageId },
          },
        }),
      );
    } catch (error) {
      throw new DependencyUnavailableError(
        'sqs',
        `Could not dead-letter message ${message.messageId}: ${describeError(error)}`,
        { cause: error },
      );
    }
  }
}

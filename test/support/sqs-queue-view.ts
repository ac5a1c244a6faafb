import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueueMessageRef } from '../../shared/ports/order-queue-control.js';

/** A message as a test reads it back: the body and its string message attributes. */
export interface SeenMessage {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** What a test does to one queue through the SQS API, whoever serves it (moto, the local endpoint). */
export interface SqsQueueView {
  readonly url: string;
  arn(): Promise<string>;
  send(body: string): Promise<void>;
  /** Sends `body` and receives it, hidden for a minute: the message as the event source hands it to the worker. */
  deliver(body: string): Promise<QueueMessageRef>;
  /** Receives every visible message and keeps it hidden for five minutes (the test is done with it). */
  drain(): Promise<SeenMessage[]>;
  /** Every visible message, oldest first, left visible: SQS has no peek, so receive all, then show them again. */
  peek(): Promise<SeenMessage[]>;
  /** Messages received and not yet visible again (`ApproximateNumberOfMessagesNotVisible`). */
  hidden(): Promise<number>;
}

const seen = (m: Message): SeenMessage => ({
  body: m.Body ?? '',
  attributes: Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
  ),
});

/** A {@link SqsQueueView} of the queue at `url`. */
export function sqsQueueView(client: SQSClient, url: string): SqsQueueView {
  let arn: string | undefined;
  const receiveAll = async (VisibilityTimeout: number): Promise<Message[]> => {
    const all: Message[] = [];
    for (;;) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) return all;
      all.push(...Messages);
    }
  };
  return {
    url,
    arn: async () => {
      arn ??=
        (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes
          ?.QueueArn ?? '';
      return arn;
    },
    send: async (body) => {
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    },
    async deliver(body) {
      await this.send(body);
      const [message] =
        (
          await client.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: 1,
              VisibilityTimeout: 60,
              WaitTimeSeconds: 1,
            }),
          )
        ).Messages ?? [];
      if (message?.MessageId === undefined || message.ReceiptHandle === undefined) {
        throw new Error(`nothing to receive from ${url}`);
      }
      return {
        messageId: message.MessageId,
        receiptHandle: message.ReceiptHandle,
        body: message.Body ?? '',
        eventSourceArn: await this.arn(),
      };
    },
    drain: async () => (await receiveAll(300)).map(seen),
    peek: async () => {
      const all = await receiveAll(300);
      for (let i = 0; i < all.length; i += 10) {
        await client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: all
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(i + j), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })),
          }),
        );
      }
      return all.map(seen);
    },
    hidden: async () =>
      Number(
        (
          await client.send(
            new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }),
          )
        ).Attributes?.ApproximateNumberOfMessagesNotVisible,
      ),
  };
}

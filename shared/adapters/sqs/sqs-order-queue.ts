import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { OrderTask } from '../../contracts/order.js';
import { DependencyUnavailableError, describeError } from '../../errors.js';
import type { EnqueueOptions, OrderQueue, RedriveOptions } from '../../ports/orders.js';
import { taskIdOfBody } from './order-message.js';

/** How the SQS order queue is set up. */
export interface SqsOrderQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The dead-letter queue of the orders queue's redrive policy; without it nothing can be redriven. */
  readonly deadLetterQueueUrl?: string;
  /**
   * How many dead letters a redrive looks through for the task before giving up (default 1000).
   * SQS cannot fetch a message by id, so a redrive receives dead letters until it finds the task.
   */
  readonly redriveScanLimit?: number;
}

/** How long a redrive holds the dead letters it looked at before handing them back. */
const SCAN_VISIBILITY_SECONDS = 60;

/**
 * The {@link OrderQueue} on Amazon SQS (or anything speaking its API, such as the local platform's
 * SQS endpoint). `enqueue` sends the task as the message body, JSON, which is what the order worker
 * parses. Failures of SQS surface as `DependencyUnavailableError`s (a 503 at the REST API).
 */
export class SqsOrderQueue implements OrderQueue {
  readonly #options: SqsOrderQueueOptions;

  constructor(options: SqsOrderQueueOptions) {
    this.#options = options;
  }

  async enqueue(task: OrderTask, options: EnqueueOptions = {}): Promise<void> {
    const { client, queueUrl } = this.#options;
    try {
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: options.body ?? JSON.stringify(task),
          ...(options.delaySeconds !== undefined && { DelaySeconds: options.delaySeconds }),
        }),
      );
    } catch (error) {
      throw new DependencyUnavailableError(
        'sqs',
        `Could not enqueue order task ${task.task_id}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Moves the task back from the dead-letter queue: receives dead letters (hiding them while it
   * looks) until a batch holds the task, sends each message of the task in it to the orders queue
   * and deletes it from the dead-letter queue, then makes the others visible again (duplicates of
   * the task are harmless: the worker's idempotency places it once). Resolves false when the task
   * is not among the first `redriveScanLimit` dead letters, or `options.signal` aborted the scan
   * first: the caller then queues the task from its status record. Once the task's message is on
   * the orders queue, failing to delete its dead letter does not fail the redrive: a leftover copy
   * is only a duplicate.
   */
  async redrive(taskId: string, options: RedriveOptions = {}): Promise<boolean> {
    const { client, queueUrl, deadLetterQueueUrl } = this.#options;
    if (deadLetterQueueUrl === undefined) return false;
    const limit = this.#options.redriveScanLimit ?? 1000;
    const { signal } = options;
    const held: { Id: string; ReceiptHandle: string }[] = [];
    let moved = 0;
    let seen = 0;
    const receive = () => {
      const command = new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: SCAN_VISIBILITY_SECONDS,
        // Long polling asks every SQS server, so an empty answer means an empty queue.
        WaitTimeSeconds: 1,
      });
      // The scan ends with the caller's time; a move already under way is not cut short.
      return signal === undefined ? client.send(command) : client.send(command, { abortSignal: signal });
    };
    try {
      while (seen < limit && !signal?.aborted) {
        let received: Awaited<ReturnType<typeof receive>>;
        try {
          received = await receive();
        } catch (error) {
          if (signal?.aborted) break;
          throw error;
        }
        const messages = received.Messages ?? [];
        if (messages.length === 0) break;
        for (const message of messages) {
          seen++;
          if (message.ReceiptHandle === undefined || message.Body === undefined) continue;
          if (taskIdOfBody(message.Body) === taskId) {
            // The first copy goes back; later copies of the same task (a duplicate delivery
            // dead-lettered too) are only deleted, so the task runs once more and leaves no trace.
            if (moved === 0) {
              await client.send(
                new SendMessageCommand({
                  QueueUrl: queueUrl,
                  MessageBody: message.Body,
                  ...(options.delaySeconds !== undefined && { DelaySeconds: options.delaySeconds }),
                }),
              );
            }
            moved++;
            await client
              .send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle }))
              .catch(() => {
                // The task is back on the orders queue; the copy left here is a harmless duplicate.
              });
          } else {
            held.push({ Id: String(held.length), ReceiptHandle: message.ReceiptHandle });
          }
        }
      }
    } catch (error) {
      if (moved > 0) return true;
      throw new DependencyUnavailableError('sqs', `Could not redrive order task ${taskId}: ${describeError(error)}`, {
        cause: error,
      });
    } finally {
      await this.#release(held);
    }
    return moved > 0;
  }

  /** Makes dead letters a redrive looked at visible again, ten at a time; failures only delay them. */
  async #release(held: readonly { Id: string; ReceiptHandle: string }[]): Promise<void> {
    const { client, deadLetterQueueUrl } = this.#options;
    for (let i = 0; i < held.length; i += 10) {
      const entries = held.slice(i, i + 10).map((h) => ({ ...h, VisibilityTimeout: 0 }));
      await client
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: deadLetterQueueUrl, Entries: entries }))
        .catch(() => {
          // They become visible by themselves when the scan's visibility timeout ends.
        });
    }
  }
}

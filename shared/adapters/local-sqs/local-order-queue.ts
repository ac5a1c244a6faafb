import { join } from 'node:path';
import type { OrderTask } from '../../contracts/order.js';
import type { Clock } from '../../ports/clock.js';
import type { DeadLetterReason, OrderQueueControl, QueueMessageRef } from '../../ports/order-queue-control.js';
import type { EnqueueOptions, OrderQueue, RedriveOptions } from '../../ports/orders.js';
import { taskIdOfBody } from '../sqs/order-message.js';
import { LocalQueue } from './local-queue.js';

/** The orders queue and its dead-letter queue, as the cloud has them (`orders`, `orders-dlq`). */
export interface LocalOrderQueues {
  readonly main: LocalQueue;
  readonly deadLetter: LocalQueue;
}

/** Queue names as the CDK app names them, so a producer's `GetQueueUrl` works unchanged locally. */
export const LocalOrderQueueNames = { main: 'orders', deadLetter: 'orders-dlq' } as const;

/** Where the journal of a local queue lives under a data directory. */
export function localQueueJournalPath(dataDir: string, queueName: string): string {
  return join(dataDir, 'queues', `${queueName}.jsonl`);
}

/**
 * Creates the local orders queue with its dead-letter queue. `maxReceiveCount` is the redrive
 * policy's (deliveries before a message is dead-lettered); the visibility timeout defaults to SQS's
 * 30 s. With `dataDir` both queues keep their messages there across restarts (a journal each under
 * `queues/`); without, in memory.
 */
export function createLocalOrderQueues(options: {
  readonly clock: Clock;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly region?: string;
  readonly dataDir?: string;
}): LocalOrderQueues {
  const common = {
    clock: options.clock,
    ...(options.region !== undefined && { region: options.region }),
  };
  const journal = (name: string) =>
    options.dataDir === undefined ? {} : { journalPath: localQueueJournalPath(options.dataDir, name) };
  const deadLetter = new LocalQueue({
    ...common,
    name: LocalOrderQueueNames.deadLetter,
    ...journal(LocalOrderQueueNames.deadLetter),
  });
  const main = new LocalQueue({
    ...common,
    name: LocalOrderQueueNames.main,
    ...journal(LocalOrderQueueNames.main),
    ...(options.visibilityTimeoutSeconds !== undefined && {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    }),
    redrivePolicy: { deadLetterQueue: deadLetter, maxReceiveCount: options.maxReceiveCount },
  });
  return { main, deadLetter };
}

/**
 * The {@link OrderQueue} on the local queue: `enqueue` sends the task as JSON, as the SQS adapter
 * does, and `redrive` moves the task's messages from the dead-letter queue back to the orders queue.
 */
export class LocalOrderQueue implements OrderQueue {
  readonly #queues: LocalOrderQueues;

  constructor(queues: LocalOrderQueues) {
    this.#queues = queues;
  }

  async enqueue(task: OrderTask, options: EnqueueOptions = {}): Promise<void> {
    this.#queues.main.send(options.body ?? JSON.stringify(task), {
      ...(options.delaySeconds !== undefined && { delaySeconds: options.delaySeconds }),
    });
    // The caller answers 202 after this: the message must survive a crash first.
    await this.#queues.main.sync();
  }

  /** The dead-letter queue is in this process: the search is instant, so `options.signal` has nothing to cut short. */
  async redrive(taskId: string, options: RedriveOptions = {}): Promise<boolean> {
    let first = true;
    // One copy goes back; further copies of the same task are dropped, as the SQS adapter does.
    const moved = this.#queues.deadLetter.moveTo(
      this.#queues.main,
      (body) => {
        if (taskIdOfBody(body) !== taskId) return false;
        const take = first;
        first = false;
        return take;
      },
      { ...(options.delaySeconds !== undefined && { delaySeconds: options.delaySeconds }) },
    );
    this.#queues.deadLetter.removeWhere((body) => taskIdOfBody(body) === taskId);
    return moved > 0;
  }
}

/**
 * The {@link OrderQueueControl} on the local queues: `delay` changes the message's visibility
 * timeout on the queue it came from, `requeue` sends a delayed copy to that queue, `deadLetter` sends its body to the dead-letter queue with the
 * same attributes as the SQS adapter: `error_type`, `error_message`, `source_message_id`.
 */
export class LocalOrderQueueControl implements OrderQueueControl {
  readonly #queues: LocalOrderQueues;

  constructor(queues: LocalOrderQueues) {
    this.#queues = queues;
  }

  async delay(message: QueueMessageRef, seconds: number): Promise<void> {
    const queue = [this.#queues.main, this.#queues.deadLetter].find((q) => q.arn === message.eventSourceArn);
    if (queue === undefined) throw new Error(`No local queue has the ARN ${message.eventSourceArn}`);
    queue.changeVisibility(message.receiptHandle, seconds);
  }

  async requeue(message: QueueMessageRef, seconds: number): Promise<void> {
    const queue = [this.#queues.main, this.#queues.deadLetter].find((q) => q.arn === message.eventSourceArn);
    if (queue === undefined) throw new Error(`No local queue has the ARN ${message.eventSourceArn}`);
    queue.send(message.body, { delaySeconds: Math.max(0, Math.min(900, Math.ceil(seconds))) });
    // The original is deleted once this resolves: the copy must be on disk first.
    await queue.sync();
  }

  async deadLetter(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    this.#queues.deadLetter.send(message.body, {
      messageAttributes: {
        error_type: { DataType: 'String', StringValue: reason.type },
        // SQS refuses empty attribute values; the reason need not be long.
        error_message: { DataType: 'String', StringValue: reason.message.slice(0, 2000) || reason.type },
        source_message_id: { DataType: 'String', StringValue: message.messageId },
      },
    });
    await this.#queues.deadLetter.sync();
  }
}

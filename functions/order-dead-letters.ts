import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError } from '../shared/errors.js';
import type { OrderQueueControl } from '../shared/ports/order-queue-control.js';
import { type Components, orderComponents, processComponents } from '../shared/wiring.js';
import {
  type DeadLetterMessage,
  type DeadLetterOutcome,
  type DeadLetterRecordDependencies,
  DeadLetterRecorder,
} from './orders/dead-letter-records.js';
import { readableTaskId } from './orders/order-task-processor.js';

/** What the dead-letter consumer needs; the composition root (or a test) hands it over. */
export interface DeadLetterConsumerDependencies extends DeadLetterRecordDependencies {
  /** Visibility changes on the dead-letter queue: how a dead letter is kept without being deleted. */
  readonly queue: Pick<OrderQueueControl, 'delay'>;
}

/** An SQS event source handler, as Lambda (and the local platform's queue) calls it. */
export type DeadLetterHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * How long a dead letter is hidden after it was looked at. An event source mapping deletes what
 * a handler does not report failed and redelivers what it does as soon as it is visible, so a
 * dead letter that must stay is reported failed and hidden this long: it is looked at again once an
 * hour (a superseded one then goes) instead of in a loop. Under SQS's 12 h limit.
 */
export const DEAD_LETTER_PARK_SECONDS = 3_600;

/** Whether SQS's redrive policy moved the record: its system attribute says so, or the worker's reason attributes are absent. */
function movedByRedrivePolicy(record: SQSRecord): boolean {
  return record.attributes.DeadLetterQueueSourceArn !== undefined || record.messageAttributes?.error_type === undefined;
}

function deadLetterMessage(record: SQSRecord): DeadLetterMessage {
  const sent = Number(record.attributes.SentTimestamp);
  return {
    messageId: record.messageId,
    receiptHandle: record.receiptHandle,
    body: record.body,
    eventSourceArn: record.eventSourceARN,
    ...(Number.isFinite(sent) && sent > 0 && { sentTimestampMs: sent }),
    movedByRedrivePolicy: movedByRedrivePolicy(record),
    taskId: readableTaskId(record.body),
  };
}

/**
 * The dead-letter consumer over its dependencies, for an SQS event source on the orders
 * dead-letter queue with `ReportBatchItemFailures`. Each record is handed to
 * {@link DeadLetterRecorder}, then kept on the queue: reported failed (so it is not deleted) and
 * hidden for {@link DEAD_LETTER_PARK_SECONDS}, so a redrive can still move it and the consumer does
 * not spin on it. Only a superseded leftover is reported processed, which deletes it.
 *
 * Why not read without deleting: an event source mapping always receives, and deletes whatever a
 * handler does not report failed; "failed and hidden" is the one way it leaves a message in place.
 * A redrive cannot see a hidden message (SQS has no lookup by id), so it queues the task from its
 * status record, which is why the record carries the whole task (and a poison message's raw body).
 *
 * A record whose store write fails is reported failed without hiding it: it comes back after the
 * queue's visibility timeout and is recorded then.
 */
export function deadLetterHandler(
  deps: DeadLetterConsumerDependencies,
  options: { readonly onOutcome?: (record: SQSRecord, outcome: DeadLetterOutcome) => void } = {},
): DeadLetterHandler {
  const recorder = new DeadLetterRecorder(deps);
  return async (event) => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      const message = deadLetterMessage(record);
      let outcome: DeadLetterOutcome;
      try {
        outcome = await recorder.record(message);
      } catch (error) {
        deps.logger.error('Dead letter could not be recorded; it comes back after the visibility timeout', {
          messageId: record.messageId,
          taskId: message.taskId,
          error: describeError(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      options.onOutcome?.(record, outcome);
      if (outcome.kind === 'superseded') continue;
      try {
        await deps.queue.delay(message, DEAD_LETTER_PARK_SECONDS);
      } catch (error) {
        // Kept all the same: it is back after the queue's visibility timeout, and looked at again.
        deps.logger.warn('Could not hide a dead letter for its park time', {
          messageId: record.messageId,
          error: describeError(error),
        });
      }
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
}

/** The consumer's dependencies from the composition root's components (the Lambda's and the local platform's). */
export function deadLetterConsumerDependencies(components: Components): DeadLetterConsumerDependencies {
  return {
    orders: components.orders,
    clock: components.clock,
    logger: components.logger,
    defaultOwner: components.config.orders.defaultOwner,
    queue: orderComponents(components).queueControl,
  };
}

let built: Promise<DeadLetterHandler> | undefined;

/**
 * The Lambda handler. Nothing happens at import; the first invocation builds the container's
 * components from the environment, later ones reuse them.
 */
export const handler: DeadLetterHandler = async (event, context) => {
  built ??= processComponents('order-dead-letters').then(
    (components) => deadLetterHandler(deadLetterConsumerDependencies(components)),
    (error: unknown) => {
      built = undefined;
      throw error;
    },
  );
  return (await built)(event, context);
};

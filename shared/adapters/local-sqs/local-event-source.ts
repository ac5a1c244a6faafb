import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { localLambdaContext } from '../local-lambda-context.js';
import type { LocalQueue, ReceivedMessage } from './local-queue.js';

/** A Lambda handler for SQS events, as `functions/order-worker` exports it. */
export type SqsLambdaHandler = (
  event: SQSEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: Lambda's own SQS handler type (SQSHandler) resolves to void when nothing failed
) => Promise<SQSBatchResponse | void>;

/** How the local event source is set up; the names follow Lambda's SQS event source mapping. */
export interface LocalEventSourceOptions {
  readonly queue: LocalQueue;
  readonly handler: SqsLambdaHandler;
  /** Records per invocation, 1-10000 (default 10). Above 10 the source batches several receives. */
  readonly batchSize?: number;
  /** How long to gather records for a batch larger than one receive (default 0: invoke at once). */
  readonly maxBatchingWindowMs?: number;
  /** Invocations at a time (default 2, Lambda's minimum for `MaximumConcurrency`). */
  readonly maxConcurrency?: number;
  /**
   * `ReportBatchItemFailures` (default true): the handler's `batchItemFailures` are kept and the
   * rest deleted. Without it, any resolved invocation deletes the whole batch.
   */
  readonly reportBatchItemFailures?: boolean;
  /** The Lambda function's name, for the context (default `order-worker`). */
  readonly functionName?: string;
  readonly region?: string;
  /** Told about invocations that failed as a whole (the handler threw, or answered an invalid failure list). */
  readonly onInvocationError?: (error: unknown, event: SQSEvent) => void;
}

/** The Lambda event record of a received message, field for field as Lambda builds it. */
export function toSqsRecord(message: ReceivedMessage, eventSourceARN: string, awsRegion: string): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    messageAttributes[name] = {
      dataType: value.DataType,
      stringListValues: [],
      binaryListValues: [],
      ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
    };
  }
  const attributes = message.attributes;
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '0',
      SenderId: attributes.SenderId ?? 'LOCAL',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
      ...(attributes.DeadLetterQueueSourceArn !== undefined && {
        DeadLetterQueueSourceArn: attributes.DeadLetterQueueSourceArn,
      }),
    },
    messageAttributes,
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes !== undefined && { md5OfMessageAttributes: message.md5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}

/** Thrown (to `onInvocationError`) when a handler's failure list names records that are not in the batch. */
export class InvalidBatchResponseError extends Error {
  override readonly name = 'InvalidBatchResponseError';
}

/**
 * The ids the handler reported as failed, or `'all'` when the whole batch counts as failed: Lambda
 * treats a failure list with an empty, missing or unknown `itemIdentifier` as a failed batch.
 */
function failedIds(response: unknown, batch: ReadonlySet<string>): ReadonlySet<string> | 'all' {
  if (response === undefined || response === null || typeof response !== 'object') return new Set();
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !batch.has(id)) return 'all';
    ids.add(id);
  }
  return ids;
}

/**
 * Lambda's SQS event source mapping, in process: long-polls the queue, invokes the handler with
 * real SQS event records (at most `maxConcurrency` invocations at a time), deletes what succeeded
 * and leaves what failed to come back after its visibility timeout (or whatever timeout the
 * handler set meanwhile), which is where the queue's receive count and redrive policy take over.
 */
export class LocalEventSource {
  readonly name: string;
  readonly #options: LocalEventSourceOptions;
  readonly #batchSize: number;
  readonly #region: string;

  constructor(options: LocalEventSourceOptions) {
    const batchSize = options.batchSize ?? 10;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw new RangeError('batchSize must be a whole number from 1 to 10000');
    }
    const concurrency = options.maxConcurrency ?? 2;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('maxConcurrency must be at least 1');
    this.#options = options;
    this.#batchSize = batchSize;
    this.#region = options.region ?? 'ap-south-1';
    this.name = `event-source:${options.queue.name}`;
  }

  /** Polls and invokes until `signal` aborts; invocations under way finish first. */
  async run(signal: AbortSignal): Promise<void> {
    const pollers = Array.from({ length: this.#options.maxConcurrency ?? 2 }, () => this.#poll(signal));
    await Promise.all(pollers);
  }

  async #poll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const messages = await this.#gather(signal);
      if (messages.length > 0) await this.#invoke(messages);
    }
  }

  async #gather(signal: AbortSignal): Promise<ReceivedMessage[]> {
    const { queue } = this.#options;
    const windowMs = this.#options.maxBatchingWindowMs ?? 0;
    const messages = await queue.receive({
      maxMessages: Math.min(10, this.#batchSize),
      waitTimeSeconds: 20,
      signal,
    });
    const until = Date.now() + windowMs;
    while (messages.length > 0 && messages.length < this.#batchSize && !signal.aborted) {
      const remaining = until - Date.now();
      const more = await queue.receive({ maxMessages: Math.min(10, this.#batchSize - messages.length) });
      messages.push(...more);
      if (more.length === 0) {
        if (remaining <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, Math.min(remaining, 20)));
      }
    }
    return messages;
  }

  async #invoke(messages: readonly ReceivedMessage[]): Promise<void> {
    const { queue, handler } = this.#options;
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, queue.arn, this.#region)) };
    let response: unknown;
    try {
      response = await handler(
        event,
        localLambdaContext(this.#options.functionName ?? 'order-worker', { region: this.#region }),
      );
    } catch (error) {
      // The whole batch failed: every record comes back after its visibility timeout.
      this.#options.onInvocationError?.(error, event);
      return;
    }
    const failed =
      this.#options.reportBatchItemFailures === false
        ? new Set<string>()
        : failedIds(response, new Set(messages.map((m) => m.messageId)));
    if (failed === 'all') {
      this.#options.onInvocationError?.(
        new InvalidBatchResponseError(
          `The handler's batchItemFailures are invalid (${JSON.stringify(response)}); the batch counts as failed`,
        ),
        event,
      );
      return;
    }
    for (const message of messages) {
      if (!failed.has(message.messageId)) queue.delete(message.receiptHandle);
    }
  }
}

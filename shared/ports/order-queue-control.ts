/** A received message of the orders queue, as the worker names it when it steers the message. */
export interface QueueMessageRef {
  readonly messageId: string;
  /** The handle of this receipt (SQS `receiptHandle`): what visibility changes act on. */
  readonly receiptHandle: string;
  readonly body: string;
  /** The queue it came from (SQS `eventSourceARN`). */
  readonly eventSourceArn: string;
  /** When the producer sent it (SQS `SentTimestamp`, epoch ms): a task's `submitted_at` when the body has none. */
  readonly sentTimestampMs?: number;
}

/** Why a message was dead-lettered: an order error type (`validation`, `input`, `timeout`, …) and the message. */
export interface DeadLetterReason {
  readonly type: string;
  readonly message: string;
}

/**
 * What the order worker does to a message besides succeeding or failing it: the part of SQS
 * (ChangeMessageVisibility, sending to the dead-letter queue) that the event source mapping does
 * not do for it. The SQS adapter calls SQS; the local platform's queue does the same in-process.
 *
 * Guarantees: `delay` makes the message invisible for `seconds` from now (the worker then reports
 * the record failed, so it comes back after the delay — the retry backoff); `deadLetter` has put the
 * message body on the dead-letter queue, with the reason as attributes, when it resolves (the worker
 * then reports the record processed, so it leaves the main queue). Both reject when the queue cannot
 * be reached; the worker then fails the record and the queue delivers it again.
 */
export interface OrderQueueControl {
  delay(message: QueueMessageRef, seconds: number): Promise<void>;
  /**
   * Puts a fresh copy of the message body on the queue it came from, delivered after `seconds`
   * (at most 900, SQS's longest delay); the worker then reports the original processed, so it
   * leaves the queue. For waits that are not attempts (an open breaker, another worker holding the
   * task): the copy's receive count starts again, so such waits never use up the queue's redrive
   * limit, which is kept for deliveries that ended without an answer. A copy that ends up beside
   * the original (the worker stopped in between) is harmless: placement is idempotent.
   */
  requeue(message: QueueMessageRef, seconds: number): Promise<void>;
  deadLetter(message: QueueMessageRef, reason: DeadLetterReason): Promise<void>;
}

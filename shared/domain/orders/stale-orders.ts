import type { OrderTaskStatus } from '../../contracts/order.js';
import { type RetryPolicy, visibilitySeconds } from './retry-policy.js';

/** The statuses of a task whose message should still be on the queue: the ones a lost message strands. */
export const UNFINISHED_STATUSES: readonly OrderTaskStatus[] = ['PENDING', 'RUNNING', 'RETRYING'];

/** SQS's longest `DelaySeconds`: the worker's delayed copies are capped at it. */
const SQS_MAX_DELAY_SECONDS = 900;

/**
 * How long an unfinished order's record can go unchanged while its message is still alive: the
 * queue's visibility timeout (a worker holding the message, or one that died holding it) plus the
 * longest a message can wait hidden without the record changing — the retry backoff (the message's
 * visibility is set to it), the breaker's recovery (a delayed copy while the circuit is open) or the
 * busy wait (a delayed copy while another worker has the key), each as the worker rounds it. The
 * worker writes the record before every such wait, so a record older than this has lost its
 * message, or sits behind a backlog longer than this (a requeue is then a harmless duplicate).
 */
export function staleAfterSeconds(input: {
  readonly visibilityTimeoutSeconds: number;
  readonly retry: Pick<RetryPolicy, 'retryBaseSeconds' | 'retryMaxSeconds'>;
  readonly breakerRecoveryTimeoutSeconds: number;
}): number {
  const { retry } = input;
  const longestDelay = Math.max(
    visibilitySeconds(retry.retryMaxSeconds),
    Math.min(SQS_MAX_DELAY_SECONDS, visibilitySeconds(input.breakerRecoveryTimeoutSeconds, 1)),
    Math.min(SQS_MAX_DELAY_SECONDS, visibilitySeconds(retry.retryBaseSeconds, 1)),
  );
  return input.visibilityTimeoutSeconds + longestDelay;
}

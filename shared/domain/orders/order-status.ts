import type { OrderTaskStatus } from '../../contracts/order.js';
import type { OrderRecord } from '../../ports/orders.js';

/**
 * Which status may follow which (docs/test-plan-index.md, translated to a queue with several workers):
 *
 * - PENDING → RUNNING: a worker takes the task and calls the broker.
 * - RUNNING → COMPLETED | RETRYING | DEAD_LETTER: the call succeeded, failed in a way a retry can
 *   fix, or failed for good (or used the last attempt).
 * - RUNNING → RUNNING: the message came back after a worker died mid-call; the next worker resumes.
 * - PENDING | RETRYING → RETRYING: the account's circuit breaker is open, so the task waits
 *   without calling the broker (not an attempt).
 * - RETRYING → RUNNING: the retry is taken.
 * - PENDING | RETRYING → DEAD_LETTER: dead-lettered without a call (an operator, a poison message).
 * - DEAD_LETTER → PENDING: an operator redrives the task.
 *
 * COMPLETED is final: nothing can dead-letter or re-run a placed order.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderTaskStatus, readonly OrderTaskStatus[]>> = {
  PENDING: ['RUNNING', 'RETRYING', 'DEAD_LETTER'],
  RUNNING: ['COMPLETED', 'RETRYING', 'DEAD_LETTER', 'RUNNING'],
  RETRYING: ['RUNNING', 'RETRYING', 'DEAD_LETTER'],
  COMPLETED: [],
  DEAD_LETTER: ['PENDING'],
};

/** The statuses `to` may be reached from. */
export function statusesBefore(to: OrderTaskStatus): OrderTaskStatus[] {
  return (Object.keys(ORDER_TRANSITIONS) as OrderTaskStatus[]).filter((from) => ORDER_TRANSITIONS[from].includes(to));
}

/** Whether a task in `from` may move to `to`. */
export function canTransition(from: OrderTaskStatus, to: OrderTaskStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** Whether nothing more will happen to a task without an operator. */
export function isFinished(status: OrderTaskStatus): boolean {
  return status === 'COMPLETED' || status === 'DEAD_LETTER';
}

/** Broker calls made since the task was created or last redriven: what `maxAttempts` limits. */
export function attemptsThisRound(record: OrderRecord): number {
  const since = record.redrivenAt;
  return since === undefined ? record.attempts.length : record.attempts.filter((a) => a.at >= since).length;
}

/**
 * The type of a record's last error: the worker writes `lastError` as `[type] message`, so the
 * dead letters can be listed by type (`GET /orders/dead-letter?error_type=`).
 */
export function errorTypeOf(lastError: string | undefined): string | undefined {
  return lastError === undefined ? undefined : /^\[([^\]]+)\]/.exec(lastError)?.[1];
}

/** `message` tagged with its error type, as `lastError` is written. */
export function tagError(type: string, message: string): string {
  return `[${type}] ${message}`;
}

/** The error type a dead letter is listed under (what `listDeadLetters({ errorType })` matches). */
export function deadLetterErrorType(record: Pick<OrderRecord, 'lastError'>): string | undefined {
  return errorTypeOf(record.lastError);
}

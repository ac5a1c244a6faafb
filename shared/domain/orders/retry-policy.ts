/** How the worker spaces its retries (config `orders.*`). */
export interface RetryPolicy {
  /** Calls to the broker per task, the first included (the plan's `max_attempts`, default 3). */
  readonly maxAttempts: number;
  /** The delay after the first failed call, in seconds (default 1). */
  readonly retryBaseSeconds: number;
  /** No delay is longer than this, in seconds (default 30). */
  readonly retryMaxSeconds: number;
}

/** SQS refuses a visibility timeout above 12 hours. */
const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/**
 * The delay before retrying after failed call number `failedAttempt` (1-based): base × 2^(n−1),
 * capped at the maximum — 1, 2, 4, 8, 16, 30, 30 … seconds by default (TC-ORD-020). No jitter:
 * each message carries its own delay as its visibility timeout, and tasks failing together were
 * received at different times, so their retries already spread out.
 */
export function backoffSeconds(
  failedAttempt: number,
  policy: Pick<RetryPolicy, 'retryBaseSeconds' | 'retryMaxSeconds'>,
): number {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) {
    throw new RangeError(`failedAttempt must be a whole number from 1, got ${failedAttempt}`);
  }
  // Past 2^30 the cap has long applied; stop the power from overflowing to Infinity × 0.
  const factor = 2 ** Math.min(failedAttempt - 1, 30);
  return Math.min(policy.retryMaxSeconds, policy.retryBaseSeconds * factor);
}

/**
 * `seconds` as an SQS visibility timeout: whole seconds, rounded up so a delay is never shortened,
 * at least `minimum` and at most SQS's 12 hours.
 */
export function visibilitySeconds(seconds: number, minimum = 0): number {
  return Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.max(minimum, Math.ceil(seconds)));
}

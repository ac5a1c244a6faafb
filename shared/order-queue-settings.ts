/**
 * The cloud's orders queue and worker timings, in one place: the CDK orders stack builds the queue
 * and the worker from them, and the order sweeper derives how long to wait before it calls an
 * order's message lost, so the two cannot drift.
 */

/** How long one worker invocation may run: a batch of orders, each a few Kite calls with retries. */
export const ORDER_WORKER_TIMEOUT_SECONDS = 30;

/**
 * The orders queue's visibility timeout. Lambda's guidance for SQS sources: at least six times the
 * function timeout, so a message is not redelivered while an invocation that holds it is still
 * running (or being retried by Lambda).
 */
export const ORDER_VISIBILITY_TIMEOUT_SECONDS = ORDER_WORKER_TIMEOUT_SECONDS * 6;

/** How often the cloud's sweeper runs (its EventBridge rule), and the local one unless configured. */
export const ORDER_SWEEP_INTERVAL_SECONDS = 60;

import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { type OrderMessageOutcome, orderWorkerHandler } from '../../functions/order-worker.js';
import { ensureTables, localDynamoDbClient, startLocalDynamoDb } from '../../infra/local/dynamodb-local.js';
import { DynamoDbBreakerStore } from '../../shared/adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbOrderStore } from '../../shared/adapters/dynamodb/dynamodb-order-store.js';
import { LocalEventSource } from '../../shared/adapters/local-sqs/local-event-source.js';
import { createLocalOrderQueues, LocalOrderQueueControl } from '../../shared/adapters/local-sqs/local-order-queue.js';
import { PaperBroker } from '../../shared/adapters/paper-broker.js';
import { taskIdOfBody } from '../../shared/adapters/sqs/order-message.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import type { OrderTask } from '../../shared/contracts/order.js';
import {
  type BreakerPolicy,
  type BreakerTransition,
  CircuitBreaker,
} from '../../shared/domain/orders/circuit-breaker.js';
import { errorTypeOf } from '../../shared/domain/orders/order-status.js';
import type { RetryPolicy } from '../../shared/domain/orders/retry-policy.js';
import { createLogger } from '../../shared/logging.js';
import { BrokerErrorKind } from '../../shared/ports/broker.js';
import { BreakerState } from '../../shared/ports/circuit-breaker-store.js';
import type { OrderRecord } from '../../shared/ports/orders.js';
import { physicalTableName, Tables } from '../../shared/tables.js';
import { LOCAL_ORDER_MAX_RECEIVE_COUNT } from '../../shared/wiring.js';
import { FaultInjectingBroker } from '../../test/support/fault-injecting-broker.js';
import { seededRandom } from '../../test/support/random.js';
import { createLatencyHistogram, type Scenario, type ScenarioResult, type Target } from '../scenario.js';
import { wallNowMs } from '../support/wall-clock.js';

/** How one run is shaped; the full run and `--quick` differ only in sizes. */
interface OrdersRunSettings {
  readonly orders: number;
  /** Orders sent per second by the producer (paced from a schedule, open loop). */
  readonly ratePerS: number;
  readonly outageSeconds: number;
  /** Share of broker calls failing with a retryable error (network, timeout, 429, 5xx). */
  readonly transientShare: number;
  /** Share of tasks sent to the queue twice (the same body, a second SendMessage). */
  readonly duplicateShare: number;
  /** The duplicate goes out up to this long after the first send: some race the first, some come after it. */
  readonly duplicateDelayMaxMs: number;
  readonly retry: RetryPolicy;
  readonly breaker: BreakerPolicy;
  /** The orders queue's redrive policy (receives before SQS moves a message to the dead-letter queue). */
  readonly maxReceiveCount: number;
  /** How long to wait for the queue to drain after the last send before counting what is left as lost. */
  readonly settleTimeoutSeconds: number;
}

/** The platform's worker settings (infra/local/platform.ts): batches of 10, 5 invocations at a time. */
const BATCH_SIZE = 10;
const CONCURRENCY = 5;
const ACCOUNT = 'BENCH01';
const TRANSIENT_KINDS = [
  BrokerErrorKind.network,
  BrokerErrorKind.timeout,
  BrokerErrorKind.rateLimited,
  BrokerErrorKind.server,
] as const;

function settingsFor(quick: boolean): OrdersRunSettings {
  return {
    orders: quick ? 1000 : 10_000,
    ratePerS: 30,
    outageSeconds: quick ? 4 : 10,
    transientShare: 0.2,
    duplicateShare: 0.05,
    duplicateDelayMaxMs: 3000,
    // 0.2^4: about one task in 625 exhausts four attempts on transient failures alone. Four, not
    // more: every attempt is a receive, and the queue's redrive policy (the platform's five
    // receives) must leave the worker a receive to dead-letter the task itself, with its reason.
    retry: { maxAttempts: 4, retryBaseSeconds: 1, retryMaxSeconds: 4 },
    // The plan's threshold and half-open slots; a 10 s recovery instead of 60 s so the run fits in
    // minutes, yet as long as the outage, so a held task spends one or two receives on the breaker.
    breaker: { failureThreshold: 5, recoveryTimeoutSeconds: 10, halfOpenMaxCalls: 3 },
    maxReceiveCount: LOCAL_ORDER_MAX_RECEIVE_COUNT,
    settleTimeoutSeconds: quick ? 120 : 300,
  };
}

function placeTask(runId: string, i: number): OrderTask {
  return {
    task_id: `bench-${runId}-${i}`,
    idempotency_key: `key-${runId}-${i}`,
    account_id: ACCOUNT,
    operation: 'place_order',
    params: {
      variety: 'regular',
      exchange: 'NFO',
      tradingsymbol: 'NIFTY26JAN24000CE',
      transaction_type: i % 2 === 0 ? 'BUY' : 'SELL',
      quantity: 65,
      product: 'NRML',
      order_type: 'MARKET',
      validity: 'DAY',
    },
    submitted_at: new Date().toISOString(),
  };
}

/** `items` mapped by `fn` with at most `width` calls in flight. */
async function mapLimited<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

/** Counts of `values`, as `a×3 b×1`, most frequent first. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([v, n]) => `${v}×${n}`)
      .join(' ') || 'none'
  );
}

/**
 * Runs the order pipeline as the local platform runs it and checks its promises: orders go through
 * the local SQS queue (redrive to the dead-letter queue at `maxReceiveCount`) and the real worker
 * handler (Powertools batch + idempotency) invoked by the local event source with SQS events; the
 * order store, breaker store and idempotency table are DynamoDB tables on dynalite in this process;
 * the broker is the paper broker behind a fault injector. Everything runs on the system clock.
 */
async function runPipeline(settings: OrdersRunSettings): Promise<ScenarioResult> {
  const dynamodb = await startLocalDynamoDb();
  const client = localDynamoDbClient(dynamodb.endpoint);
  const tablePrefix = 'bench-orders';
  const runId = Date.now().toString(36);
  try {
    await ensureTables(client, tablePrefix);
    const clock = new SystemClock();
    const orders = new DynamoDbOrderStore({ client, tablePrefix });
    const breakers = new DynamoDbBreakerStore({ client, tablePrefix });
    const transitions: BreakerTransition[] = [];
    const breaker = new CircuitBreaker({
      store: breakers,
      clock,
      policy: settings.breaker,
      onTransition: (t) => transitions.push(t),
    });
    const random = seededRandom(20_250_108);
    const broker = new FaultInjectingBroker(
      new PaperBroker({ lastPrice: async () => 101.5, now: () => clock.now() }),
      () => clock.now(),
    );
    broker.failRandomly(settings.transientShare, TRANSIENT_KINDS, random);
    const queues = createLocalOrderQueues({ clock, maxReceiveCount: settings.maxReceiveCount });

    const histogramUs = createLatencyHistogram();
    const sentAt = new Map<string, number>();
    const completed = new Set<string>();
    const outcomeKinds: OrderMessageOutcome['kind'][] = [];
    let lastFinishedAt = 0;
    let invocationErrors = 0;
    const handler = orderWorkerHandler(
      {
        orders,
        breaker,
        brokerFor: () => broker,
        queue: new LocalOrderQueueControl(queues),
        idempotencyStore: new DynamoDBPersistenceLayer({
          tableName: physicalTableName(tablePrefix, Tables.idempotency),
          awsSdkV3Client: client,
        }),
        clock,
        retry: settings.retry,
        logger: createLogger('order-worker-bench', { logLevel: 'SILENT', environment: 'test' }),
      },
      {
        onOutcome: (_record, outcome) => {
          outcomeKinds.push(outcome.kind);
          if (outcome.kind === 'dead-lettered') lastFinishedAt = wallNowMs();
          if (outcome.kind !== 'completed' || outcome.record === undefined) return;
          const taskId = outcome.record.task.task_id;
          const sent = sentAt.get(taskId);
          if (sent === undefined || completed.has(taskId)) return;
          completed.add(taskId);
          const now = wallNowMs();
          lastFinishedAt = now;
          histogramUs.recordValue(Math.max(1, Math.round((now - sent) * 1000)));
        },
      },
    );
    const source = new LocalEventSource({
      queue: queues.main,
      handler,
      batchSize: BATCH_SIZE,
      maxConcurrency: CONCURRENCY,
      onInvocationError: () => invocationErrors++,
    });
    const stop = new AbortController();
    const polling = source.run(stop.signal);

    // The producer: one SendMessage per task on a fixed schedule, and a second SendMessage of the
    // same body for a share of them, a little later.
    const tasks = Array.from({ length: settings.orders }, (_, i) => placeTask(runId, i));
    const sendSeconds = settings.orders / settings.ratePerS;
    const started = wallNowMs();
    const outageFrom = Date.now() + (sendSeconds / 2) * 1000;
    const outageTo = outageFrom + settings.outageSeconds * 1000;
    broker.outage(outageFrom, outageTo, BrokerErrorKind.network);
    const duplicateSends: Promise<void>[] = [];
    let duplicatesSent = 0;
    for (let i = 0; i < tasks.length; i++) {
      const due = started + (i / settings.ratePerS) * 1000;
      const wait = due - wallNowMs();
      if (wait > 1) await sleep(wait);
      const task = tasks[i] as OrderTask;
      const body = JSON.stringify(task);
      sentAt.set(task.task_id, wallNowMs());
      queues.main.send(body);
      if (random() < settings.duplicateShare) {
        duplicatesSent++;
        duplicateSends.push(sleep(random() * settings.duplicateDelayMaxMs).then(() => void queues.main.send(body)));
      }
    }
    await Promise.all(duplicateSends);

    // Wait until nothing is left on the orders queue (visible, in flight or delayed).
    const settleBy = Date.now() + settings.settleTimeoutSeconds * 1000;
    for (;;) {
      const c = queues.main.counts();
      if (c.visible + c.inFlight + c.delayed === 0 || Date.now() > settleBy) break;
      await sleep(50);
    }
    const left = queues.main.counts();
    stop.abort();
    await polling;
    const elapsedS = ((lastFinishedAt || wallNowMs()) - started) / 1000;

    // Every task's record, as the order store has it.
    const records = await mapLimited(tasks, 16, (t) => orders.get(t.task_id));
    const deadLetterIds = new Set(
      queues.deadLetter
        .peek()
        .map((m) => taskIdOfBody(m.body))
        .filter((id) => id !== undefined),
    );
    const lostWhy: string[] = [];
    const deadReasons: string[] = [];
    let completedCount = 0;
    let deadCount = 0;
    let attempts = 0;
    let unplacedCompleted = 0;
    const placements = broker.placements();
    records.forEach((record: OrderRecord | undefined, i) => {
      const task = tasks[i] as OrderTask;
      if (record === undefined) {
        lostWhy.push(deadLetterIds.has(task.task_id) ? 'no-record,on-dlq' : 'no-record');
        return;
      }
      attempts += record.attempts.length;
      if (record.status === 'COMPLETED') {
        completedCount++;
        if ((placements.get(task.idempotency_key) ?? 0) === 0) unplacedCompleted++;
        return;
      }
      if (record.status === 'DEAD_LETTER' && record.lastError !== undefined) {
        deadCount++;
        deadReasons.push(`${errorTypeOf(record.lastError) ?? 'untagged'}@${record.attempts.length}-attempts`);
        if (!deadLetterIds.has(task.task_id)) lostWhy.push('DEAD_LETTER-not-on-dlq');
        return;
      }
      // Not finished: where did the message go? A message the queue's redrive policy moved to the
      // dead-letter queue leaves the record as the worker last wrote it.
      // The attempts say how many of its receives went to broker calls, the rest being breaker holds
      // and busy redeliveries.
      const where = deadLetterIds.has(task.task_id) ? ',redriven-by-queue-policy' : '';
      lostWhy.push(`${record.status}@${record.attempts.length}-attempts${where}`);
    });
    const lost = lostWhy.filter((w) => w !== 'DEAD_LETTER-not-on-dlq').length;
    const duplicates = [...placements.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);

    const opens = transitions.filter((t) => t.to === BreakerState.open);
    const closes = transitions.filter((t) => t.to === BreakerState.closed);
    const opensInOutage = opens.filter((t) => t.atMs >= outageFrom && t.atMs < outageTo).length;
    const closesAfterOutage = closes.filter((t) => t.atMs >= outageTo).length;
    const finalBreaker = await breakers.get(`orders#${ACCOUNT}`);
    const calls = broker.calls;
    const failures: string[] = [];
    if (duplicates > 0) failures.push(`${duplicates} duplicate placements`);
    if (lost > 0) failures.push(`${lost} tasks lost`);
    if (unplacedCompleted > 0) failures.push(`${unplacedCompleted} COMPLETED without a placement`);
    if (opensInOutage === 0) failures.push('breaker did not open during the outage');
    if (closesAfterOutage === 0) failures.push('breaker did not close after the outage');
    if (finalBreaker.state !== BreakerState.closed) failures.push(`breaker ends ${finalBreaker.state}`);

    const finished = completedCount + deadCount;
    return {
      variant: 'pipeline',
      histogramUs,
      throughputPerS: finished / elapsedS,
      drops: lost,
      params: {
        orders: settings.orders,
        rate_per_s: settings.ratePerS,
        batch_size: BATCH_SIZE,
        concurrency: CONCURRENCY,
        transient_share: settings.transientShare,
        duplicate_share: settings.duplicateShare,
        outage_s: settings.outageSeconds,
        outage_at_s: sendSeconds / 2,
        max_attempts: settings.retry.maxAttempts,
        retry_base_s: settings.retry.retryBaseSeconds,
        retry_max_s: settings.retry.retryMaxSeconds,
        breaker_threshold: settings.breaker.failureThreshold,
        breaker_recovery_s: settings.breaker.recoveryTimeoutSeconds,
        breaker_half_open_calls: settings.breaker.halfOpenMaxCalls,
        max_receive_count: settings.maxReceiveCount,
        clock: 'system',
        store: 'dynalite on a worker thread',
        latency: 'first SendMessage to COMPLETED',
      },
      extra: {
        checks: failures.length === 0 ? 'pass' : `FAIL: ${failures.join('; ')}`,
        duplicates,
        lost,
        completed_without_placement: unplacedCompleted,
        lost_why: tally(lostWhy),
        completed: completedCount,
        dead_lettered: deadCount,
        dead_letter_reasons: tally(deadReasons),
        dlq_messages: queues.deadLetter.counts().visible,
        duplicate_sends: duplicatesSent,
        attempts,
        broker_calls: calls.length,
        broker_failures: tally(calls.filter((c) => c.outcome !== 'ok').map((c) => c.outcome)),
        outcomes: tally(outcomeKinds),
        breaker_opens: opens.length,
        breaker_closes: closes.length,
        breaker_opens_in_outage: opensInOutage,
        breaker_closes_after_outage: closesAfterOutage,
        breaker_final: finalBreaker.state,
        invocation_errors: invocationErrors,
        left_on_queue: left.visible + left.inFlight + left.delayed,
        elapsed_s: Math.round(elapsedS * 10) / 10,
      },
    };
  } finally {
    client.destroy();
    await dynamodb.stop();
  }
}

/**
 * The order pipeline's promises under faults: no task lost or placed twice, nothing reported done
 * that was not placed, the breaker opening in the outage and closing after it; and the median task
 * done within TC-ORD-001's 5 s despite retries and the outage (a worker falling behind shows here).
 */
const targets: readonly Target[] = [
  {
    variant: 'pipeline',
    figure: 'drops',
    op: '=',
    value: 0,
    source: 'TC-ORD-002, TC-ORD-030 (every task completes or is dead-lettered)',
  },
  { variant: 'pipeline', figure: 'duplicates', op: '=', value: 0, source: 'TC-ORD-004' },
  { variant: 'pipeline', figure: 'completed_without_placement', op: '=', value: 0, source: 'TC-ORD-001' },
  { variant: 'pipeline', figure: 'breaker_opens_in_outage', op: '>=', value: 1, source: 'TC-ORD-011' },
  { variant: 'pipeline', figure: 'breaker_closes_after_outage', op: '>=', value: 1, source: 'TC-ORD-014' },
  { variant: 'pipeline', figure: 'p50_ms', op: '<', value: 5000, source: 'TC-ORD-001 (completes within 5 s)' },
];

const scenario: Scenario = {
  name: 'orders',
  targets,
  summary:
    'Order pipeline: orders through the local SQS queue and the real worker (batch 10, 5 at a time) on dynalite, with 20 % transient broker failures, 5 % duplicate deliveries and a broker outage mid-run',
  async run({ quick }) {
    return [await runPipeline(settingsFor(quick))];
  },
};

export default scenario;

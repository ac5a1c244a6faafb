import { randomUUID } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { type OrderMessageOutcome, orderWorkerHandler } from '../../functions/order-worker.js';
import { checkTask, exchangeIssues } from '../../functions/orders/exchange-check.js';
import { ensureTables } from '../../infra/local/dynamodb-local.js';
import { DynamoDbBreakerStore } from '../../shared/adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbOrderStore } from '../../shared/adapters/dynamodb/dynamodb-order-store.js';
import { toSqsRecord } from '../../shared/adapters/local-sqs/local-event-source.js';
import {
  createLocalOrderQueues,
  LocalOrderQueueControl,
  type LocalOrderQueues,
} from '../../shared/adapters/local-sqs/local-order-queue.js';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { PaperBroker } from '../../shared/adapters/paper-broker.js';
import { loadConfig } from '../../shared/config.js';
import type { OrderTask, OrderTaskStatus } from '../../shared/contracts/order.js';
import type { BrokerOrderState } from '../../shared/domain/orders/broker-order.js';
import {
  type BreakerPolicy,
  type BreakerTransition,
  CircuitBreaker,
  DEFAULT_BREAKER_POLICY,
} from '../../shared/domain/orders/circuit-breaker.js';
import type { RetryPolicy } from '../../shared/domain/orders/retry-policy.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import type { Broker } from '../../shared/ports/broker.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { OrderAttempt, OrderRecord, OrderStore } from '../../shared/ports/orders.js';
import { physicalTableName, Tables } from '../../shared/tables.js';
import { FaultInjectingBroker } from './fault-injecting-broker.js';

/** An {@link OrderStore} that passes everything to a real store and remembers each successful transition. */
export class TransitionRecordingStore implements OrderStore {
  readonly transitions: { taskId: string; to: OrderTaskStatus; at: number }[] = [];
  /**
   * Makes a transition throw as a worker's crash would end it: `before` the write (nothing stored)
   * or `after` it (stored, the worker never learns). Asked of every transition; undefined: no crash.
   */
  crashOn?: (
    taskId: string,
    to: OrderTaskStatus,
    changes: { result?: OrderRecord['result'] },
  ) => 'before' | 'after' | undefined;
  constructor(readonly inner: OrderStore) {}
  create(task: OrderTask, nowMs: number, options?: { readonly rawBody?: string }): Promise<OrderRecord> {
    return this.inner.create(task, nowMs, options);
  }
  get(taskId: string): Promise<OrderRecord | undefined> {
    return this.inner.get(taskId);
  }
  async transition(
    taskId: string,
    to: OrderTaskStatus,
    changes: { attempt?: OrderAttempt; result?: OrderRecord['result']; lastError?: string },
    nowMs: number,
  ): Promise<OrderRecord | undefined> {
    const crash = this.crashOn?.(taskId, to, changes);
    if (crash === 'before') throw new Error(`Injected crash before ${taskId} → ${to}`);
    const record = await this.inner.transition(taskId, to, changes, nowMs);
    if (record) this.transitions.push({ taskId, to, at: nowMs });
    if (crash === 'after') throw new Error(`Injected crash after ${taskId} → ${to}`);
    return record;
  }
  listDeadLetters(query: { errorType?: string; owner?: string; limit: number; cursor?: string }) {
    return this.inner.listDeadLetters(query);
  }
  applyBrokerUpdate(taskId: string, update: BrokerOrderState, nowMs: number) {
    return this.inner.applyBrokerUpdate(taskId, update, nowMs);
  }
  linkBrokerOrder(orderId: string, taskId: string) {
    return this.inner.linkBrokerOrder(orderId, taskId);
  }
  holdBrokerUpdate(update: BrokerOrderState) {
    return this.inner.holdBrokerUpdate(update);
  }
  taskOfBrokerOrder(orderId: string) {
    return this.inner.taskOfBrokerOrder(orderId);
  }
  listOpenOrders(query: { limit: number; cursor?: string }) {
    return this.inner.listOpenOrders(query);
  }
  listStale(query: { statuses: readonly OrderTaskStatus[]; updatedBefore: number; limit: number }) {
    return this.inner.listStale(query);
  }
  touch(taskId: string, seen: { status: OrderTaskStatus; updatedAt: number }, nowMs: number) {
    return this.inner.touch(taskId, seen, nowMs);
  }
  /** The statuses `taskId` moved through, in order. */
  path(taskId: string): OrderTaskStatus[] {
    return this.transitions.filter((t) => t.taskId === taskId).map((t) => t.to);
  }
}

/** A Lambda context as the runtime hands it to the worker: 30 s left on every invocation. */
export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'order-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:ap-south-1:000000000000:function:order-worker',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/order-worker',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export const HARNESS_START_MS = Date.UTC(2025, 0, 8, 3, 45, 0);

/**
 * The order worker as it runs on the local platform, for the TC-ORD tests: the exported handler
 * factory over the DynamoDB order, breaker and idempotency tables (dynalite, fresh tables), the
 * local SQS queue with its dead-letter queue, a fault-injecting broker over the paper broker, and
 * a manual clock for time.
 */
export async function startOrderWorker<C extends Clock = ManualClock>(
  client: DynamoDBClient,
  options: {
    policy?: Partial<BreakerPolicy>;
    retry?: Partial<RetryPolicy>;
    lastPrice?: number;
    /** Where the worker logs (default: silent); a test asserting log lines passes a captured one. */
    logger?: Logger;
    /** `ORDERS_DEFAULT_OWNER`. */
    defaultOwner?: string;
    /** The broker the fault injection wraps (default: the paper broker at `lastPrice`), e.g. a Kite broker on the fake Kite. */
    broker?: Broker;
    /** The instrument master the exchange's rules and slicing read (default: none, no exchange check). */
    instruments?: readonly Instrument[];
    /**
     * The worker's clock (default a {@link ManualClock} at {@link HARNESS_START_MS}). A broker with a
     * clock of its own (a Kite client on the system clock) needs the same one: the worker hands it
     * deadlines in epoch ms, and on another clock any wait for rate budget misses them.
     */
    clock?: C;
  } = {},
) {
  const tablePrefix = `ow-${randomUUID().slice(0, 8)}`;
  await ensureTables(client, tablePrefix);
  const clock = options.clock ?? new ManualClock(HARNESS_START_MS);
  const manual = () => {
    if (!(clock instanceof ManualClock)) throw new Error('drain moves the clock: start the worker on a ManualClock');
    return clock;
  };
  const orders = new TransitionRecordingStore(new DynamoDbOrderStore({ client, tablePrefix }));
  const breakers = new DynamoDbBreakerStore({ client, tablePrefix });
  const breakerTransitions: BreakerTransition[] = [];
  const policy = { ...DEFAULT_BREAKER_POLICY, ...options.policy };
  const breaker = new CircuitBreaker({
    store: breakers,
    clock,
    policy,
    closedReadTtlMs: loadConfig({}).circuitBreaker.closedReadTtlMs,
    onTransition: (t) => breakerTransitions.push(t),
  });
  const broker = new FaultInjectingBroker(
    options.broker ?? new PaperBroker({ lastPrice: async () => options.lastPrice ?? 101.5, now: () => clock.now() }),
    () => clock.now(),
  );
  const queues: LocalOrderQueues = createLocalOrderQueues({ clock, maxReceiveCount: 100 });
  const outcomes: { taskId: string | undefined; outcome: OrderMessageOutcome; at: number }[] = [];
  const retry: RetryPolicy = { maxAttempts: 3, retryBaseSeconds: 1, retryMaxSeconds: 30, ...options.retry };
  const instruments = options.instruments;
  const exchange =
    instruments === undefined
      ? undefined
      : { instruments: async () => instruments, referencePrice: async () => undefined };
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
      retry,
      logger: options.logger ?? createLogger('order-worker-test', { logLevel: 'SILENT', environment: 'test' }),
      ...(options.defaultOwner !== undefined && { defaultOwner: options.defaultOwner }),
      ...(exchange !== undefined && {
        validate: (task: OrderTask) => exchangeIssues(exchange, task),
        slicePlan: async (task: OrderTask) => (await checkTask(exchange, task)).slices,
      }),
    },
    {
      onOutcome: (_record, outcome) =>
        outcomes.push({
          taskId: 'taskId' in outcome ? outcome.taskId : outcome.record?.task.task_id,
          outcome,
          at: clock.now(),
        }),
    },
  );

  /** One receive of up to `max` visible messages, one handler invocation, and the deletes SQS would do. */
  const deliver = async (max = 10): Promise<{ received: number; response: SQSBatchResponse | undefined }> => {
    const messages = await queues.main.receive({ maxMessages: max });
    if (messages.length === 0) return { received: 0, response: undefined };
    const event = { Records: messages.map((m) => toSqsRecord(m, queues.main.arn, 'ap-south-1')) };
    const response = await handler(event, lambdaContext());
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of messages) if (!failed.has(m.messageId)) queues.main.delete(m.receiptHandle);
    return { received: messages.length, response };
  };

  /** Delivers until the orders queue is empty, moving the clock a second at a time while nothing is visible. */
  const drain = async (maxSeconds = 600): Promise<void> => {
    const until = clock.now() + maxSeconds * 1000;
    while (clock.now() <= until) {
      const { received } = await deliver();
      if (received > 0) continue;
      const counts = queues.main.counts();
      if (counts.visible + counts.inFlight + counts.delayed === 0) return;
      manual().advance(1000);
    }
    throw new Error(`The orders queue did not drain within ${maxSeconds} s of test time`);
  };

  return {
    /** The worker's clock: the caller's, else a ManualClock (what `C` defaults to). */
    clock: clock as C,
    orders,
    breakers,
    breaker,
    breakerTransitions,
    broker,
    queues,
    outcomes,
    handler,
    send: (task: OrderTask | string) => queues.main.send(typeof task === 'string' ? task : JSON.stringify(task)),
    deliver,
    drain,
    /** Everything on the dead-letter queue now (received and left in flight). */
    deadLetters: async () => queues.deadLetter.receive({ maxMessages: 10 }),
  };
}

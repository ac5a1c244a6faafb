import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  ORDER_SWEEP_INTERVAL_SECONDS,
  ORDER_VISIBILITY_TIMEOUT_SECONDS,
  ORDER_WORKER_TIMEOUT_SECONDS,
} from '../../shared/order-queue-settings.js';
import type { PlatformFunction } from '../constructs/platform-function.js';
import { orderDeadLetterAccess, orderSweeperAccess, orderWorkerAccess } from '../function-access.js';
import type { FunctionSettings } from '../function-settings.js';
import { createFunction } from '../platform-functions.js';

export interface OrdersStackProps extends StackProps {
  readonly settings: FunctionSettings;
  /** The worker's module (exports `handler`); absent, the queues exist without a consumer. */
  readonly workerEntry: string | undefined;
  /** The sweeper's module (exports `handler`); absent, nothing requeues orders whose message was lost. */
  readonly sweeperEntry?: string | undefined;
  /** The dead-letter consumer's module (exports `handler`); absent, only the worker's own dead letters are recorded. */
  readonly deadLetterConsumerEntry?: string | undefined;
  /** Alarm names start with this, so the observability stack can route them. */
  readonly alarmPrefix: string;
  /** Concurrency reserved for the worker and the sweeper: none unless the stage's settings give some. */
  readonly reservedConcurrency?: { readonly orderWorker?: number; readonly orderSweeper?: number };
}

/** How long one worker invocation may run (shared/order-queue-settings.ts, which the sweeper reads too). */
export const ORDER_WORKER_TIMEOUT = Duration.seconds(ORDER_WORKER_TIMEOUT_SECONDS);
/** Six times the worker's timeout, Lambda's guidance for SQS sources (shared/order-queue-settings.ts). */
export const ORDER_VISIBILITY_TIMEOUT = Duration.seconds(ORDER_VISIBILITY_TIMEOUT_SECONDS);
/** How often the sweeper runs. */
export const ORDER_SWEEP_INTERVAL = Duration.seconds(ORDER_SWEEP_INTERVAL_SECONDS);
/** Receives before SQS moves a message to the dead-letter queue. */
export const ORDER_MAX_RECEIVE_COUNT = 5;
/**
 * Concurrent worker invocations at most (the SQS event source's maximum concurrency, which needs
 * no reserved concurrency): Kite allows 10 orders a second per account.
 */
export const ORDER_WORKER_CONCURRENCY = 5;
/** How long one dead-letter consumer invocation may run: a few store calls per record. */
export const DEAD_LETTER_CONSUMER_TIMEOUT = Duration.seconds(30);
/**
 * The dead-letter queue's visibility timeout: how soon a dead letter the consumer failed to record
 * is tried again. Six times the consumer's timeout, Lambda's guidance for SQS sources.
 */
export const DEAD_LETTER_VISIBILITY_TIMEOUT = Duration.seconds(DEAD_LETTER_CONSUMER_TIMEOUT.toSeconds() * 6);

/**
 * The order pipeline: the queue producers send to, its dead-letter queue (redrive after
 * {@link ORDER_MAX_RECEIVE_COUNT} receives, kept 14 days), the worker reading batches and reporting
 * partial failures (only failed messages return to the queue), and alarms on dead letters (any at
 * all, and the oldest getting old) and on the queue falling behind.
 */
export class OrdersStack extends Stack {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly worker: PlatformFunction | undefined;
  readonly sweeper: PlatformFunction | undefined;
  readonly deadLetterConsumer: PlatformFunction | undefined;
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: DEAD_LETTER_VISIBILITY_TIMEOUT,
    });
    this.queue = new Queue(this, 'Orders', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: ORDER_VISIBILITY_TIMEOUT,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: ORDER_MAX_RECEIVE_COUNT },
    });
    new CfnOutput(this, 'OrdersQueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    if (props.workerEntry !== undefined) {
      const worker = createFunction(this, 'order-worker', props.settings, {
        entry: props.workerEntry,
        serviceName: 'order-worker',
        access: orderWorkerAccess,
        timeout: ORDER_WORKER_TIMEOUT,
        ...(props.reservedConcurrency?.orderWorker !== undefined && {
          reservedConcurrentExecutions: props.reservedConcurrency.orderWorker,
        }),
        errorAlarmThreshold: 1,
        environment: {
          ORDERS_QUEUE_URL: this.queue.queueUrl,
          ORDERS_DLQ_URL: this.deadLetterQueue.queueUrl,
        },
      });
      worker.function.addEventSource(
        new SqsEventSource(this.queue, {
          batchSize: 10,
          maxBatchingWindow: Duration.seconds(1),
          reportBatchItemFailures: true,
          maxConcurrency: ORDER_WORKER_CONCURRENCY,
        }),
      );
      // The worker dead-letters an order it will never place (a rejection that retrying cannot fix).
      this.deadLetterQueue.grantSendMessages(worker.function);
      this.worker = worker;
    }
    this.sweeper =
      props.sweeperEntry === undefined
        ? undefined
        : this.#sweeper(props.settings, props.sweeperEntry, props.reservedConcurrency?.orderSweeper);
    this.deadLetterConsumer =
      props.deadLetterConsumerEntry === undefined
        ? undefined
        : this.#deadLetterConsumer(props.settings, props.deadLetterConsumerEntry);
    // The consumer keeps dead letters hidden between looks, so the visible count alone reads 0.
    const deadLetters = new MathExpression({
      label: 'Dead letters (visible and hidden)',
      expression: 'visible + hidden',
      usingMetrics: {
        visible: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        hidden: this.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({ period: Duration.minutes(1) }),
      },
      period: Duration.minutes(1),
    });
    this.alarms = [
      new Alarm(this, 'DeadLettersAlarm', {
        alarmName: `${props.alarmPrefix}-orders-dead-letters`,
        alarmDescription: 'Orders reached the dead-letter queue: inspect and redrive (docs/deploy.md)',
        metric: deadLetters,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'DeadLetterAgeAlarm', {
        alarmName: `${props.alarmPrefix}-orders-dead-letter-age`,
        alarmDescription: 'A dead letter is older than 3 days: it is lost after 14',
        metric: this.deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
        threshold: Duration.days(3).toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'QueueAgeAlarm', {
        alarmName: `${props.alarmPrefix}-orders-queue-age`,
        alarmDescription: 'The oldest order has waited over 2 minutes: the worker is failing or throttled',
        metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1) }),
        threshold: 120,
        evaluationPeriods: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /**
   * The dead-letter consumer: an SQS event source on the dead-letter queue records what SQS's
   * redrive policy moved there (`max_receives`) and keeps every message in place: it reports each
   * failed and hides it for an hour, the one way an event source leaves a message undeleted, so a
   * redrive can still move it. It reads and writes single order records (no queries, no deletes)
   * and, through the event source, receives, hides and deletes dead letters; it sends nothing.
   */
  #deadLetterConsumer(settings: FunctionSettings, entry: string): PlatformFunction {
    const consumer = createFunction(this, 'order-dead-letters', settings, {
      entry,
      serviceName: 'order-dead-letters',
      access: orderDeadLetterAccess,
      timeout: DEAD_LETTER_CONSUMER_TIMEOUT,
      errorAlarmThreshold: 1,
      environment: { ORDERS_QUEUE_URL: this.queue.queueUrl, ORDERS_DLQ_URL: this.deadLetterQueue.queueUrl },
    });
    consumer.function.addEventSource(
      new SqsEventSource(this.deadLetterQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        // Dead letters are few; two pollers (Lambda's minimum) keep it from crowding the worker.
        maxConcurrency: 2,
      }),
    );
    return consumer;
  }

  /**
   * The sweeper: one invocation a minute (an EventBridge rule) requeues orders whose message was
   * lost. It reads the orders table's status index, touches what it requeues and sends to the
   * orders queue, nothing else. One at a time (a sweep is seconds; overlapping ones would only
   * lose their conditional claims; reserving 1 makes that certain where the account allows it) and
   * no retries of a failed invocation: the next minute's is one.
   */
  #sweeper(settings: FunctionSettings, entry: string, reserved: number | undefined): PlatformFunction {
    const sweeper = createFunction(this, 'order-sweeper', settings, {
      entry,
      serviceName: 'order-sweeper',
      access: orderSweeperAccess,
      timeout: Duration.seconds(ORDER_SWEEP_INTERVAL_SECONDS / 2),
      ...(reserved !== undefined && { reservedConcurrentExecutions: reserved }),
      errorAlarmThreshold: 1,
      environment: { ORDERS_QUEUE_URL: this.queue.queueUrl, ORDERS_DLQ_URL: this.deadLetterQueue.queueUrl },
    });
    this.queue.grantSendMessages(sweeper.function);
    new Rule(this, 'OrderSweepSchedule', {
      description: 'Requeues orders left PENDING, RUNNING or RETRYING whose queue message was lost',
      schedule: Schedule.rate(ORDER_SWEEP_INTERVAL),
      targets: [new LambdaFunction(sweeper.function, { retryAttempts: 0, maxEventAge: ORDER_SWEEP_INTERVAL })],
    });
    return sweeper;
  }
}

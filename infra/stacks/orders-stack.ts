import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PlatformFunction } from '../constructs/platform-function.js';
import { orderWorkerAccess } from '../function-access.js';
import type { FunctionSettings } from '../function-settings.js';
import { createFunction } from '../platform-functions.js';

export interface OrdersStackProps extends StackProps {
  readonly settings: FunctionSettings;
  /** The worker's module (exports `handler`); absent, the queues exist without a consumer. */
  readonly workerEntry: string | undefined;
  /** Alarm names start with this, so the observability stack can route them. */
  readonly alarmPrefix: string;
}

/** How long one worker invocation may run: a batch of orders, each a few Kite calls with retries. */
export const ORDER_WORKER_TIMEOUT = Duration.seconds(30);
/**
 * Lambda's guidance for SQS sources: at least six times the function timeout, so a message is not
 * redelivered while an invocation that holds it is still running (or being retried by Lambda).
 */
export const ORDER_VISIBILITY_TIMEOUT = Duration.seconds(ORDER_WORKER_TIMEOUT.toSeconds() * 6);
/** Receives before SQS moves a message to the dead-letter queue. */
export const ORDER_MAX_RECEIVE_COUNT = 5;
/** Concurrent worker invocations at most: Kite allows 10 orders a second per account. */
export const ORDER_WORKER_CONCURRENCY = 5;

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
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
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
        reservedConcurrentExecutions: ORDER_WORKER_CONCURRENCY,
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
    this.alarms = [
      new Alarm(this, 'DeadLettersAlarm', {
        alarmName: `${props.alarmPrefix}-orders-dead-letters`,
        alarmDescription: 'Orders reached the dead-letter queue: inspect and redrive (docs/deploy.md)',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
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
}

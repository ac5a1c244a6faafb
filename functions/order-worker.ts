import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { referencePriceOf } from '../shared/market-data/reference-price.js';
import { type Components, orderComponents, processComponents } from '../shared/wiring.js';
import { checkTask, exchangeIssues } from './orders/exchange-check.js';
import {
  isRedelivered,
  type OrderMessageOutcome,
  OrderTaskProcessor,
  type OrderWorkerDependencies,
} from './orders/order-task-processor.js';
import { orderChangeNotifier } from './orders/order-updates.js';

export type { OrderMessageOutcome, OrderWorkerDependencies } from './orders/order-task-processor.js';

/** An SQS event source handler, as Lambda (and the local platform's queue) calls it. */
export type OrderWorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The message of a record that must come back later; the batch response lists its id. */
export class OrderRedeliveryRequested extends Error {
  constructor(readonly outcome: OrderMessageOutcome) {
    super(`Order message redelivered later: ${outcome.kind}`);
    this.name = 'OrderRedeliveryRequested';
  }
}

/**
 * The order worker over its dependencies: Powertools batch processing of an SQS event with
 * `reportBatchItemFailures` semantics. The records of one account are processed one after another
 * in the order SQS delivered them (its rate budget and breaker see them in that order), those of
 * different accounts at the same time: a batch of ten accounts' orders takes about as long as one
 * placement, not ten. Each record succeeds (completed, duplicate, dead-lettered, or held back as a delayed
 * copy while the breaker is open or another worker has the task) or is listed in
 * `batchItemFailures` (retry after backoff, dependency down) on its own, so one bad
 * record never fails the batch — not even when every record fails (no full-batch error).
 *
 * `onOutcome` sees what became of each record (for tests and the local platform's dashboard).
 */
export function orderWorkerHandler(
  deps: OrderWorkerDependencies,
  options: { readonly onOutcome?: (record: SQSRecord, outcome: OrderMessageOutcome) => void } = {},
): OrderWorkerHandler {
  const processor = new OrderTaskProcessor(deps);
  const processRecord = async (record: SQSRecord): Promise<void> => {
    const outcome = await processor.process({
      messageId: record.messageId,
      receiptHandle: record.receiptHandle,
      body: record.body,
      eventSourceArn: record.eventSourceARN,
      ...(record.attributes?.SentTimestamp !== undefined && {
        sentTimestampMs: Number(record.attributes.SentTimestamp),
      }),
    });
    options.onOutcome?.(record, outcome);
    if (isRedelivered(outcome)) throw new OrderRedeliveryRequested(outcome);
  };
  return async (event, context) => {
    processor.registerContext(context);
    // The last record of each account in this batch: the next one of that account waits for it.
    const previous = new Map<string, Promise<unknown>>();
    const handleRecord = (record: SQSRecord): Promise<void> => {
      const account = accountOf(record.body);
      const before = previous.get(account) ?? Promise.resolve();
      const handled = before.then(
        () => processRecord(record),
        () => processRecord(record),
      );
      previous.set(account, handled);
      return handled;
    };
    // A processor per invocation: it holds the invocation's successes and failures.
    const batch = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, handleRecord, batch, {
      context,
      throwOnFullBatchFailure: false,
      processInParallel: true,
    });
  };
}

/** The account a message body names, or `''` for one that names none (those then run in order too). */
function accountOf(body: string): string {
  try {
    const json: unknown = JSON.parse(body);
    const account =
      typeof json === 'object' && json !== null ? (json as { account_id?: unknown }).account_id : undefined;
    return typeof account === 'string' ? account : '';
  } catch {
    return '';
  }
}

/** The worker's dependencies from the composition root's components (the Lambda's and the local platform's). */
export function orderWorkerDependencies(components: Components): OrderWorkerDependencies {
  const orders = orderComponents(components);
  const exchange = {
    instruments: () => components.marketData.instruments(),
    referencePrice: (token: number) => referencePriceOf(components.state, token),
  };
  return {
    orders: components.orders,
    breaker: orders.breaker,
    brokerFor: orders.brokerFor,
    queue: orders.queueControl,
    idempotencyStore: orders.idempotencyStore,
    clock: components.clock,
    retry: components.config.orders,
    logger: components.logger,
    defaultOwner: components.config.orders.defaultOwner,
    validate: (task) => exchangeIssues(exchange, task),
    slicePlan: async (task) => (await checkTask(exchange, task)).slices,
    onOrderChange: orderChangeNotifier(components.bus, components.logger),
  };
}

let built: Promise<OrderWorkerHandler> | undefined;

/**
 * The Lambda handler. Nothing happens at import; the first invocation builds the container's
 * components from the environment (SQS control, DynamoDB stores, brokers), later ones reuse them.
 */
export const handler: OrderWorkerHandler = async (event, context) => {
  built ??= processComponents('order-worker').then(
    (components) => {
      return orderWorkerHandler(orderWorkerDependencies(components));
    },
    (error: unknown) => {
      built = undefined;
      throw error;
    },
  );
  return (await built)(event, context);
};

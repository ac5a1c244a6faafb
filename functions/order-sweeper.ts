import type { ScheduledEvent } from 'aws-lambda';
import { staleAfterSeconds } from '../shared/domain/orders/stale-orders.js';
import {
  type Components,
  orderComponents,
  orderQueueVisibilityTimeoutSeconds,
  processComponents,
} from '../shared/wiring.js';
import { OrderSweeper, type OrderSweeperDependencies, type SweepResult } from './orders/order-sweeper.js';
import { type OrderPollResult, orderChangeNotifier, pollOpenOrders } from './orders/order-updates.js';

export type { SweepResult } from './orders/order-sweeper.js';

/**
 * The sweeper's dependencies from the composition root's components (the Lambda's and the local
 * platform's): the order records, the queue new orders go to, and the wait derived from that
 * queue's visibility timeout and the worker's retry and breaker delays.
 */
export function orderSweeperDependencies(components: Components): OrderSweeperDependencies {
  const { config } = components;
  return {
    orders: components.orders,
    queue: components.orderQueue,
    clock: components.clock,
    logger: components.logger,
    staleAfterSeconds: staleAfterSeconds({
      visibilityTimeoutSeconds: orderQueueVisibilityTimeoutSeconds(components),
      retry: config.orders,
      breakerRecoveryTimeoutSeconds: config.circuitBreaker.recoveryTimeoutSeconds,
    }),
  };
}

let built: Promise<{ sweeper: OrderSweeper; poll: () => Promise<OrderPollResult> }> | undefined;

/**
 * The Lambda handler, run by an EventBridge schedule: one sweep per invocation. Nothing happens at
 * import; the first invocation builds the components, later ones reuse them. A failed sweep
 * rejects, so the invocation shows as an error; the next schedule tries again.
 */
export const handler = async (_event: ScheduledEvent): Promise<SweepResult & { poll: OrderPollResult }> => {
  built ??= processComponents('order-sweeper').then(
    (components) => ({
      sweeper: new OrderSweeper(orderSweeperDependencies(components)),
      // The same run polls the open orders, so a missed postback is caught within a minute.
      poll: () =>
        pollOpenOrders({
          orders: components.orders,
          clock: components.clock,
          logger: components.logger,
          brokerFor: orderComponents(components).brokerFor,
          onOrderChange: orderChangeNotifier(components.bus, components.logger),
        }),
    }),
    (error: unknown) => {
      built = undefined;
      throw error;
    },
  );
  const { sweeper, poll } = await built;
  const swept = await sweeper.sweep();
  return { ...swept, poll: await poll() };
};

import { KiteOrder, kiteOrderState } from '../../shared/contracts/kite-order.js';
import type { BrokerOrderState } from '../../shared/domain/orders/broker-order.js';
import { brokerOrdersOf } from '../../shared/domain/orders/sliced-order.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { publishOrderUpdate } from '../../shared/order-updates.js';
import type { Broker, OpenOrder } from '../../shared/ports/broker.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { OrderRecord, OrderStore } from '../../shared/ports/orders.js';
import type { TickBus } from '../../shared/ports/tick-bus.js';

/**
 * Tells the owner's connections that a task's broker order changed (the fan-out delivers it). Best
 * effort: the change is stored already, and `GET /orders/{task_id}` shows it if the push is lost.
 */
export function orderChangeNotifier(bus: TickBus, logger: Logger): (record: OrderRecord) => void {
  return (record) => {
    publishOrderUpdate(bus, record).catch((error: unknown) =>
      logger.warn('Order update not pushed to its owner', { taskId: record.task.task_id, error: describeError(error) }),
    );
  };
}

/** What applying news about broker orders needs. */
export interface OrderUpdateDependencies {
  readonly orders: OrderStore;
  readonly clock: Clock;
  /** Told of every change (pushed to the owner's connections). */
  readonly onOrderChange?: (record: OrderRecord) => void;
}

/** What became of one update. */
export type OrderUpdateOutcome =
  /** Merged into its task's result. */
  | 'applied'
  /** Its task already knew as much (a repeat, or older news). */
  | 'unchanged'
  /** No task has the order yet: kept until the placement links it. */
  | 'held';

/**
 * Applies news about a broker order, whichever source brought it (a Kite postback, an order frame
 * on the ticker socket, a poll of the order book, the paper exchange): found by order id, merged
 * monotonically into its task's result, the owner told when it changed. An order the platform has
 * not linked yet (the news beat the placement's answer) is held for the link.
 */
export async function applyOrderUpdate(
  deps: OrderUpdateDependencies,
  update: BrokerOrderState,
): Promise<OrderUpdateOutcome> {
  const taskId = await deps.orders.holdBrokerUpdate(update);
  if (taskId === undefined) return 'held';
  const applied = await deps.orders.applyBrokerUpdate(taskId, update, deps.clock.now());
  if (applied === undefined) {
    // Linked, but the task has not recorded its result yet: the placement merges what was linked.
    return 'held';
  }
  if (!applied.changed) return 'unchanged';
  deps.onOrderChange?.(applied.record);
  return 'applied';
}

/** What the poll of open orders needs. */
export interface OrderPollDependencies extends OrderUpdateDependencies {
  /** The broker of an account (Kite's book, or the paper exchange). */
  readonly brokerFor: (accountId: string) => Broker;
  readonly logger: Logger;
  /** Open orders read per page. Default 100. */
  readonly pageSize?: number;
}

/** What one poll did. */
export interface OrderPollResult {
  readonly open: number;
  readonly applied: number;
  readonly failedAccounts: readonly string[];
}

/**
 * One pass over the orders still open: each account's broker is asked once for their state (Kite's
 * order book; the paper exchange matches them against the live price) and whatever changed is
 * applied. So a missed postback or frame never leaves a stale status, and resting paper orders
 * fill when the price crosses them. An account whose broker fails is logged and skipped: the next
 * poll tries again.
 */
export async function pollOpenOrders(deps: OrderPollDependencies): Promise<OrderPollResult> {
  const byAccount = new Map<string, OpenOrder[]>();
  let cursor: string | undefined;
  let open = 0;
  do {
    const page = await deps.orders.listOpenOrders({
      limit: deps.pageSize ?? 100,
      ...(cursor !== undefined && { cursor }),
    });
    for (const record of page.items) {
      // A sliced order is polled child by child, each as the order it is at the broker.
      const followed = brokerOrdersOf(record.task, record.result, { open: true });
      if (followed.length === 0) continue;
      const list = byAccount.get(record.task.account_id) ?? [];
      list.push(...followed);
      byAccount.set(record.task.account_id, list);
      open++;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);

  let applied = 0;
  const failedAccounts: string[] = [];
  for (const [accountId, orders] of byAccount) {
    try {
      for (const state of await deps.brokerFor(accountId).refresh(orders)) {
        if ((await applyOrderUpdate(deps, state)) === 'applied') applied++;
      }
    } catch (error) {
      failedAccounts.push(accountId);
      deps.logger.warn('Open orders of an account could not be refreshed; the next poll tries again', {
        accountId,
        orders: orders.length,
        error: describeError(error),
      });
    }
  }
  return { open, applied, failedAccounts };
}

/**
 * The handler of Kite's `{"type":"order"}` ticker frames: each is an order update like a postback
 * (without a checksum: the authenticated socket vouches for it), merged through
 * {@link applyOrderUpdate}. One that does not read as an order is logged and dropped; a failure to
 * apply it is logged too, since the poll will bring the same news.
 */
export function orderFrameHandler(
  deps: OrderUpdateDependencies & { readonly logger: Logger },
): (accountId: string, data: Readonly<Record<string, unknown>>) => void {
  return (accountId, data) => {
    const order = KiteOrder.safeParse(data);
    if (!order.success) {
      deps.logger.warn('Kite order frame not understood; the poll will bring the order', { accountId });
      return;
    }
    applyOrderUpdate(deps, kiteOrderState(order.data)).catch((error: unknown) =>
      deps.logger.warn('Kite order frame not applied; the poll will bring the order', {
        accountId,
        orderId: order.data.order_id,
        error: describeError(error),
      }),
    );
  };
}

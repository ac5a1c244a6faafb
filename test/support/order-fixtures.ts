import type { OrderTask } from '../../shared/contracts/order.js';

/** A valid place_order task; `overrides` replace top-level fields. */
export function placeOrderTask(
  taskId: string,
  overrides: Partial<Omit<OrderTask, 'operation' | 'params'>> = {},
): OrderTask {
  return {
    task_id: taskId,
    idempotency_key: `key-${taskId}`,
    account_id: 'ZX1234',
    operation: 'place_order',
    params: {
      variety: 'regular',
      exchange: 'NFO',
      tradingsymbol: 'NIFTY26JAN24000CE',
      transaction_type: 'BUY',
      quantity: 65,
      product: 'NRML',
      order_type: 'MARKET',
      validity: 'DAY',
      market_protection: -1,
    },
    submitted_at: '2025-01-08T09:15:00+05:30',
    ...overrides,
  };
}

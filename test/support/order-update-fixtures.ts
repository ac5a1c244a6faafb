import type { OrderRecord, OrderResult } from '../../shared/ports/orders.js';
import { placeOrderTask } from './order-fixtures.js';

/**
 * The record of a COMPLETED place_order task of `owner` (75 lots' worth of NIFTY options) whose
 * broker order is `result`: what the order worker hands to `onOrderChange`.
 */
export function orderRecordOf(
  taskId: string,
  owner: string | undefined,
  result: Partial<OrderResult> & Pick<OrderResult, 'status'>,
  updatedAt = Date.UTC(2025, 0, 8, 3, 46, 0),
): OrderRecord {
  return {
    task: placeOrderTask(taskId, owner === undefined ? {} : { owner }),
    status: 'COMPLETED',
    attempts: [{ attempt: 1, at: updatedAt - 1000 }],
    result: { orderId: `order-${taskId}`, paper: true, ...result },
    createdAt: updatedAt - 2000,
    updatedAt,
  };
}

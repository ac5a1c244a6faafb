import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { UnauthorizedError } from '../../shared/auth/errors.js';
import { KiteOrder, kiteOrderState } from '../../shared/contracts/kite-order.js';
import type { Components } from '../../shared/wiring.js';
import type { HttpUseCase } from '../http/http-handler.js';
import { applyOrderUpdate, orderChangeNotifier } from '../orders/order-updates.js';
import { parseJsonBody } from './request.js';

/** Kite's postback checksum: SHA-256 (hex) of order_id + order_timestamp + api_secret. */
export function postbackChecksum(orderId: string, orderTimestamp: string, apiSecret: string): string {
  return createHash('sha256').update(`${orderId}${orderTimestamp}${apiSecret}`).digest('hex');
}

/** Whether a postback's checksum was made with `apiSecret` (compared in constant time). */
export function verifyPostback(order: KiteOrder, apiSecret: string): boolean {
  const given = order.checksum ?? '';
  const expected = postbackChecksum(order.order_id, order.order_timestamp ?? '', apiSecret);
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** `POST /kite/postback` response. */
export const PostbackResponse = z.object({
  status: z.literal('ok'),
  /** `applied`: the order's task changed; `unchanged`: it knew as much; `held`: no task has the order yet. */
  outcome: z.enum(['applied', 'unchanged', 'held']),
});

/**
 * `POST /kite/postback`: Kite's order postback (the URL registered for the app). It carries no
 * token; its `checksum` (SHA-256 of order_id + order_timestamp + api_secret) proves it came from
 * Kite for one of the configured accounts, so a postback no account's secret verifies is a 401 and
 * changes nothing. A verified one is merged into its task like every other order update.
 */
export function kitePostbackUseCase(components: Components): HttpUseCase {
  const secrets = components.config.kite.accounts.flatMap((a) => (a.apiSecret === undefined ? [] : [a.apiSecret]));
  const notify = orderChangeNotifier(components.bus, components.logger);
  return async (event, { logger }) => {
    const { value: order } = parseJsonBody(event, KiteOrder);
    if (!secrets.some((secret) => verifyPostback(order, secret.reveal()))) {
      logger.warn('Kite postback refused: its checksum matches no configured account', { orderId: order.order_id });
      throw new UnauthorizedError('Postback checksum does not verify');
    }
    const outcome = await applyOrderUpdate(
      { orders: components.orders, clock: components.clock, onOrderChange: notify },
      kiteOrderState(order),
    );
    logger.info('Kite postback', { orderId: order.order_id, status: order.status, outcome });
    return { status: 200, body: { status: 'ok', outcome } satisfies z.infer<typeof PostbackResponse> };
  };
}

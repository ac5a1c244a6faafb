import { z } from 'zod';
import { InstrumentToken, IsoTimestamp } from './common.js';
import { OrderSliceView } from './order.js';
import { TickPayload, UnderlyingBar } from './tick.js';

/** Most tokens one message may name; a larger list is answered with an error frame. */
export const MAX_TOKENS_PER_MESSAGE = 1000;

const TokenList = z.array(InstrumentToken).min(1).max(MAX_TOKENS_PER_MESSAGE);

/** Client → server messages. API Gateway selects the route by `$request.body.action`. */
export const ClientMessage = z.discriminatedUnion('action', [
  z.object({ action: z.literal('subscribe'), tokens: TokenList }),
  z.object({ action: z.literal('unsubscribe'), tokens: TokenList }),
  z.object({ action: z.literal('ping') }),
  z.object({
    action: z.literal('configure'),
    delivery: z.enum(['tick', 'batch']),
    interval_ms: z.int().min(50).max(5000).optional(),
  }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** The authenticated user as the `connected` message describes it. */
export const ConnectedUser = z.object({
  user_id: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
});

/** First message on every connection. */
export const ConnectedMessage = z.object({
  type: z.literal('connected'),
  connection_id: z.string(),
  user: ConnectedUser,
});
export const SubscribedMessage = z.object({
  type: z.literal('subscribed'),
  tokens: z.array(InstrumentToken),
  total: z.int().nonnegative(),
});
export const UnsubscribedMessage = z.object({
  type: z.literal('unsubscribed'),
  tokens: z.array(InstrumentToken),
  total: z.int().nonnegative(),
});
export const TickMessage = z.object({ type: z.literal('tick'), data: TickPayload });
/** Batch delivery mode (opt-in): the latest tick per token since the previous flush. */
export const TicksMessage = z.object({ type: z.literal('ticks'), data: z.array(TickPayload) });
/** A bar of the underlying (`ticker:<underlying>:underlying`), for clients subscribed to the index token. */
export const BarMessage = z.object({ type: z.literal('bar'), data: UnderlyingBar });
/**
 * One change of an order, as Kite's own `{"type":"order"}` frames report it (snake_case, Kite's
 * statuses), with the order task it belongs to. Sent after every change, to the owner's
 * connections only; updates from different sources (the worker, postbacks, the order book) may
 * arrive out of order, so a client keeps the one with the latest `updated_at`.
 */
export const OrderUpdate = z.object({
  /** The order task whose broker order this is. */
  task_id: z.string(),
  order_id: z.string(),
  /** Kite's status: OPEN, TRIGGER PENDING, COMPLETE, CANCELLED, REJECTED, or a transient one. */
  status: z.string(),
  filled_quantity: z.int().nonnegative(),
  /** What is left to fill; 0 once the order is finished, null while the quantity is not known. */
  pending_quantity: z.int().nonnegative().nullable(),
  /** Absent until there is a fill. */
  average_price: z.number().optional(),
  status_message: z.string().nullable(),
  /** When the platform recorded the change. */
  updated_at: IsoTimestamp,
  /** A sliced order: each child (the fields above are their aggregate). */
  slices: z.array(OrderSliceView).optional(),
});
export type OrderUpdate = z.infer<typeof OrderUpdate>;
/** An update of one of the connection's user's orders. */
export const OrderMessage = z.object({ type: z.literal('order'), data: OrderUpdate });
export type OrderMessage = z.infer<typeof OrderMessage>;
export const ErrorMessage = z.object({ type: z.literal('error'), message: z.string() });
export const PongMessage = z.object({ type: z.literal('pong') });
export const ConfiguredMessage = z.object({
  type: z.literal('configured'),
  delivery: z.enum(['tick', 'batch']),
  interval_ms: z.int().nullable(),
});

/** Every server → client message (TC-REG-030). */
export const ServerMessage = z.discriminatedUnion('type', [
  ConnectedMessage,
  SubscribedMessage,
  UnsubscribedMessage,
  TickMessage,
  TicksMessage,
  BarMessage,
  OrderMessage,
  ErrorMessage,
  PongMessage,
  ConfiguredMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Error texts the protocol fixes (docs/test-plan-index.md, "WebSocket"). */
export const WsErrorText = {
  invalidJson: 'Invalid JSON',
  unknownAction: 'Unknown action',
} as const;

import { z } from 'zod';
import { InstrumentToken } from './common.js';
import { ConnectedUser } from './websocket.js';

/**
 * The connection's tokens after a subscribe or unsubscribe, as the store numbered the change: the
 * fan-out keeps the highest version it heard of (events of concurrent handlers arrive in any
 * order) and confirms the action to the client itself, behind the ticks it already queued. Absent
 * in events of earlier versions, which changed the fan-out by the action's tokens alone.
 */
const TokenState = {
  version: z.int().nonnegative().optional(),
  /** Every token the connection wants after the change. */
  all: z.array(InstrumentToken).optional(),
  /** `all`'s length: the `total` of the client's confirmation. */
  total: z.int().nonnegative().optional(),
};

/**
 * What the WebSocket handlers tell the fan-out on `control:connections`: the handlers run in
 * Lambda (they cannot hold sockets), the fan-out holds the per-connection state and posts.
 */
export const ConnectionEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('connected'), connection_id: z.string(), user: ConnectedUser }),
  z.object({
    type: z.literal('subscribed'),
    connection_id: z.string(),
    tokens: z.array(InstrumentToken),
    ...TokenState,
  }),
  z.object({
    type: z.literal('unsubscribed'),
    connection_id: z.string(),
    tokens: z.array(InstrumentToken),
    ...TokenState,
  }),
  z.object({
    type: z.literal('configured'),
    connection_id: z.string(),
    delivery: z.enum(['tick', 'batch']),
    interval_ms: z.int().positive().nullable(),
  }),
  z.object({ type: z.literal('disconnected'), connection_id: z.string() }),
]);
export type ConnectionEvent = z.infer<typeof ConnectionEvent>;

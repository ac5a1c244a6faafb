import { z } from 'zod';
import { InstrumentToken } from './common.js';
import { ConnectedUser } from './websocket.js';

/**
 * What the WebSocket handlers tell the fan-out on `control:connections`: the handlers run in
 * Lambda (they cannot hold sockets), the fan-out holds the per-connection state and posts.
 */
export const ConnectionEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('connected'), connection_id: z.string(), user: ConnectedUser }),
  z.object({ type: z.literal('subscribed'), connection_id: z.string(), tokens: z.array(InstrumentToken) }),
  z.object({ type: z.literal('unsubscribed'), connection_id: z.string(), tokens: z.array(InstrumentToken) }),
  z.object({
    type: z.literal('configured'),
    connection_id: z.string(),
    delivery: z.enum(['tick', 'batch']),
    interval_ms: z.int().positive().nullable(),
  }),
  z.object({ type: z.literal('disconnected'), connection_id: z.string() }),
]);
export type ConnectionEvent = z.infer<typeof ConnectionEvent>;

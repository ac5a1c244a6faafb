import { z } from 'zod';

/** A Kite instrument token: a positive integer (the low byte is the exchange segment). */
export const InstrumentToken = z.int().positive().max(0xffff_ffff);

/** An ISO 8601 timestamp with a zone designator, as every client-facing timestamp is sent. */
export const IsoTimestamp = z.iso.datetime({ offset: true });

/** Streaming modes Kite offers, as clients name them. */
export const SubscriptionMode = z.enum(['FULL', 'QUOTE', 'LTP']);
export type SubscriptionMode = z.infer<typeof SubscriptionMode>;

/** Whether a subscription is being streamed; deletes are soft and leave it `inactive`. */
export const SubscriptionStatus = z.enum(['active', 'inactive']);
export type SubscriptionStatus = z.infer<typeof SubscriptionStatus>;

/**
 * The one error body every REST failure returns: a stable machine code, a human message and, for
 * validation errors, the field paths that are wrong; for a missing role, the role needed.
 */
export const ApiErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** A 403 for want of a role: the role the route needs (viewer, trader or admin). */
    required_role: z.enum(['viewer', 'trader', 'admin']).optional(),
  }),
});
export type ApiErrorResponse = z.infer<typeof ApiErrorResponse>;

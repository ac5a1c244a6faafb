import { z } from 'zod';
import { InstrumentToken, IsoTimestamp, SubscriptionMode, SubscriptionStatus } from './common.js';

/** One subscription as `GET /subscriptions` returns it. Frozen by TC-REG-001. */
export const Subscription = z.object({
  instrument_token: InstrumentToken,
  tradingsymbol: z.string(),
  segment: z.string(),
  status: SubscriptionStatus,
  requested_mode: SubscriptionMode,
  account_id: z.string().nullable(),
  created_at: IsoTimestamp,
  updated_at: IsoTimestamp,
});
export type Subscription = z.infer<typeof Subscription>;

/** `GET /subscriptions` body (TC-REG-001). `next_cursor` is an addition for pagination. */
export const SubscriptionListResponse = z.object({
  subscriptions: z.array(Subscription),
  next_cursor: z.string().nullable().optional(),
});
export type SubscriptionListResponse = z.infer<typeof SubscriptionListResponse>;

/** `POST /subscriptions` request body. */
export const CreateSubscriptionRequest = z.object({
  instrument_token: InstrumentToken,
  mode: SubscriptionMode.default('FULL'),
});
export type CreateSubscriptionRequest = z.infer<typeof CreateSubscriptionRequest>;

/** `POST /subscriptions` response, status 200. Frozen by TC-REG-002. */
export const CreateSubscriptionResponse = z.object({
  message: z.literal('Subscription created'),
  instrument_token: InstrumentToken,
});
export type CreateSubscriptionResponse = z.infer<typeof CreateSubscriptionResponse>;

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

/** `PATCH /subscriptions/{token}` request body: the fields to change, at least one. */
export const UpdateSubscriptionRequest = z
  .strictObject({
    status: SubscriptionStatus.optional(),
    mode: SubscriptionMode.optional(),
    account_id: z.string().min(1).max(64).nullable().optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), {
    message: 'name at least one of status, mode, account_id',
  });
export type UpdateSubscriptionRequest = z.infer<typeof UpdateSubscriptionRequest>;

/** `PATCH /subscriptions/{token}` response: the subscription as it now is. */
export const SubscriptionResponse = z.object({ subscription: Subscription });
export type SubscriptionResponse = z.infer<typeof SubscriptionResponse>;

/** `DELETE /subscriptions/{token}` response: the soft-deleted subscription, now `inactive`. */
export const DeleteSubscriptionResponse = z.object({
  message: z.literal('Subscription deactivated'),
  instrument_token: InstrumentToken,
  subscription: Subscription,
});
export type DeleteSubscriptionResponse = z.infer<typeof DeleteSubscriptionResponse>;

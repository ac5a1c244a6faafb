import { z } from 'zod';

/** `GET /health` body. Frozen by TC-REG-004; `reasons` is an addition that says why it is degraded. */
export const HealthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  environment: z.string(),
  ticker: z.object({
    running: z.boolean(),
    active_subscriptions: z.int().nonnegative(),
    accounts: z.record(z.string(), z.unknown()),
  }),
  dependencies: z.object({
    redis: z.string(),
    database: z.string(),
    instrument_registry: z.record(z.string(), z.unknown()),
  }),
  reasons: z.array(z.string()).optional(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

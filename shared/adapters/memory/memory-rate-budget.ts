import { RateLimiterMemory } from 'rate-limiter-flexible';
import { FlexibleRateBudget, type FlexibleRateBudgetOptions } from '../flexible-rate-budget.js';

/**
 * The {@link RateBudget} of one process (`npm start`, tests): `rate-limiter-flexible`'s in-memory
 * counters behind the same windows as the Redis adapter, so one machine keeps Kite's limits the
 * way the cloud does. Processes do not share it: more than one process calling Kite for one
 * account needs the Redis adapter.
 */
export class MemoryRateBudget extends FlexibleRateBudget {
  constructor(options: FlexibleRateBudgetOptions) {
    super(
      options,
      ({ keyPrefix, points, durationSec }) => new RateLimiterMemory({ keyPrefix, points, duration: durationSec }),
    );
  }
}

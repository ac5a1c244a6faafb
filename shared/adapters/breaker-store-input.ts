import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { type BreakerRecord, BreakerState } from '../ports/circuit-breaker-store.js';

/** The breaker stores' shared rules: what a record must look like, and the state of a key never written. */

const BreakerStateRecord = z
  .object({
    key: z.string().min(1).max(1024),
    state: z.enum([BreakerState.closed, BreakerState.open, BreakerState.halfOpen]),
    consecutiveFailures: z.int().min(0),
    openedAt: z.number().nullable(),
    halfOpenCalls: z.int().min(0),
  })
  .refine((r) => r.state === BreakerState.closed || r.openedAt !== null, {
    message: 'openedAt is required when OPEN or HALF_OPEN',
    path: ['openedAt'],
  });

/** A record to write, checked; throws {@link ValidationError} naming each wrong field. */
export function parseBreakerRecord(record: Omit<BreakerRecord, 'version'>): Omit<BreakerRecord, 'version'> {
  const parsed = BreakerStateRecord.safeParse(record);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new ValidationError(
    `Invalid breaker record: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
    details,
    {
      cause: parsed.error,
    },
  );
}

/** The state of a breaker that was never written: CLOSED at version 0. */
export function closedBreaker(key: string): BreakerRecord {
  return { key, state: BreakerState.closed, consecutiveFailures: 0, openedAt: null, halfOpenCalls: 0, version: 0 };
}

import { z } from 'zod';
import { InstrumentToken } from '../contracts/common.js';
import { ValidationError } from '../errors.js';

/**
 * Input rules both connection stores apply, so they accept and reject exactly the same calls.
 */

/**
 * Ids may not start with this: earlier versions of the DynamoDB store kept token index items under
 * it in the connections table, and those may stay there until TTL removes them.
 */
export const RESERVED_PREFIX = 'token#';

const notReserved = (value: string) => !value.startsWith(RESERVED_PREFIX);
const reservedMessage = `must not start with ${RESERVED_PREFIX}`;

/** A connection id: API Gateway's are 16 characters; the bound keeps keys far below DynamoDB's. */
export const ConnectionId = z.string().min(1).max(512).refine(notReserved, reservedMessage);
/** Tokens of one call: more than one Kite connection carries, fewer than a runaway loop sends. */
export const Tokens = z.array(InstrumentToken).max(10_000);
export const Delivery = z.enum(['tick', 'batch']);
export const BatchIntervalMs = z.int().positive().nullable();

/** A record as `put` accepts it. */
export const ConnectionRecordInput = z.object({
  connectionId: ConnectionId,
  userId: z.string().min(1).max(512).refine(notReserved, reservedMessage),
  email: z.string().nullable(),
  name: z.string().nullable(),
  tokens: Tokens,
  delivery: Delivery,
  batchIntervalMs: BatchIntervalMs,
  connectedAt: z.int().nonnegative(),
  expiresAt: z.int().positive(),
});

/** `value` checked against `schema`; a `ValidationError` naming each wrong field otherwise. */
export function parseConnectionInput<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: [path, ...issue.path.map(String)].filter((p) => p !== '').join('.'),
    message: issue.message,
  }));
  throw new ValidationError(`Invalid ${path}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details, {
    cause: result.error,
  });
}

/** Ascending and without repeats: the order every store returns token lists in. */
export function normaliseTokens(tokens: Iterable<number>): number[] {
  return [...new Set(tokens)].sort((a, b) => a - b);
}

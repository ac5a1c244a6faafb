import { z } from 'zod';
import { InstrumentToken, SubscriptionStatus } from '../../shared/contracts/common.js';
import { InstrumentType } from '../../shared/contracts/instrument.js';
import { MAX_QUOTE_TOKENS } from '../../shared/contracts/market-snapshot.js';

/**
 * Request schemas of the REST API: path and query parameters arrive as strings, so these parse
 * strings into the typed values the use cases take. The handlers validate with them and the
 * OpenAPI document is generated from them, so the two cannot drift.
 */

/** A decimal whole number in a path or query string, e.g. `256265`. */
const decimal = z
  .string()
  .regex(/^\d{1,10}$/, { message: 'must be a positive whole number' })
  .transform(Number);

/** An instrument token as a path or query parameter. */
export const TokenParam = decimal
  .pipe(InstrumentToken)
  .meta({ description: 'Kite instrument token', example: '256265' });

/** `{token}` path parameter. */
export const TokenPath = z.object({ token: TokenParam });

/** A page size: 1–1000, default 100. */
const Limit = decimal
  .pipe(z.int().min(1, { message: 'must be at least 1' }).max(1000, { message: 'must be at most 1000' }))
  .optional()
  .meta({ description: 'Page size, 1-1000 (default 100)' });

/** An opaque cursor from the previous page's `next_cursor`. */
const Cursor = z.string().min(1).max(512).optional().meta({ description: "The previous page's next_cursor" });

/** `GET /subscriptions` query. */
export const ListSubscriptionsQuery = z.object({
  status: SubscriptionStatus.optional().meta({ description: 'Only subscriptions with this status' }),
  limit: Limit,
  cursor: Cursor,
});

/** `GET /instruments` query. */
export const ListInstrumentsQuery = z.object({
  q: z.string().max(64).optional().meta({ description: 'Case-insensitive part of the tradingsymbol' }),
  underlying: z.string().max(32).optional().meta({ description: 'Underlying name, e.g. NIFTY' }),
  expiry: z.iso.date({ message: 'must be a date as YYYY-MM-DD' }).optional(),
  type: InstrumentType.optional(),
  limit: Limit,
  cursor: Cursor,
});

/** `GET /quotes` query: comma-separated tokens, at most {@link MAX_QUOTE_TOKENS}. */
export const QuotesQuery = z.object({
  tokens: z
    .string()
    .regex(/^\d{1,10}(,\d{1,10})*$/, { message: 'must be comma-separated instrument tokens, e.g. 256265,12345' })
    .transform((s) => [...new Set(s.split(',').map(Number))])
    .pipe(z.array(InstrumentToken).max(MAX_QUOTE_TOKENS, { message: `must name at most ${MAX_QUOTE_TOKENS} tokens` }))
    .meta({ description: `Comma-separated instrument tokens, 1-${MAX_QUOTE_TOKENS}`, example: '256265,12345' }),
});

/** `GET /chain` query. */
export const ChainQuery = z.object({
  underlying: z.string().min(1).max(32).meta({ description: 'Underlying name, e.g. NIFTY', example: 'NIFTY' }),
  expiry: z.iso
    .date({ message: 'must be a date as YYYY-MM-DD' })
    .optional()
    .meta({ description: 'Expiry date; the nearest listed expiry when absent' }),
});

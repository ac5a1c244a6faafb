import { z } from 'zod';
import { InstrumentToken, SubscriptionMode, SubscriptionStatus } from '../contracts/common.js';
import { ValidationError } from '../errors.js';
import type { StoredSubscription, SubscriptionUpsert } from '../ports/subscription-store.js';

/**
 * The input rules and the cursor format every {@link SubscriptionStore} adapter shares, so the
 * memory store and the DynamoDB store accept and reject exactly the same calls (the contract suite
 * checks both). Nothing here touches the AWS SDK: the memory store imports it without pulling the
 * SDK in.
 */

/** The largest page `list` returns: bounds the work (and the DynamoDB read units) of one call. */
export const MAX_LIST_LIMIT = 1000;

/** A subscription as `upsert` receives it. */
export type SubscriptionInput = SubscriptionUpsert;

/** The fields `update` may change. */
export type SubscriptionChanges = Partial<Pick<StoredSubscription, 'status' | 'requestedMode' | 'accountId'>>;

/** The filter of a listing, as a cursor records it: a status, or every record. */
export type ListFilter = SubscriptionStatus | 'all';

const AccountId = z.string().min(1).nullable();
const EpochMs = z.int().nonnegative();

const UpsertInput = z.object({
  instrumentToken: InstrumentToken,
  tradingsymbol: z.string().min(1),
  segment: z.string().min(1),
  status: SubscriptionStatus,
  requestedMode: SubscriptionMode,
  accountId: AccountId,
  keep: z.array(z.enum(['requestedMode', 'accountId'])).optional(),
});

const Changes = z.object({
  status: SubscriptionStatus.optional(),
  requestedMode: SubscriptionMode.optional(),
  accountId: AccountId.optional(),
});

const ListQuery = z.object({
  status: SubscriptionStatus.optional(),
  limit: z.int().min(1).max(MAX_LIST_LIMIT),
  cursor: z.string().optional(),
});

/** What a cursor carries: the filter it was issued for and the last token of its page. */
const CursorPayload = z.strictObject({ f: z.enum(['all', ...SubscriptionStatus.options]), t: InstrumentToken });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string, prefix?: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || what,
    message: issue.message,
  }));
  throw new ValidationError(`Invalid ${what}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details, {
    cause: result.error,
  });
}

/** The upsert input, checked; throws {@link ValidationError} naming each wrong field. */
export function parseSubscriptionInput(subscription: SubscriptionInput): SubscriptionInput {
  return parse(UpsertInput, subscription, 'subscription');
}

/**
 * The changes of an `update`, checked, with `undefined` entries dropped: a key present with an
 * `undefined` value means "leave it", as it does for a spread object.
 */
export function parseChanges(changes: SubscriptionChanges): SubscriptionChanges {
  const parsed = parse(Changes, changes, 'changes');
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)) as SubscriptionChanges;
}

/** A token, checked: a positive integer below 2³², as Kite issues them. */
export function parseToken(instrumentToken: number): number {
  return parse(InstrumentToken, instrumentToken, 'instrumentToken', 'instrumentToken');
}

/** A write time, checked: whole epoch milliseconds, never negative. */
export function parseNow(nowMs: number): number {
  return parse(EpochMs, nowMs, 'nowMs', 'nowMs');
}

/** A listing query, checked, with its filter and the token its cursor says to start after. */
export function parseListQuery(query: { status?: SubscriptionStatus; limit: number; cursor?: string }): {
  readonly filter: ListFilter;
  readonly status: SubscriptionStatus | undefined;
  readonly limit: number;
  readonly afterToken: number | undefined;
} {
  const parsed = parse(ListQuery, query, 'list query');
  const filter: ListFilter = parsed.status ?? 'all';
  const afterToken = parsed.cursor === undefined ? undefined : decodeCursor(parsed.cursor, filter);
  return { filter, status: parsed.status, limit: parsed.limit, afterToken };
}

/**
 * The cursor after a page ending at `lastToken`: base64url of `{"f":filter,"t":lastToken}`. It is
 * opaque to callers but not secret (it only says where a listing stopped); it names its filter so
 * that a cursor from one filter is refused by another instead of silently skipping records.
 */
export function encodeCursor(filter: ListFilter, lastToken: number): string {
  return Buffer.from(JSON.stringify({ f: filter, t: lastToken })).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function cursorError(message: string, cause?: unknown): ValidationError {
  return new ValidationError(`Invalid cursor: ${message}`, [{ path: 'cursor', message }], { cause });
}

/** The token a cursor starts after; throws {@link ValidationError} (path `cursor`) unless `filter` issued it. */
export function decodeCursor(cursor: string, filter: ListFilter): number {
  // Buffer's decoder skips characters outside the alphabet; insist on the canonical form instead.
  if (!BASE64URL.test(cursor)) throw cursorError('not a cursor this store issued');
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw cursorError('not a cursor this store issued', error);
  }
  const payload = CursorPayload.safeParse(json);
  if (!payload.success || encodeCursor(payload.data.f, payload.data.t) !== cursor) {
    throw cursorError('not a cursor this store issued', payload.error);
  }
  if (payload.data.f !== filter) {
    throw cursorError(`issued for status ${payload.data.f}, used with status ${filter}`);
  }
  return payload.data.t;
}

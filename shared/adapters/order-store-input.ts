import { z } from 'zod';
import { OrderTask, OrderTaskStatus } from '../contracts/order.js';
import { ValidationError } from '../errors.js';

/**
 * Input rules the order stores share, so the memory and DynamoDB stores accept and reject the same
 * things and issue the same cursors.
 */

/** The most dead letters one page returns. */
export const MAX_DEAD_LETTER_PAGE = 1000;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const CursorPayload = z.object({ e: z.string().nullable(), u: z.number(), t: z.string() });

function invalid(what: string, details: { path: string; message: string }[], cause?: unknown): ValidationError {
  return new ValidationError(`Invalid ${what}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details, {
    cause,
  });
}

/** The task, checked against the contract; throws {@link ValidationError} naming each wrong field. */
export function parseOrderTask(task: OrderTask): OrderTask {
  const parsed = OrderTask.safeParse(task);
  if (parsed.success) return parsed.data;
  throw invalid(
    'order task',
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    parsed.error,
  );
}

/** A dead-letter query, checked. */
export function parseDeadLetterQuery(query: { errorType?: string; limit: number; cursor?: string }): {
  readonly errorType: string | undefined;
  readonly limit: number;
  readonly cursor: string | undefined;
} {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_DEAD_LETTER_PAGE) {
    throw invalid('dead-letter query', [
      { path: 'limit', message: `must be a whole number 1-${MAX_DEAD_LETTER_PAGE}` },
    ]);
  }
  if (query.errorType !== undefined && query.errorType.length === 0) {
    throw invalid('dead-letter query', [{ path: 'error_type', message: 'must not be empty' }]);
  }
  return { errorType: query.errorType, limit: query.limit, cursor: query.cursor };
}

/** The cursor of a dead-letter page ending at (`updatedAt`, `taskId`), for the `errorType` filter. */
export function encodeDeadLetterCursor(errorType: string | undefined, updatedAt: number, taskId: string): string {
  return Buffer.from(JSON.stringify({ e: errorType ?? null, u: updatedAt, t: taskId })).toString('base64url');
}

function cursorError(message: string, cause?: unknown): ValidationError {
  return new ValidationError(`Invalid cursor: ${message}`, [{ path: 'cursor', message }], { cause });
}

/** Where a dead-letter cursor resumes; throws {@link ValidationError} (path `cursor`) unless this filter issued it. */
export function decodeDeadLetterCursor(
  cursor: string,
  errorType: string | undefined,
): { readonly updatedAt: number; readonly taskId: string } {
  if (!BASE64URL.test(cursor)) throw cursorError('not a cursor this store issued');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw cursorError('not a cursor this store issued', error);
  }
  const payload = CursorPayload.safeParse(json);
  if (
    !payload.success ||
    encodeDeadLetterCursor(payload.data.e ?? undefined, payload.data.u, payload.data.t) !== cursor
  ) {
    throw cursorError('not a cursor this store issued', payload.error);
  }
  if (payload.data.e !== (errorType ?? null)) {
    throw cursorError(`issued for error type ${payload.data.e ?? 'any'}, used with ${errorType ?? 'any'}`);
  }
  return { updatedAt: payload.data.u, taskId: payload.data.t };
}

/** The most records one `listStale` call returns. */
export const MAX_STALE_PAGE = 1000;

/** A stale-record query, checked. */
export function parseStaleQuery(query: {
  statuses: readonly OrderTaskStatus[];
  updatedBefore: number;
  limit: number;
}): { readonly statuses: readonly OrderTaskStatus[]; readonly updatedBefore: number; readonly limit: number } {
  const problems: { path: string; message: string }[] = [];
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_STALE_PAGE) {
    problems.push({ path: 'limit', message: `must be a whole number 1-${MAX_STALE_PAGE}` });
  }
  if (!Number.isFinite(query.updatedBefore)) problems.push({ path: 'updatedBefore', message: 'must be a time' });
  if (query.statuses.length === 0 || !query.statuses.every((s) => OrderTaskStatus.safeParse(s).success)) {
    problems.push({ path: 'statuses', message: 'must name one or more order statuses' });
  }
  if (problems.length > 0) throw invalid('stale-record query', problems);
  return { statuses: [...new Set(query.statuses)], updatedBefore: query.updatedBefore, limit: query.limit };
}

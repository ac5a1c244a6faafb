import type { z } from 'zod';
import { DependencyUnavailableError, describeError, PlatformError } from '../../errors.js';

/*
 * What every DynamoDB adapter does the same way: report a failed call, and decode a stored item
 * without guessing at one that does not fit its shape.
 */

/** A failed DynamoDB call as the platform reports it; our own errors pass through unchanged. */
export function dynamoDbFailure(table: string, operation: string, error: unknown): PlatformError {
  if (error instanceof PlatformError) return error;
  return new DependencyUnavailableError(
    'dynamodb',
    `DynamoDB ${operation} on ${table} failed: ${describeError(error)}`,
    {
      cause: error,
    },
  );
}

/** Runs one DynamoDB call; a failure rejects as {@link dynamoDbFailure}. */
export async function sendToDynamoDb<T>(table: string, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw dynamoDbFailure(table, operation, error);
  }
}

/** A stored item of `table` decoded with `schema`; one that does not fit is reported as a dependency fault. */
export function decodeItem<T>(schema: z.ZodType<T>, item: unknown, what: string, table: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    throw new DependencyUnavailableError(
      'dynamodb',
      `DynamoDB returned a malformed ${what} item from ${table}: ${parsed.error.message}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

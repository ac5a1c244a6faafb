import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { PayloadTooLargeError } from '../http/errors.js';

/**
 * Reading requests: every input goes through a zod schema (the same one the OpenAPI document is
 * generated from), and every rejection is a `ValidationError` naming the field paths, so bad input
 * is a 400 with details and never reaches a use case, let alone a 500.
 */

/** Largest JSON body the REST API reads; its bodies are a few fields, so more is a mistake or abuse. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

/** Field paths (dotted, e.g. `instrument_token`) and messages of a zod error, for the error body's `details`. */
export function issueDetails(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

function validationError(what: string, error: z.ZodError): ValidationError {
  const details = issueDetails(error);
  return new ValidationError(`Invalid ${what}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details, {
    cause: error,
  });
}

/** Parses `value` with `schema` or throws a `ValidationError` about `what`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(what, result.error);
  return result.data;
}

/** The query string parameters, validated. */
export function parseQuery<S extends z.ZodType>(event: APIGatewayProxyEventV2, schema: S): z.output<S> {
  return parseWith(schema, event.queryStringParameters ?? {}, 'query parameters');
}

/** The path parameters, validated. */
export function parsePath<S extends z.ZodType>(event: APIGatewayProxyEventV2, schema: S): z.output<S> {
  return parseWith(schema, event.pathParameters ?? {}, 'path parameters');
}

/**
 * The JSON body, validated. Returns the raw object as well, so a use case can tell a field that was
 * left out from one that was given its default value.
 */
export function parseJsonBody<S extends z.ZodType>(
  event: APIGatewayProxyEventV2,
  schema: S,
): { value: z.output<S>; raw: Record<string, unknown> } {
  const text = event.body === undefined ? '' : event.isBase64Encoded ? decode(event.body) : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_JSON_BODY_BYTES) {
    throw new PayloadTooLargeError(`Request body exceeds ${MAX_JSON_BODY_BYTES} bytes`);
  }
  if (text.trim() === '') {
    throw new ValidationError('Request body is required', [{ path: '(body)', message: 'must be a JSON object' }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError('Malformed JSON in request body', [{ path: '(body)', message: 'is not valid JSON' }], {
      cause: error,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError('Request body must be a JSON object', [{ path: '(body)', message: 'must be an object' }]);
  }
  return { value: parseWith(schema, json, 'request body'), raw: json as Record<string, unknown> };
}

function decode(body: string): string {
  return Buffer.from(body, 'base64').toString('utf8');
}

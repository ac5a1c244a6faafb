import type { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { ApiErrorResponse } from '../../shared/contracts/common.js';
import type { HttpUseCase } from '../http/http-handler.js';
import type { RouteAccess } from './protected.js';

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the REST API, generated from the same zod
 * schemas the handlers validate requests with and the contract tests hold responses to, so the
 * document cannot drift from what the API does.
 */

/** How one route is described: its inputs and its success responses. Errors are added for all. */
export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  readonly query?: z.ZodObject;
  readonly path?: z.ZodObject;
  readonly body?: z.ZodType;
  /** Success responses by status: a description and the JSON body's schema. */
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema: z.ZodType }>>;
}

/** A documented route: API Gateway's method and path, its function's module, who may call it, and its description. */
export interface DocumentedRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  /** The function's module (`functions/http-orders-get.ts`): its name is the operation's id (`ordersGet`). */
  readonly entry?: string;
  /** `public` (no credentials: `/health`, `/openapi.json`, Kite's postback) or the role it needs. */
  readonly access: RouteAccess;
  readonly doc?: RouteDoc;
}

/** `functions/http-orders-dead-letter-list.ts` → `ordersDeadLetterList`: unique as the modules are. */
export function operationIdOf(route: DocumentedRoute): string {
  const base =
    route.entry === undefined
      ? `${route.method} ${route.path}`
      : route.entry
          .replace(/^.*\//, '')
          .replace(/^http-/, '')
          .replace(/\.ts$/, '');
  return base
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part, i) => (i === 0 ? part.toLowerCase() : part[0]?.toUpperCase() + part.slice(1).toLowerCase()))
    .join('');
}

const ERRORS: Readonly<Record<number, string>> = {
  400: 'The request is invalid: malformed JSON, a wrong type, a value out of range (details name the fields)',
  401: 'No credentials: send x-api-key or Authorization: Bearer <token>',
  403: 'The credentials are not valid, or the caller lacks the role the route needs (required_role names it)',
  404: 'Not found',
  413: 'The request body is too large',
  429: "Too many requests (the caller's budget, or the gateway's throttle): retry after the Retry-After header",
  500: 'An error of the platform',
  503: 'A dependency (database, registry, market data) is unavailable: retry later',
};

function errorResponses(doc: RouteDoc, access: RouteAccess): ZodOpenApiOperationObject['responses'] {
  // A public route needs no credentials, but the gateway's throttle still applies to it.
  const statuses = access === 'public' ? [429, 500, 503] : [400, 401, 403, 404, 429, 500, 503];
  if (doc.body !== undefined) statuses.push(413);
  const responses: ZodOpenApiOperationObject['responses'] = {};
  for (const status of statuses) {
    const response: ZodOpenApiResponseObject = {
      description: ERRORS[status] ?? 'Error',
      content: { 'application/json': { schema: ApiErrorResponse } },
    };
    if (status === 429)
      response.headers = { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } } };
    responses[`${status}` as `4${string}`] = response;
  }
  return responses;
}

/** Builds the document for `routes` (the route table); routes without a `doc` are left out. */
export function openApiDocument(routes: readonly DocumentedRoute[]): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const doc = route.doc;
    if (doc === undefined) continue;
    const open = route.access === 'public';
    const needs = open
      ? 'No credentials needed.'
      : `Needs the ${route.access} role (viewer < trader < admin); without it a 403 names the role.`;
    const operation: ZodOpenApiOperationObject = {
      operationId: operationIdOf(route),
      summary: doc.summary,
      description: doc.description === undefined ? needs : `${needs}\n\n${doc.description}`,
      'x-required-role': open ? null : route.access,
      ...(open ? { security: [] } : {}),
      ...((doc.query !== undefined || doc.path !== undefined) && {
        requestParams: {
          ...(doc.query !== undefined && { query: doc.query }),
          ...(doc.path !== undefined && { path: doc.path }),
        },
      }),
      ...(doc.body !== undefined && {
        requestBody: { required: true, content: { 'application/json': { schema: doc.body } } },
      }),
      responses: {
        ...Object.fromEntries(
          Object.entries(doc.responses).map(([status, response]) => [
            status,
            { description: response.description, content: { 'application/json': { schema: response.schema } } },
          ]),
        ),
        ...errorResponses(doc, route.access),
      },
    };
    const item = paths[route.path] ?? {};
    paths[route.path] = item;
    item[route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'] = operation;
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Ticker platform REST API',
      version: '1.0.0',
      description:
        'Subscriptions, instruments, quotes, option chains, history with Greeks, orders and health of the ' +
        'NIFTY/BANKNIFTY options platform. Each operation states the role it needs in x-required-role: viewer ' +
        "(streaming and market data), trader (adds the caller's own orders) or admin (adds the pinned " +
        'subscription set, every order and the dead letters); each role includes the ones before it.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    // The document is served by the API it describes: paths are relative to where it was fetched.
    servers: [{ url: '/', description: 'This deployment (the origin serving this document)' }],
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    paths,
  });
}

/** The `GET /openapi.json` use case: the document is built once, on first request. */
export function openApiUseCase(routes: () => readonly DocumentedRoute[]): HttpUseCase {
  let document: ReturnType<typeof createDocument> | undefined;
  return async () => {
    document ??= openApiDocument(routes());
    return { status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } };
  };
}
